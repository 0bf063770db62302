package aws

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/pool"
	"github.com/kelp-dev/kelp/internal/testenv"
)

// hookServer answers the lifecycle hook actions of Auto Scaling's query
// protocol as AWS does, with canned state: the adapter is tested through
// the SDK's real serialization. A request's form is kept per action.
type hookServer struct {
	mu        sync.Mutex
	forms     map[string][]url.Values
	throttles int // the next throttles requests are answered Throttling
}

func (s *hookServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	action := r.PostForm.Get("Action")
	s.mu.Lock()
	s.forms[action] = append(s.forms[action], r.PostForm)
	throttled := s.throttles > 0
	if throttled {
		s.throttles--
	}
	s.mu.Unlock()
	fail := func(status int, code, msg string) {
		w.WriteHeader(status)
		fmt.Fprintf(w, `<ErrorResponse xmlns="%s"><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>r</RequestId></ErrorResponse>`, asNamespace, code, msg)
	}
	switch {
	case throttled:
		fail(http.StatusBadRequest, "Throttling", "Rate exceeded")
	case action == "DescribeLifecycleHooks" && r.PostForm.Get("AutoScalingGroupName") == "missing":
		fail(http.StatusBadRequest, "ValidationError", "Group missing not found")
	case action == "DescribeLifecycleHooks":
		respond(w, action, `<LifecycleHooks><member><LifecycleHookName>kelp-drain</LifecycleHookName><AutoScalingGroupName>g</AutoScalingGroupName>`+
			`<LifecycleTransition>autoscaling:EC2_INSTANCE_TERMINATING</LifecycleTransition><NotificationMetadata>{"cluster":"prod"}</NotificationMetadata>`+
			`<HeartbeatTimeout>300</HeartbeatTimeout><GlobalTimeout>30000</GlobalTimeout><DefaultResult>CONTINUE</DefaultResult></member></LifecycleHooks>`)
	case action == "CompleteLifecycleAction" && r.PostForm.Get("InstanceId") == "i-gone",
		action == "RecordLifecycleActionHeartbeat" && r.PostForm.Get("InstanceId") == "i-gone":
		fail(http.StatusBadRequest, "ValidationError", "No active Lifecycle Action found with instance ID i-gone")
	case action == "DeleteLifecycleHook" && r.PostForm.Get("LifecycleHookName") == "nope":
		fail(http.StatusBadRequest, "ValidationError", "No Lifecycle Hook found for name nope")
	case action == "PutLifecycleHook", action == "DeleteLifecycleHook", action == "CompleteLifecycleAction", action == "RecordLifecycleActionHeartbeat":
		respond(w, action, "")
	default:
		fail(http.StatusBadRequest, "InvalidAction", "The action "+action+" is not valid for this web service.")
	}
}

const asNamespace = "http://autoscaling.amazonaws.com/doc/2011-01-01/"

func respond(w http.ResponseWriter, action, result string) {
	w.Header().Set("Content-Type", "text/xml")
	fmt.Fprintf(w, `<%sResponse xmlns="%s"><%sResult>%s</%sResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></%sResponse>`,
		action, asNamespace, action, result, action, action)
}

// form returns the i-th request of action.
func (s *hookServer) form(t *testing.T, action string, i int) url.Values {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.forms[action]) <= i {
		t.Fatalf("%d %s requests, want more than %d", len(s.forms[action]), action, i)
	}
	return s.forms[action][i]
}

func newHookServer(t *testing.T) (*hookServer, *Provider) {
	t.Helper()
	s := &hookServer{forms: map[string][]url.Values{}}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	p, err := New(bg, Config{ClusterName: testCluster, Region: "us-east-1", Endpoint: srv.URL, Retry: fastRetries},
		Deps{Logger: testLogger(), Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", "")})
	if err != nil {
		t.Fatal(err)
	}
	return s, p
}

// wantForm checks the members of a request.
func wantForm(t *testing.T, f url.Values, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if f.Get(k) != v {
			t.Errorf("%s %s = %q, want %q", f.Get("Action"), k, f.Get(k), v)
		}
	}
	for k := range f {
		if _, ok := want[k]; !ok && k != "Action" && k != "Version" {
			t.Errorf("%s sent %s=%q, want it absent", f.Get("Action"), k, f.Get(k))
		}
	}
}

func TestPutAndDescribeLifecycleHooks(t *testing.T) {
	s, p := newHookServer(t)
	h := cloud.LifecycleHook{Name: "kelp-drain", Transition: "autoscaling:EC2_INSTANCE_TERMINATING",
		HeartbeatTimeout: 300 * time.Second, DefaultResult: cloud.LifecycleContinue, Metadata: `{"cluster":"prod"}`}
	if err := p.PutLifecycleHook(bg, "g", h); err != nil {
		t.Fatal(err)
	}
	wantForm(t, s.form(t, "PutLifecycleHook", 0), map[string]string{"AutoScalingGroupName": "g", "LifecycleHookName": "kelp-drain",
		"LifecycleTransition": "autoscaling:EC2_INSTANCE_TERMINATING", "HeartbeatTimeout": "300", "DefaultResult": "CONTINUE",
		"NotificationMetadata": `{"cluster":"prod"}`})
	hooks, err := p.DescribeLifecycleHooks(bg, "g")
	if err != nil {
		t.Fatal(err)
	}
	h.GlobalTimeout = 30000 * time.Second
	if len(hooks) != 1 || hooks[0] != h {
		t.Errorf("DescribeLifecycleHooks = %+v, want %+v", hooks, h)
	}
	if _, err := p.DescribeLifecycleHooks(bg, "missing"); !errors.Is(err, cloud.ErrNotFound) {
		t.Errorf("hooks of a missing group: %v, want ErrNotFound", err)
	}
	if err := p.DeleteLifecycleHook(bg, "g", "kelp-drain"); err != nil {
		t.Fatal(err)
	}
	if err := p.DeleteLifecycleHook(bg, "g", "nope"); !errors.Is(err, cloud.ErrNotFound) {
		t.Errorf("deleting a missing hook: %v, want ErrNotFound", err)
	}
}

func TestLifecycleActionsByInstanceOrToken(t *testing.T) {
	s, p := newHookServer(t)
	byID := cloud.LifecycleAction{Group: "g", Hook: "kelp-drain", InstanceID: "i-0123456789abcdef0"}
	byToken := cloud.LifecycleAction{Group: "g", Hook: "kelp-drain", InstanceID: "i-0123456789abcdef0", Token: "bcd2f1b8-9a78-44d3-8a7a-4dd07d7cf635"}
	if err := p.Complete(bg, byID, cloud.LifecycleContinue); err != nil {
		t.Fatal(err)
	}
	wantForm(t, s.form(t, "CompleteLifecycleAction", 0), map[string]string{"AutoScalingGroupName": "g", "LifecycleHookName": "kelp-drain",
		"InstanceId": "i-0123456789abcdef0", "LifecycleActionResult": "CONTINUE"})
	if err := p.Complete(bg, byToken, cloud.LifecycleAbandon); err != nil {
		t.Fatal(err)
	}
	wantForm(t, s.form(t, "CompleteLifecycleAction", 1), map[string]string{"AutoScalingGroupName": "g", "LifecycleHookName": "kelp-drain",
		"LifecycleActionToken": byToken.Token, "LifecycleActionResult": "ABANDON"})
	if err := p.Heartbeat(bg, byID); err != nil {
		t.Fatal(err)
	}
	wantForm(t, s.form(t, "RecordLifecycleActionHeartbeat", 0), map[string]string{"AutoScalingGroupName": "g", "LifecycleHookName": "kelp-drain",
		"InstanceId": "i-0123456789abcdef0"})
	if err := p.Heartbeat(bg, byToken); err != nil {
		t.Fatal(err)
	}
	wantForm(t, s.form(t, "RecordLifecycleActionHeartbeat", 1), map[string]string{"AutoScalingGroupName": "g", "LifecycleHookName": "kelp-drain",
		"LifecycleActionToken": byToken.Token})

	gone := cloud.LifecycleAction{Group: "g", Hook: "kelp-drain", InstanceID: "i-gone"}
	if err := p.Complete(bg, gone, cloud.LifecycleContinue); !errors.Is(err, cloud.ErrNotFound) {
		t.Errorf("completing an action that does not exist: %v, want ErrNotFound", err)
	}
	if err := p.Heartbeat(bg, gone); !errors.Is(err, cloud.ErrNotFound) {
		t.Errorf("heartbeat of an action that does not exist: %v, want ErrNotFound", err)
	}
	if err := p.Complete(bg, byID, "continue"); err == nil {
		t.Error("Complete with result \"continue\" succeeded")
	}
}

func TestLifecycleCallsAreRetriedAndMapped(t *testing.T) {
	s, p := newHookServer(t)
	// More throttled answers than the SDK's attempts: kelp's rounds retry.
	s.throttles = fastRetries.MaxAttempts + 1
	if err := p.Heartbeat(bg, cloud.LifecycleAction{Group: "g", Hook: "kelp-drain", InstanceID: "i-0123456789abcdef0"}); err != nil {
		t.Fatalf("Heartbeat after %d throttled answers: %v", fastRetries.MaxAttempts+1, err)
	}
	// An endpoint that does not know the action.
	if _, err := p.DescribeGroups(bg, pool.GroupFilter{}); !errors.Is(err, cloud.ErrUnsupported) {
		t.Errorf("an action the endpoint does not know: %v, want ErrUnsupported", err)
	}
}

// A group member's lifecycle state decides its state while EC2 still runs
// it: Terminating:Wait is a leaving instance kelp's hook may hold.
func TestGroupInstanceLifecycleStates(t *testing.T) {
	tests := []struct {
		lifecycle, ec2 string
		want           cloud.InstanceState
		cloudState     string
		waiting        bool
	}{
		{"InService", "running", cloud.InstanceStateRunning, "InService", false},
		{"Pending:Wait", "running", cloud.InstanceStatePending, "Pending:Wait", false},
		{"Pending:Proceed", "running", cloud.InstanceStatePending, "Pending:Proceed", false},
		{"Terminating:Wait", "running", cloud.InstanceStateTerminating, "Terminating:Wait", true},
		{"Terminating:Proceed", "running", cloud.InstanceStateTerminating, "Terminating:Proceed", false},
		{"Terminating:Wait", "shutting-down", cloud.InstanceStateTerminating, "shutting-down", false}, // EC2's shutdown wins
		{"Standby", "running", cloud.InstanceStateUnknown, "Standby", false},
	}
	for _, tt := range tests {
		t.Run(tt.lifecycle+"/"+tt.ec2, func(t *testing.T) {
			id := "i-0123456789abcdef0"
			ec2Inst := ec2types.Instance{InstanceId: sdkaws.String(id), State: &ec2types.InstanceState{Name: ec2types.InstanceStateName(tt.ec2)}}
			details := map[string]cloud.Instance{id: instanceFromEC2(ec2Inst)}
			got := groupInstance(astypes.Instance{InstanceId: sdkaws.String(id), LifecycleState: astypes.LifecycleState(tt.lifecycle)}, "g", "general", details)
			if got.State != tt.want || got.CloudState != tt.cloudState || got.WaitingToTerminate() != tt.waiting {
				t.Errorf("state %s (%s), waiting %v; want %s (%s), %v", got.State, got.CloudState, got.WaitingToTerminate(), tt.want, tt.cloudState, tt.waiting)
			}
		})
	}
}

// TestLeavingInstancesCarryTheirCause: an instance held on kelp's drain
// hook carries the Cause of its termination activity, which says what
// took it away; a running one carries none.
func TestLeavingInstancesCarryTheirCause(t *testing.T) {
	e := newEnv(t, envOptions{})
	name := e.createPool(testCluster, pool.Spec{Name: "general", InstanceTypes: []string{"m5.large"}, MaxSize: 3, DesiredCapacity: int32p(2)})
	e.waitInService(name, 2)
	if _, err := e.as.SetDesiredCapacity(bg, &autoscaling.SetDesiredCapacityInput{
		AutoScalingGroupName: sdkaws.String(name), DesiredCapacity: sdkaws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	p := e.provider(Config{})
	var leaving, staying []cloud.Instance
	testenv.EventuallyTrue(t, waitTimeout, "one instance in Terminating:Wait", func() bool {
		if err := p.Refresh(bg); err != nil {
			t.Fatal(err)
		}
		leaving, staying = nil, nil
		for _, inst := range nodeGroup(t, p, name).Instances {
			if inst.WaitingToTerminate() {
				leaving = append(leaving, inst)
			} else {
				staying = append(staying, inst)
			}
		}
		return len(leaving) == 1
	})
	if c := leaving[0].LeaveCause; !strings.Contains(c, "difference between desired and actual capacity") {
		t.Errorf("leave cause = %q, want the scale-in activity's cause", c)
	}
	for _, inst := range staying {
		if inst.LeaveCause != "" {
			t.Errorf("%s (%s) has leave cause %q", inst.ID, inst.CloudState, inst.LeaveCause)
		}
	}
}

func TestLeaveCauses(t *testing.T) {
	act := func(desc, cause string, status astypes.ScalingActivityStatusCode) astypes.Activity {
		return astypes.Activity{Description: sdkaws.String(desc), Cause: sdkaws.String(cause), StatusCode: status}
	}
	got := leaveCauses([]astypes.Activity{
		act("Terminating EC2 instance: i-1", "refresh", astypes.ScalingActivityStatusCodeMidLifecycleAction),
		act("Terminating EC2 instance: i-1", "older", astypes.ScalingActivityStatusCodeInProgress),
		act("Terminating EC2 instance: i-2", "done", astypes.ScalingActivityStatusCodeSuccessful),
		act("Launching a new EC2 instance: i-3", "launch", astypes.ScalingActivityStatusCodeInProgress),
	})
	if len(got) != 1 || got["i-1"] != "refresh" {
		t.Errorf("leave causes = %v, want only i-1's newest (refresh)", got)
	}
}
