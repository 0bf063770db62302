package pool_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"

	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/localcloud"
	"github.com/kelp-dev/kelp/internal/pool"
	"github.com/kelp-dev/kelp/internal/testenv"
)

// sdkDrainHook reads a group's kelp-drain hook through the SDK.
func sdkDrainHook(t *testing.T, as *autoscaling.Client, group string) astypes.LifecycleHook {
	t.Helper()
	out, err := as.DescribeLifecycleHooks(context.Background(), &autoscaling.DescribeLifecycleHooksInput{
		AutoScalingGroupName: aws.String(group), LifecycleHookNames: []string{pool.DrainHookName}})
	if err != nil || len(out.LifecycleHooks) != 1 {
		t.Fatalf("describe %s's drain hook: %+v, %v", group, out, err)
	}
	return out.LifecycleHooks[0]
}

// TestDrainHookOnLocalCloud: a pool's instances leave through kelp's hook,
// on the local cloud as on AWS.
func TestDrainHookOnLocalCloud(t *testing.T) {
	env := newEnv(t, localcloud.Faults{})
	m := pool.New("prod", pool.Deps{Cloud: env.provider})
	ctx := context.Background()
	spec := generalSpec()
	two := int32(2)
	spec.DesiredCapacity = &two
	p, err := m.Create(ctx, spec, pool.StaticUserData("#cloud-config\n"))
	if err != nil {
		t.Fatal(err)
	}
	h := sdkDrainHook(t, env.as, p.GroupName)
	if aws.ToString(h.LifecycleTransition) != "autoscaling:EC2_INSTANCE_TERMINATING" || aws.ToInt32(h.HeartbeatTimeout) != 300 ||
		aws.ToString(h.DefaultResult) != "CONTINUE" || aws.ToInt32(h.GlobalTimeout) != 30000 ||
		aws.ToString(h.NotificationMetadata) != `{"cluster":"prod","group":"kelp-prod-general","pool":"general"}` {
		t.Errorf("drain hook = %+v", h)
	}
	if p.DrainHook == nil || p.DrainHook.HeartbeatTimeout != 300*time.Second {
		t.Errorf("pool's DrainHook = %+v", p.DrainHook)
	}
	if _, err := m.Update(ctx, "general", pool.Update{DrainHeartbeatTimeout: 90 * time.Second}); err != nil {
		t.Fatal(err)
	}
	if h := sdkDrainHook(t, env.as, p.GroupName); aws.ToInt32(h.HeartbeatTimeout) != 90 || aws.ToInt32(h.GlobalTimeout) != 9000 {
		t.Errorf("drain hook after update = %+v", h)
	}
	testenv.Eventually(t, 30*time.Second, "2 instances in service", func(ctx context.Context) (bool, error) {
		p, err := m.Get(ctx, "general")
		return err == nil && p.Instances == 2, nil
	})

	// Scale in: the leaving instance waits for kelp in Terminating:Wait.
	if _, err := m.Scale(ctx, "general", 1); err != nil {
		t.Fatal(err)
	}
	var waiting []cloud.Instance
	testenv.Eventually(t, 30*time.Second, "an instance in Terminating:Wait", func(ctx context.Context) (bool, error) {
		if err := env.provider.Refresh(ctx); err != nil {
			return false, fmt.Errorf("refresh: %w", err)
		}
		groups, err := env.provider.NodeGroups(ctx)
		if err != nil {
			return false, err
		}
		waiting = cloud.WaitingToTerminate(groups)
		return len(waiting) == 1, nil
	})
	act := cloud.LifecycleAction{Group: p.GroupName, Hook: pool.DrainHookName, InstanceID: waiting[0].ID}
	if err := env.provider.Heartbeat(ctx, act); err != nil {
		t.Fatalf("heartbeat: %v", err)
	}
	if err := env.provider.Complete(ctx, act, cloud.LifecycleContinue); err != nil {
		t.Fatalf("complete: %v", err)
	}
	testenv.Eventually(t, 30*time.Second, "the completed instance terminated", func(ctx context.Context) (bool, error) {
		env.provider.Invalidate(act.InstanceID)
		inst, err := env.provider.InstanceByID(ctx, act.InstanceID)
		return err == nil && inst.State == cloud.InstanceStateTerminated, nil
	})
	if err := env.provider.Complete(ctx, act, cloud.LifecycleContinue); err == nil {
		t.Error("completing the action twice succeeded")
	}
}

// TestAdoptHookOnLocalCloud puts the hook on a group kelp did not create.
func TestAdoptHookOnLocalCloud(t *testing.T) {
	env := newEnv(t, localcloud.Faults{})
	m := pool.New("prod", pool.Deps{Cloud: env.provider})
	ctx := context.Background()
	legacy := generalSpec()
	legacy.Name = "legacy"
	lt := pool.LaunchTemplateSpec("prod", legacy, []byte("#cloud-config\n"))
	if err := env.provider.CreateLaunchTemplate(ctx, lt); err != nil {
		t.Fatal(err)
	}
	subnets, err := env.provider.DefaultSubnets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	g := pool.Group{Name: "legacy-workers", LaunchTemplate: lt.Name, MaxSize: 2, Subnets: subnets,
		Tags: []pool.Tag{{Key: "kubernetes.io/cluster/prod", Value: "owned", Propagate: true}}}
	if err := env.provider.CreateGroup(ctx, g); err != nil {
		t.Fatal(err)
	}
	if _, err := m.AdoptHook(ctx, "legacy-workers", 45*time.Second); err != nil {
		t.Fatal(err)
	}
	if h := sdkDrainHook(t, env.as, "legacy-workers"); aws.ToInt32(h.HeartbeatTimeout) != 45 || aws.ToString(h.DefaultResult) != "CONTINUE" {
		t.Errorf("adopted hook = %+v", h)
	}
}
