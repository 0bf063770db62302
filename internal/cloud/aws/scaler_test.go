package aws

import (
	"slices"
	"testing"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"

	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/pool"
	"github.com/kelp-dev/kelp/internal/testenv"
)

func TestSetTargetSize(t *testing.T) {
	e := newEnv(t, envOptions{})
	name := e.createPool(testCluster, pool.Spec{Name: "general", InstanceTypes: []string{"m5.large"}, MinSize: 1, MaxSize: 4})
	e.waitInService(name, 1)
	p := e.provider(Config{})
	nodeGroup(t, p, name)

	if err := p.SetTargetSize(bg, name, 3); err != nil {
		t.Fatalf("SetTargetSize(3): %v", err)
	}
	if d := sdkaws.ToInt32(e.group(name).DesiredCapacity); d != 3 {
		t.Errorf("desired capacity = %d, want 3", d)
	}
	groups, err := p.NodeGroups(bg) // the snapshot follows at once
	if err != nil || groups[0].TargetSize != 3 {
		t.Fatalf("snapshot target = %+v, %v; want 3", groups, err)
	}
	e.waitInService(name, 3)
	if g := nodeGroup(t, p, name); g.TargetSize != 3 || g.ActiveInstances() != 3 {
		t.Errorf("after refresh: target %d, active %d", g.TargetSize, g.ActiveInstances())
	}

	calls := e.requests("SetDesiredCapacity")
	tests := []struct {
		name string
		n    int
		want error
	}{
		{"above max", 5, cloud.ErrOutOfRange},
		{"below min", 0, cloud.ErrOutOfRange},
		{"negative", -1, cloud.ErrOutOfRange},
		{"unchanged", 3, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := p.SetTargetSize(bg, name, tt.n)
			if tt.want == nil && err != nil {
				t.Fatalf("SetTargetSize(%d): %v", tt.n, err)
			}
			if tt.want != nil {
				wantIs(t, err, tt.want)
			}
		})
	}
	if got := e.requests("SetDesiredCapacity"); got != calls {
		t.Errorf("refused or unchanged sizes reached the cloud: %d calls, want %d", got, calls)
	}
	if d := sdkaws.ToInt32(e.group(name).DesiredCapacity); d != 3 {
		t.Errorf("desired capacity = %d, want 3", d)
	}
}

func TestDeleteInstances(t *testing.T) {
	e := newEnv(t, envOptions{})
	name := e.createPool(testCluster, pool.Spec{Name: "general", InstanceTypes: []string{"m5.large"}, MinSize: 1, MaxSize: 5,
		DesiredCapacity: int32p(3)})
	other := e.createPool(testCluster, pool.Spec{Name: "other", InstanceTypes: []string{"m5.large"}, MaxSize: 2, DesiredCapacity: int32p(1)})
	insts := e.waitInService(name, 3)
	stranger := sdkaws.ToString(e.waitInService(other, 1)[0].InstanceId)
	ids := []string{sdkaws.ToString(insts[0].InstanceId), sdkaws.ToString(insts[1].InstanceId), sdkaws.ToString(insts[2].InstanceId)}
	p := e.provider(Config{})
	nodeGroup(t, p, name)

	err := p.DeleteInstances(bg, name, []string{ids[0], stranger})
	wantIs(t, err, cloud.ErrNotFound)
	err = p.DeleteInstances(bg, name, ids) // 3 - 3 < min 1
	wantIs(t, err, cloud.ErrOutOfRange)
	if n := e.requests("TerminateInstanceInAutoScalingGroup"); n != 0 {
		t.Fatalf("refused deletions reached the cloud: %d calls", n)
	}

	if err := p.DeleteInstances(bg, name, []string{ids[0], ids[0]}); err != nil {
		t.Fatalf("DeleteInstances: %v", err)
	}
	if d := sdkaws.ToInt32(e.group(name).DesiredCapacity); d != 2 {
		t.Errorf("desired capacity = %d, want 2 (decremented once)", d)
	}
	groups, _ := p.NodeGroups(bg)
	if g := groups[slices.IndexFunc(groups, func(g cloud.NodeGroup) bool { return g.ID == name })]; g.TargetSize != 2 ||
		g.Instances[slices.IndexFunc(g.Instances, func(i cloud.Instance) bool { return i.ID == ids[0] })].State != cloud.InstanceStateTerminating {
		t.Errorf("snapshot after delete: %+v", g)
	}
	// Deleting it again while it terminates is a no-op: no second decrement.
	if err := p.DeleteInstances(bg, name, []string{ids[0]}); err != nil {
		t.Fatalf("DeleteInstances again: %v", err)
	}
	if n := e.requests("TerminateInstanceInAutoScalingGroup"); n != 1 {
		t.Errorf("terminate calls = %d, want 1", n)
	}
	testenv.EventuallyTrue(t, waitTimeout, "instance terminated", func() bool {
		inst, err := p.InstanceByID(bg, ids[0])
		p.Invalidate(ids[0])
		return err == nil && inst.State == cloud.InstanceStateTerminated
	})
	e.waitInService(name, 2) // not replaced
	err = p.DeleteInstances(bg, name, ids[1:])
	wantIs(t, err, cloud.ErrOutOfRange)
	if g := nodeGroup(t, p, name); g.TargetSize != 2 || g.ActiveInstances() != 2 {
		t.Errorf("after refresh: target %d, active %d", g.TargetSize, g.ActiveInstances())
	}
}

// TestDeleteInstancesReleasesTheDrainHook: kelp's own scale-down has
// drained the node already, so the instance does not wait on kelp's drain
// hook (the fake clock never moves: no heartbeat timeout lets it go); a
// group without the hook terminates as before.
func TestDeleteInstancesReleasesTheDrainHook(t *testing.T) {
	e := newEnv(t, envOptions{})
	hooked := e.createPool(testCluster, pool.Spec{Name: "hooked", InstanceTypes: []string{"m5.large"}, MaxSize: 3, DesiredCapacity: int32p(2)})
	bare := e.createPool(testCluster, pool.Spec{Name: "bare", InstanceTypes: []string{"m5.large"}, MaxSize: 3, DesiredCapacity: int32p(2)})
	if _, err := e.as.DeleteLifecycleHook(bg, &autoscaling.DeleteLifecycleHookInput{
		AutoScalingGroupName: sdkaws.String(bare), LifecycleHookName: sdkaws.String(pool.DrainHookName)}); err != nil {
		t.Fatal(err)
	}
	p := e.provider(Config{})
	for _, name := range []string{hooked, bare} {
		id := sdkaws.ToString(e.waitInService(name, 2)[0].InstanceId)
		if err := p.DeleteInstances(bg, name, []string{id}); err != nil {
			t.Fatalf("DeleteInstances of %s: %v", name, err)
		}
		testenv.EventuallyTrue(t, waitTimeout, name+": instance terminated without waiting on a hook", func() bool {
			p.Invalidate(id)
			inst, err := p.InstanceByID(bg, id)
			return err == nil && inst.State == cloud.InstanceStateTerminated
		})
	}
	if n := e.requests("CompleteLifecycleAction"); n != 2 {
		t.Errorf("CompleteLifecycleAction calls = %d, want 2 (one answered not found)", n)
	}
}
