package autoscaler

import (
	"testing"
	"time"

	"github.com/kelp-dev/kelp/internal/cloud"
)

// TestUpcoming: a group's upcoming capacity is its instances not yet Ready
// within the provision time, plus target − active only while no launch
// failure is unresolved.
func TestUpcoming(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	const provision = 15 * time.Minute
	inst := func(id string, state cloud.InstanceState, launched time.Time) cloud.Instance {
		return cloud.Instance{ID: id, ProviderID: "aws:///us-east-1a/" + id, State: state, LaunchTime: launched}
	}
	fail := func(id string, at time.Time) cloud.GroupError {
		return cloud.GroupError{Err: cloud.ErrInsufficientCapacity, Group: "g", InstanceType: "m5.large", ActivityID: id, Time: at}
	}
	running, pending := cloud.InstanceStateRunning, cloud.InstanceStatePending
	for _, tc := range []struct {
		name      string
		g         cloud.NodeGroup
		nodes     map[string]InstanceNode
		preceding map[string]bool
		want      int
	}{
		{name: "at min size, its only type fails: no phantom upcoming",
			g:    cloud.NodeGroup{MinSize: 1, TargetSize: 1, Errors: []cloud.GroupError{fail("a1", now.Add(-time.Minute))}},
			want: 0},
		{name: "no failure: the target's missing instances are upcoming",
			g:    cloud.NodeGroup{MinSize: 1, TargetSize: 3},
			want: 3},
		{name: "failure, then a successful launch: upcoming counts again",
			g: cloud.NodeGroup{TargetSize: 3, Instances: []cloud.Instance{inst("i1", pending, now.Add(-time.Minute))},
				Errors: []cloud.GroupError{fail("a1", now.Add(-2*time.Minute))}},
			want: 3},
		{name: "a failure reported before the target was last raised does not hold back what was asked since",
			g:         cloud.NodeGroup{TargetSize: 3, Errors: []cloud.GroupError{fail("a1", now.Add(-2*time.Minute))}},
			preceding: map[string]bool{"a1": true},
			want:      3},
		{name: "a failure after the last raise does",
			g:         cloud.NodeGroup{TargetSize: 3, Errors: []cloud.GroupError{fail("a1", now.Add(-2*time.Minute)), fail("a2", now.Add(-time.Minute))}},
			preceding: map[string]bool{"a1": true},
			want:      0},
		{name: "success, then a failure: only the launched instance",
			g: cloud.NodeGroup{TargetSize: 3, Instances: []cloud.Instance{inst("i1", pending, now.Add(-2*time.Minute))},
				Errors: []cloud.GroupError{fail("a1", now.Add(-time.Minute))}},
			want: 1},
		{name: "mixed group skipped a type and launched another in the same pass: not held back",
			g: cloud.NodeGroup{TargetSize: 2, Instances: []cloud.Instance{inst("i1", pending, now.Add(-time.Minute))},
				Errors: []cloud.GroupError{fail("a1", now.Add(-time.Minute))}},
			want: 2},
		{name: "a template error is no launch failure",
			g:    cloud.NodeGroup{TargetSize: 2, Errors: []cloud.GroupError{{Err: cloud.ErrInvalidGroup, Group: "g", Time: now}}},
			want: 2},
		{name: "launched, not registered, within the provision time: upcoming",
			g:    cloud.NodeGroup{TargetSize: 2, Instances: []cloud.Instance{inst("i1", pending, now.Add(-time.Minute)), inst("i2", running, now.Add(-provision+time.Second))}},
			want: 2},
		{name: "launched, not registered, past the provision time: not upcoming",
			g:    cloud.NodeGroup{MinSize: 1, TargetSize: 1, Instances: []cloud.Instance{inst("i1", running, now.Add(-provision))}},
			want: 0},
		{name: "registered NotReady: upcoming within the provision time, not after",
			g: cloud.NodeGroup{TargetSize: 2, Instances: []cloud.Instance{inst("i1", running, now.Add(-time.Hour)), inst("i2", running, now.Add(-time.Hour))}},
			nodes: map[string]InstanceNode{
				"aws:///us-east-1a/i1": {Registered: true, Created: now.Add(-time.Minute)},
				"aws:///us-east-1a/i2": {Registered: true, Created: now.Add(-provision)}},
			want: 1},
		{name: "Ready nodes and gone instances are not upcoming",
			g: cloud.NodeGroup{TargetSize: 2, Instances: []cloud.Instance{inst("i1", running, now.Add(-time.Hour)),
				inst("i2", cloud.InstanceStateTerminating, now.Add(-time.Hour))}},
			nodes: map[string]InstanceNode{"aws:///us-east-1a/i1": {Registered: true, Ready: true, Created: now.Add(-time.Hour)}},
			want:  1},
		{name: "more active instances than the target: none",
			g:     cloud.NodeGroup{TargetSize: 1, Instances: []cloud.Instance{inst("i1", running, now.Add(-time.Hour)), inst("i2", running, now.Add(-time.Hour))}},
			nodes: map[string]InstanceNode{"aws:///us-east-1a/i1": {Registered: true, Ready: true}, "aws:///us-east-1a/i2": {Registered: true, Ready: true}},
			want:  0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.g.ID = "g"
			got := Upcoming(UpcomingInput{Group: tc.g, Nodes: tc.nodes, Preceding: tc.preceding, ProvisionTime: provision, Now: now})
			if got != tc.want {
				t.Fatalf("Upcoming = %d, want %d", got, tc.want)
			}
		})
	}
}

// TestPlanRecoveryResolvedLaunch: a failed launch that a launch of the same
// group followed (a mixed-instances group that skipped a type) backs
// nothing off; one that nothing followed does.
func TestPlanRecoveryResolvedLaunch(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	skipped := cloud.GroupError{Err: cloud.ErrInsufficientCapacity, Group: "spot", InstanceType: "m5.large", ActivityID: "s1", Time: now}
	failed := cloud.GroupError{Err: cloud.ErrInsufficientCapacity, Group: "general", InstanceType: "m5.large", ActivityID: "g1", Time: now}
	groups := []cloud.NodeGroup{
		{ID: "general", MinSize: 1, TargetSize: 1, MaxSize: 5, Errors: []cloud.GroupError{failed}},
		{ID: "spot", TargetSize: 1, MaxSize: 5, Errors: []cloud.GroupError{skipped},
			Instances: []cloud.Instance{{ID: "i-1", InstanceType: "m6i.large", State: cloud.InstanceStatePending, LaunchTime: now}}},
	}
	rec := PlanRecovery(RecoveryInput{Groups: groups, Launches: []cloud.GroupError{failed, skipped},
		MaxNodeProvisionTime: 15 * time.Minute, Now: now.Add(time.Second)})
	if len(rec.Groups) != 1 || rec.Groups[0].Group != "general" || rec.Groups[0].BackOff == "" {
		t.Fatalf("recovery %+v, want general alone backed off", rec.Groups)
	}
	if _, lower := rec.Groups[0].LowerTo(0); lower {
		t.Fatal("general at its min size is lowered")
	}
}
