package localcloud

import (
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/kelp-dev/kelp/internal/testenv"
)

func TestRestartKeepsState(t *testing.T) {
	e := newEnv(t)
	lt := e.createTemplate("base", "m5.large", ImageLocalNode)
	e.createGroup("g", lt, 0, 5, 3, tagOf("kelp.dev/pool", "general", true))
	before := ids(e.waitSettled("g", 3))
	must[*autoscaling.TerminateInstanceInAutoScalingGroupOutput](t)(e.as.TerminateInstanceInAutoScalingGroup(ctx,
		&autoscaling.TerminateInstanceInAutoScalingGroupInput{InstanceId: aws.String(before[0]), ShouldDecrementDesiredCapacity: aws.Bool(true)}))
	kept := ids(e.waitSettled("g", 2))
	testenv.EventuallyTrue(t, waitTimeout, "terminated", func() bool { return e.instance(before[0]).State.Name == ec2types.InstanceStateNameTerminated })
	ips := map[string]bool{}
	for _, id := range before {
		ips[aws.ToString(e.instance(id).PrivateIpAddress)] = true
	}
	activities := len(e.activities("g"))

	e.restart()

	if got := ids(e.waitSettled("g", 2)); !slices.Equal(got, kept) {
		t.Fatalf("after restart: %v, want the same instances %v", got, kept)
	}
	for _, id := range kept {
		testenv.EventuallyTrue(t, waitTimeout, id+" booted again", func() bool { return e.rt.bootCount(id) == 2 })
		info, userData, _ := e.rt.bootInfo(id)
		if info.ID != id || string(userData) != "#cloud-config\n" || info.Tags["kelp.dev/pool"] != "general" {
			t.Errorf("second boot of %s: %+v %q", id, info, userData)
		}
	}
	if e.instance(before[0]).State.Name != ec2types.InstanceStateNameTerminated {
		t.Error("the terminated instance is gone after restart")
	}
	g := e.group("g")
	if aws.ToInt32(g.DesiredCapacity) != 2 || len(g.Tags) != 1 || aws.ToString(g.LaunchTemplate.LaunchTemplateId) != lt {
		t.Errorf("group after restart %+v", g)
	}
	if n := len(e.activities("g")); n != activities {
		t.Errorf("%d activities after restart, want %d", n, activities)
	}
	vs := must[*ec2.DescribeLaunchTemplateVersionsOutput](t)(e.ec2.DescribeLaunchTemplateVersions(ctx,
		&ec2.DescribeLaunchTemplateVersionsInput{LaunchTemplateName: aws.String("base")}))
	if len(vs.LaunchTemplateVersions) != 1 || aws.ToString(vs.LaunchTemplateVersions[0].LaunchTemplateData.UserData) != "I2Nsb3VkLWNvbmZpZwo=" {
		t.Errorf("template after restart %+v", vs.LaunchTemplateVersions)
	}
	// New instances get new addresses.
	e.setDesired("g", 3)
	for _, i := range e.waitSettled("g", 3) {
		id := aws.ToString(i.InstanceId)
		if slices.Contains(kept, id) {
			continue
		}
		if ip := aws.ToString(e.instance(id).PrivateIpAddress); ips[ip] {
			t.Errorf("new instance %s reuses address %s", id, ip)
		}
	}
}

func TestRestartBootsPendingInstances(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Faults.BootDelay = DurationRange{Min: time.Minute, Max: time.Minute} })
	lt := e.createTemplate("base", "m5.large", ImageLocalNode)
	e.createGroup("g", lt, 0, 1, 1)
	var id string
	testenv.EventuallyTrue(t, waitTimeout, "pending", func() bool {
		g := e.group("g")
		if len(g.Instances) == 1 {
			id = aws.ToString(g.Instances[0].InstanceId)
		}
		return id != ""
	})
	e.restart()
	if g := e.group("g"); len(g.Instances) != 1 || aws.ToString(g.Instances[0].InstanceId) != id ||
		g.Instances[0].LifecycleState != astypes.LifecycleStatePending {
		t.Fatalf("after restart %+v", g.Instances)
	}
	e.clock.Step(time.Minute)
	if got := ids(e.waitSettled("g", 1)); got[0] != id || e.rt.bootCount(id) != 1 {
		t.Fatalf("after the delay: %v, booted %d times", got, e.rt.bootCount(id))
	}
}

func TestCloseStopsRuntimes(t *testing.T) {
	e := newEnv(t)
	lt := e.createTemplate("base", "m5.large", ImageLocalNode)
	e.createGroup("g", lt, 0, 2, 2)
	running := ids(e.waitSettled("g", 2))
	if err := e.cloud.Close(); err != nil {
		t.Fatal(err)
	}
	for _, id := range running {
		if e.rt.isRunning(id) {
			t.Errorf("%s still running after Close", id)
		}
	}
	if err := e.cloud.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := e.cloud.Start(ctx); err == nil {
		t.Fatal("Start after Close succeeded")
	}
}

func TestOpenErrors(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"no dir", Options{}, "Dir"},
		{"bad region", Options{Dir: t.TempDir(), Region: "mars"}, "region"},
		{"bad faults", Options{Dir: t.TempDir(), Faults: Faults{ThrottleRate: 3}}, "throttleRate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Open(tt.opts)
			if err == nil {
				_ = c.Close()
				t.Fatal("Open succeeded")
			}
			testenv.ErrorContains(t, err, tt.want)
		})
	}
}
