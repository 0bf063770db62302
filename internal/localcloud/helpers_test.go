package localcloud

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/kelp-dev/kelp/internal/testenv"
)

// waitTimeout bounds every wait for the local cloud to reach a state.
const waitTimeout = 15 * time.Second

// testStart is the fake clock's start.
var testStart = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// env is a local cloud served on 127.0.0.1 with SDK clients pointed at it.
type env struct {
	t     *testing.T
	dir   string
	opts  Options
	cloud *Cloud
	srv   *httptest.Server
	clock *clocktesting.FakeClock
	rt    *recordingRuntime
	as    *autoscaling.Client
	ec2   *ec2.Client
}

func testLogger() *slog.Logger {
	if os.Getenv("KELP_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// newEnv opens a cloud in a fresh directory with a fake clock, a recording
// runtime and a seeded rand source; mutate adjusts the options.
func newEnv(t *testing.T, mutate ...func(*Options)) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir(), clock: clocktesting.NewFakeClock(testStart), rt: newRecordingRuntime()}
	e.opts = Options{Dir: e.dir, Runtime: e.rt, Clock: e.clock, Rand: rand.NewPCG(1, 2), Logger: testLogger()}
	for _, m := range mutate {
		m(&e.opts)
	}
	e.start()
	return e
}

// start opens the cloud on e.dir and serves it.
func (e *env) start() {
	t := e.t
	t.Helper()
	c, err := Open(e.opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := c.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	e.cloud = c
	e.srv = httptest.NewServer(c)
	region := e.opts.Region
	if region == "" {
		region = DefaultRegion
	}
	// The SDK's default retry policy, as callers use it: it also absorbs
	// aws-sdk-go-v2's request-body race on fast local servers (issue #2737).
	cfg := aws.Config{Region: region,
		Credentials: credentials.NewStaticCredentialsProvider(AccessKeyID, SecretAccessKey, "")}
	e.as = autoscaling.NewFromConfig(cfg, func(o *autoscaling.Options) { o.BaseEndpoint = aws.String(e.srv.URL) })
	e.ec2 = ec2.NewFromConfig(cfg, func(o *ec2.Options) { o.BaseEndpoint = aws.String(e.srv.URL) })
	srv, cloud := e.srv, c
	t.Cleanup(func() {
		srv.Close()
		if err := cloud.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
}

// restart closes the cloud and opens it again on the same directory.
func (e *env) restart() {
	e.t.Helper()
	e.srv.Close()
	if err := e.cloud.Close(); err != nil {
		e.t.Fatalf("Close: %v", err)
	}
	e.start()
}

// recordingRuntime records Boot and Stop calls; fail, when set, decides
// Boot's error.
type recordingRuntime struct {
	mu       sync.Mutex
	boots    []InstanceInfo
	userData map[string][]byte
	stops    []string
	running  map[string]bool
	notices  map[string]time.Time
	fail     func(InstanceInfo) error
	stopGate chan struct{} // when set, Stop waits for it to close
}

func newRecordingRuntime() *recordingRuntime {
	return &recordingRuntime{userData: map[string][]byte{}, running: map[string]bool{}, notices: map[string]time.Time{}}
}

func (r *recordingRuntime) Boot(_ context.Context, inst InstanceInfo, userData []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.boots = append(r.boots, inst)
	r.userData[inst.ID] = userData
	if r.fail != nil {
		if err := r.fail(inst); err != nil {
			return err
		}
	}
	r.running[inst.ID] = true
	return nil
}

func (r *recordingRuntime) Stop(id string) {
	r.mu.Lock()
	gate := r.stopGate
	r.mu.Unlock()
	if gate != nil {
		<-gate
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stops = append(r.stops, id)
	delete(r.running, id)
}

func (r *recordingRuntime) NotifySpotInterruption(id string, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.notices[id] = at
}

func (r *recordingRuntime) setFail(f func(InstanceInfo) error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fail = f
}

func (r *recordingRuntime) bootCount(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, b := range r.boots {
		if b.ID == id {
			n++
		}
	}
	return n
}

func (r *recordingRuntime) isRunning(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.running[id]
}

func (r *recordingRuntime) bootInfo(id string) (InstanceInfo, []byte, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, b := range slices.Backward(r.boots) {
		if b.ID == id {
			return b, r.userData[id], true
		}
	}
	return InstanceInfo{}, nil, false
}

// apiCode returns the AWS error code a client sees, or "" for nil.
func apiCode(t *testing.T, err error) string {
	t.Helper()
	if err == nil {
		return ""
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v is not a smithy.APIError", err)
	}
	return ae.ErrorCode()
}

// wantCode fails unless err carries the AWS error code want.
func wantCode(t *testing.T, err error, want string) {
	t.Helper()
	if got := apiCode(t, err); got != want {
		t.Fatalf("error code = %q (%v), want %q", got, err, want)
	}
}

func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return v
	}
}

var ctx = context.Background()

// templateData is launch template data with the local image and
// "#cloud-config\n" as user-data.
func (e *env) templateData(instanceType string) *ec2types.RequestLaunchTemplateData {
	return &ec2types.RequestLaunchTemplateData{ImageId: aws.String(ImageLocalNode), InstanceType: ec2types.InstanceType(instanceType),
		UserData: aws.String("I2Nsb3VkLWNvbmZpZwo=")}
}

func templateSpecOf(id string) *astypes.LaunchTemplateSpecification {
	return &astypes.LaunchTemplateSpecification{LaunchTemplateId: aws.String(id), Version: aws.String("$Latest")}
}

// createTemplate creates a launch template with an image, a type and
// user-data, returning its id.
func (e *env) createTemplate(name, instanceType, imageID string) string {
	e.t.Helper()
	data := &ec2types.RequestLaunchTemplateData{ImageId: aws.String(imageID),
		UserData: aws.String("I2Nsb3VkLWNvbmZpZwo=")} // "#cloud-config\n"
	if instanceType != "" {
		data.InstanceType = ec2types.InstanceType(instanceType)
	}
	out := must[*ec2.CreateLaunchTemplateOutput](e.t)(e.ec2.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{
		LaunchTemplateName: aws.String(name), LaunchTemplateData: data}))
	return aws.ToString(out.LaunchTemplate.LaunchTemplateId)
}

// createGroup creates a group from a template over the three default zones.
func (e *env) createGroup(name, templateID string, minSize, maxSize, desired int32, tags ...astypes.Tag) {
	e.t.Helper()
	must[*autoscaling.CreateAutoScalingGroupOutput](e.t)(e.as.CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String(name),
		LaunchTemplate:       &astypes.LaunchTemplateSpecification{LaunchTemplateId: aws.String(templateID), Version: aws.String("$Latest")},
		MinSize:              aws.Int32(minSize), MaxSize: aws.Int32(maxSize), DesiredCapacity: aws.Int32(desired),
		AvailabilityZones: []string{"us-east-1a", "us-east-1b", "us-east-1c"}, Tags: tags}))
}

// group describes one group.
func (e *env) group(name string) astypes.AutoScalingGroup {
	e.t.Helper()
	out := must[*autoscaling.DescribeAutoScalingGroupsOutput](e.t)(e.as.DescribeAutoScalingGroups(ctx,
		&autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{name}}))
	if len(out.AutoScalingGroups) != 1 {
		e.t.Fatalf("group %s: got %d groups", name, len(out.AutoScalingGroups))
	}
	return out.AutoScalingGroups[0]
}

// waitSettled waits until the group has exactly n instances, all InService
// and booted.
func (e *env) waitSettled(name string, n int) []astypes.Instance {
	e.t.Helper()
	var got []astypes.Instance
	testenv.EventuallyTrue(e.t, waitTimeout, name+" settled", func() bool {
		g := e.group(name)
		got = g.Instances
		if len(got) != n {
			return false
		}
		for _, i := range got {
			if i.LifecycleState != astypes.LifecycleStateInService || !e.rt.isRunning(aws.ToString(i.InstanceId)) {
				return false
			}
		}
		return true
	})
	return got
}

// activities returns the group's activities, newest first.
func (e *env) activities(name string) []astypes.Activity {
	e.t.Helper()
	out := must[*autoscaling.DescribeScalingActivitiesOutput](e.t)(e.as.DescribeScalingActivities(ctx,
		&autoscaling.DescribeScalingActivitiesInput{AutoScalingGroupName: aws.String(name)}))
	return out.Activities
}

// instance describes one EC2 instance.
func (e *env) instance(id string) ec2types.Instance {
	e.t.Helper()
	out := must[*ec2.DescribeInstancesOutput](e.t)(e.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}}))
	if len(out.Reservations) != 1 || len(out.Reservations[0].Instances) != 1 {
		e.t.Fatalf("instance %s: unexpected reservations %+v", id, out.Reservations)
	}
	return out.Reservations[0].Instances[0]
}

func zoneCounts(insts []astypes.Instance) map[string]int {
	m := map[string]int{}
	for _, i := range insts {
		m[aws.ToString(i.AvailabilityZone)]++
	}
	return m
}
