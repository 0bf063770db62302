package localcloud

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/spf13/pflag"

	"github.com/kelp-dev/kelp/internal/testenv"
)

var sampleFaults = Faults{
	BootDelay:        DurationRange{Min: 10 * time.Second, Max: 40 * time.Second},
	LaunchFailures:   []LaunchFailure{{InstanceType: "m5.large", AvailabilityZone: "us-east-1a", Rate: 0.5}},
	SpotCapacity:     []SpotCapacity{{InstanceType: "*", Capacity: 3}},
	SpotInterruption: SpotInterruption{Rate: 0.1, Notice: Duration{time.Minute}},
	ThrottleRate:     0.05,
}

func TestLoadFaults(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"faults.yaml": `bootDelay: 10s-40s
launchFailures:
- instanceType: m5.large
  availabilityZone: us-east-1a
  rate: 0.5
spotCapacity:
- instanceType: "*"
  capacity: 3
spotInterruption:
  rate: 0.1
  notice: 1m
throttleRate: 0.05
`,
		"faults.json": `{"bootDelay":"10s-40s","launchFailures":[{"instanceType":"m5.large","availabilityZone":"us-east-1a","rate":0.5}],
"spotCapacity":[{"instanceType":"*","capacity":3}],"spotInterruption":{"rate":0.1,"notice":"1m"},"throttleRate":0.05}`,
	}
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := LoadFaults(path)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !reflect.DeepEqual(got, sampleFaults) {
			t.Errorf("%s: got %+v, want %+v", name, got, sampleFaults)
		}
	}
	bad := filepath.Join(dir, "bad.yaml")
	content := "bootDelay: 40s-10s\nthrottleRate: 2\nlaunchFailures:\n- instanceType: m5.huge\n  rate: -1\nspotCapacity:\n- capacity: -3\n"
	if err := os.WriteFile(bad, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := LoadFaults(bad)
	testenv.ErrorContains(t, err, "bootDelay", "throttleRate", "launchFailures[0].rate", "launchFailures[0].instanceType", "spotCapacity[0].capacity")
	unknown := filepath.Join(dir, "unknown.yaml")
	if err := os.WriteFile(unknown, []byte("bootDelays: 1s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadFaults(unknown); err == nil {
		t.Error("LoadFaults accepted an unknown field")
	}
}

func TestFaultFlags(t *testing.T) {
	var f Faults
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	f.AddFlags(fs, "cloud-")
	err := fs.Parse([]string{"--cloud-boot-delay=10s-40s", "--cloud-launch-failure=m5.large/us-east-1a=0.5",
		"--cloud-spot-capacity=*=3", "--cloud-spot-interruption-rate=0.1", "--cloud-spot-interruption-notice=1m",
		"--cloud-throttle-rate=0.05"})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(f, sampleFaults) {
		t.Fatalf("flags gave %+v, want %+v", f, sampleFaults)
	}
	if err := fs.Parse([]string{"--cloud-launch-failure=m5.large"}); err == nil {
		t.Fatal("a launch failure without a rate parsed")
	}
}

func TestBootDelayDraw(t *testing.T) {
	r := newLockedRand(rand.NewPCG(3, 4))
	fixed := Faults{BootDelay: DurationRange{Min: 5 * time.Second, Max: 5 * time.Second}}
	if d := fixed.bootDelay(r); d != 5*time.Second {
		t.Fatalf("fixed delay %v", d)
	}
	ranged := Faults{BootDelay: DurationRange{Min: 10 * time.Second, Max: 40 * time.Second}}
	seen := map[time.Duration]bool{}
	for range 100 {
		d := ranged.bootDelay(r)
		if d < 10*time.Second || d > 40*time.Second {
			t.Fatalf("delay %v out of range", d)
		}
		seen[d] = true
	}
	if len(seen) < 50 {
		t.Fatalf("only %d distinct delays in 100 draws", len(seen))
	}
	if r, err := ParseDurationRange("1m"); err != nil || r.String() != "1m0s" {
		t.Fatalf("ParseDurationRange(1m) = %v, %v", r, err)
	}
}

func TestLaunchFailureFault(t *testing.T) {
	e := newEnv(t, func(o *Options) {
		o.Faults.LaunchFailures = []LaunchFailure{{InstanceType: "m5.large", AvailabilityZone: "us-east-1a", Rate: 1}}
	})
	lt := e.createTemplate("base", "m5.large", ImageLocalNode)
	e.createGroup("g", lt, 0, 3, 3)
	insts := e.waitSettled("g", 3)
	if c := zoneCounts(insts); c["us-east-1a"] != 0 || c["us-east-1b"]+c["us-east-1c"] != 3 {
		t.Fatalf("zones %v: us-east-1a should have failed every launch", c)
	}
	var failed []astypes.Activity
	for _, a := range e.activities("g") {
		if a.StatusCode == astypes.ScalingActivityStatusCodeFailed {
			failed = append(failed, a)
		}
	}
	if len(failed) == 0 || !strings.HasPrefix(aws.ToString(failed[0].StatusMessage), "InsufficientInstanceCapacity: ") ||
		!strings.Contains(aws.ToString(failed[0].Details), "us-east-1a") {
		t.Fatalf("failed activities %+v", failed)
	}
}

// TestLaunchFailureRateIsDeterministic runs the same scenario twice with
// the same seed: the injected rand source decides the same failures.
func TestLaunchFailureRateIsDeterministic(t *testing.T) {
	outcome := func() []string {
		e := newEnv(t, func(o *Options) {
			o.Rand = rand.NewPCG(42, 42)
			o.Faults.LaunchFailures = []LaunchFailure{{Rate: 0.5}}
		})
		lt := e.createTemplate("base", "m5.large", ImageLocalNode)
		e.createGroup("g", lt, 0, 6, 6)
		for len(e.group("g").Instances) < 6 {
			passes := len(e.activities("g"))
			e.clock.Step(DefaultReconcileInterval)
			testenv.EventuallyTrue(t, waitTimeout, "a reconcile pass", func() bool { return len(e.activities("g")) > passes })
		}
		var out []string
		for _, a := range e.activities("g") {
			if a.StatusCode == astypes.ScalingActivityStatusCodeFailed {
				out = append(out, aws.ToString(a.Details))
			}
		}
		slices.Sort(out)
		c := zoneCounts(e.group("g").Instances)
		return append(out, fmt.Sprint(c))
	}
	first, second := outcome(), outcome()
	if !slices.Equal(first, second) {
		t.Fatalf("same seed, different outcomes:\n%v\n%v", first, second)
	}
	if len(first) < 2 {
		t.Fatalf("rate 0.5 failed nothing: %v", first)
	}
}

func TestSpotInterruptionFault(t *testing.T) {
	e := newEnv(t, func(o *Options) {
		o.Faults.SpotInterruption = SpotInterruption{Rate: 1, Notice: Duration{2 * time.Minute}}
	})
	must[*ec2.CreateLaunchTemplateOutput](t)(e.ec2.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{
		LaunchTemplateName: aws.String("spot"), LaunchTemplateData: &ec2types.RequestLaunchTemplateData{
			ImageId: aws.String(ImageLocalNode), InstanceType: ec2types.InstanceTypeM5Large,
			InstanceMarketOptions: &ec2types.LaunchTemplateInstanceMarketOptionsRequest{MarketType: ec2types.MarketTypeSpot}}}))
	must[*autoscaling.CreateAutoScalingGroupOutput](t)(e.as.CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String("g"), LaunchTemplate: &astypes.LaunchTemplateSpecification{LaunchTemplateName: aws.String("spot")},
		MinSize: aws.Int32(1), MaxSize: aws.Int32(1), AvailabilityZones: []string{"us-east-1a"}}))
	id := ids(e.waitSettled("g", 1))[0]
	if i := e.instance(id); i.InstanceLifecycle != ec2types.InstanceLifecycleTypeSpot {
		t.Fatalf("instance lifecycle %q", i.InstanceLifecycle)
	}
	e.clock.Step(DefaultReconcileInterval) // a tick gives the notice
	var at time.Time
	testenv.EventuallyTrue(t, waitTimeout, "the interruption notice", func() bool {
		e.rt.mu.Lock()
		defer e.rt.mu.Unlock()
		at = e.rt.notices[id]
		return !at.IsZero()
	})
	if want := testStart.Add(DefaultReconcileInterval + 2*time.Minute); !at.Equal(want) {
		t.Fatalf("terminate at %v, want %v", at, want)
	}
	if e.instance(id).State.Name != ec2types.InstanceStateNameRunning {
		t.Fatal("interrupted before the notice ran out")
	}
	e.clock.Step(2 * time.Minute)
	testenv.EventuallyTrue(t, waitTimeout, "the interruption", func() bool { return e.instance(id).State.Name == ec2types.InstanceStateNameTerminated })
	if code := aws.ToString(e.instance(id).StateReason.Code); code != "Server.SpotInstanceTermination" {
		t.Fatalf("state reason %q", code)
	}
	replacement := ids(e.waitSettled("g", 1))[0]
	if replacement == id {
		t.Fatal("no replacement")
	}
	found := false
	for _, a := range e.activities("g") {
		if strings.Contains(aws.ToString(a.Cause), "Spot Instance interruption") && strings.Contains(aws.ToString(a.Description), id) {
			found = true
		}
	}
	if !found {
		t.Fatal("no activity records the interruption")
	}
}

func TestInterruptSpotInstanceRejectsOnDemand(t *testing.T) {
	e := newEnv(t)
	lt := e.createTemplate("base", "m5.large", ImageLocalNode)
	e.createGroup("g", lt, 1, 1, 1)
	id := ids(e.waitSettled("g", 1))[0]
	if err := e.cloud.InterruptSpotInstance(id); err == nil {
		t.Fatal("interrupted an on-demand instance")
	}
	if err := e.cloud.InterruptSpotInstance("i-0123456789abcdef0"); err == nil {
		t.Fatal("interrupted an unknown instance")
	}
}

func TestThrottlingFault(t *testing.T) {
	e := newEnv(t)
	if err := e.cloud.SetFaults(Faults{ThrottleRate: 1}); err != nil {
		t.Fatal(err)
	}
	noRetry := func(o *autoscaling.Options) { o.RetryMaxAttempts = 1 }
	_, err := e.as.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{}, noRetry)
	wantCode(t, err, codeThrottling)
	_, err = e.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{}, func(o *ec2.Options) { o.RetryMaxAttempts = 1 })
	wantCode(t, err, codeRequestLimitExceeded)
	if err := e.cloud.SetFaults(Faults{ThrottleRate: 2}); err == nil {
		t.Fatal("SetFaults accepted a rate of 2")
	}
	if err := e.cloud.SetFaults(Faults{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{}); err != nil {
		t.Fatal(err)
	}
}
