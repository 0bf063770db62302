package loop

import (
	"context"
	"errors"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kelp-dev/kelp/internal/autoscaler"
	"github.com/kelp-dev/kelp/internal/cloud"
)

// TestRelateUpcoming: instances count as upcoming until they are Ready
// nodes, except registered nodes NotReady for longer than the provision
// time, which are broken; unregistered ones are what the provision timeout
// terminates.
func TestRelateUpcoming(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	inst := func(id string, state cloud.InstanceState) cloud.Instance {
		return cloud.Instance{ID: id, ProviderID: "aws:///us-east-1a/" + id, State: state}
	}
	node := func(id string, ready bool, age time.Duration) *corev1.Node {
		status := corev1.ConditionFalse
		if ready {
			status = corev1.ConditionTrue
		}
		return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n-" + id, CreationTimestamp: metav1.NewTime(now.Add(-age))},
			Spec:   corev1.NodeSpec{ProviderID: "aws:///us-east-1a/" + id},
			Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: status}}}}
	}
	g := cloud.NodeGroup{ID: "g", TargetSize: 6, Instances: []cloud.Instance{
		inst("ready", cloud.InstanceStateRunning),
		inst("booting", cloud.InstanceStatePending), // no node yet
		inst("joining", cloud.InstanceStateRunning), // node registered a minute ago, not Ready yet
		inst("broken", cloud.InstanceStateRunning),  // node NotReady, registered an hour ago
		inst("gone", cloud.InstanceStateTerminated),
	}}
	facts := clusterFacts{readyNodes: map[string]*corev1.Node{}, nodes: map[string]*corev1.Node{}}
	for _, n := range []*corev1.Node{node("ready", true, time.Hour), node("joining", false, time.Minute), node("broken", false, time.Hour)} {
		facts.nodes[n.Spec.ProviderID] = n
		if nodeReady(n) {
			facts.readyNodes[n.Spec.ProviderID] = n
		}
	}
	gf := relate([]cloud.NodeGroup{g}, facts, 15*time.Minute, now)
	if len(gf.ready["g"]) != 1 || len(gf.unregistered["g"]) != 1 || gf.unready["g"] != 1 || gf.broken["g"] != 1 {
		t.Fatalf("ready %d, unregistered %d, unready %d, broken %d; want 1 each",
			len(gf.ready["g"]), len(gf.unregistered["g"]), gf.unready["g"], gf.broken["g"])
	}
	// Target 6: 1 Ready, 1 broken → 4 upcoming (booting, joining, and two
	// not launched yet).
	if got := gf.upcoming([]cloud.NodeGroup{g})["g"]; got != 4 {
		t.Fatalf("upcoming %d, want 4", got)
	}
	if got := gf.existing("g"); got != 4 {
		t.Fatalf("existing %d, want 4 active instances", got)
	}
}

func TestWithoutStartupTaints(t *testing.T) {
	n := &corev1.Node{Spec: corev1.NodeSpec{Taints: []corev1.Taint{
		{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoSchedule},
		{Key: "dedicated", Value: "gpu", Effect: corev1.TaintEffectNoSchedule},
		{Key: "kelp.dev/to-be-deleted", Effect: corev1.TaintEffectNoSchedule},
	}}}
	got := withoutStartupTaints(n)
	if len(got.Spec.Taints) != 2 || got.Spec.Taints[0].Key != "dedicated" || got.Spec.Taints[1].Key != "kelp.dev/to-be-deleted" {
		t.Fatalf("taints %v: want the startup taint gone, the others kept", got.Spec.Taints)
	}
	if len(n.Spec.Taints) != 3 {
		t.Fatal("the cached node was modified")
	}
	plain := &corev1.Node{}
	if withoutStartupTaints(plain) != plain {
		t.Fatal("a node without startup taints must not be copied")
	}
}

func TestSerialScalerGrowsFromFreshSize(t *testing.T) {
	fc := &fakeCloud{groups: []cloud.NodeGroup{{ID: "g", MinSize: 1, MaxSize: 6, TargetSize: 3}}, refuse: map[string]error{}}
	s := &serialScaler{Scaler: fc}
	// A removal lowered the size after the cycle read 3.
	if err := s.DeleteInstances(context.Background(), "g", nil); err != nil {
		t.Fatal(err)
	}
	fc.groups[0].TargetSize = 2
	if n, err := s.grow(context.Background(), fc, "g", 2); err != nil || n != 4 {
		t.Fatalf("grow by 2 from 2: %d, %v; want 4", n, err)
	}
	if n, err := s.grow(context.Background(), fc, "g", 5); err != nil || n != 6 {
		t.Fatalf("grow past max: %d, %v; want 6 (MaxSize)", n, err)
	}
	if _, err := s.grow(context.Background(), fc, "g", 1); !errors.Is(err, cloud.ErrOutOfRange) {
		t.Fatalf("grow at max: %v, want ErrOutOfRange", err)
	}
}

func TestNoteArrivalsForgetsFailures(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	a := &Autoscaler{backoffs: autoscaler.NewBackoffs(0, 0), growing: map[string]int{"g": 2, "h": 1}}
	a.backoffs.Failed("g", "launch failed", now.Add(-time.Hour))
	a.backoffs.Failed("h", "launch failed", now.Add(-time.Hour))
	groups := []cloud.NodeGroup{{ID: "g"}, {ID: "h"}}
	ready := func(n int) []*corev1.Node { return make([]*corev1.Node, n) }

	a.noteArrivals(groups, groupFacts{ready: map[string][]*corev1.Node{"g": ready(1)}}, &Cycle{BackedOff: map[string]string{}})
	if a.backoffs.Failures()["g"] != 1 || a.growing["g"] != 2 {
		t.Fatal("forgot g's failures before its nodes arrived")
	}
	a.noteArrivals(groups, groupFacts{ready: map[string][]*corev1.Node{"g": ready(2)}}, &Cycle{BackedOff: map[string]string{"h": "again"}})
	if _, ok := a.backoffs.Failures()["g"]; ok || len(a.growing) != 0 {
		t.Fatalf("after g's nodes arrived: failures %v, growing %v", a.backoffs.Failures(), a.growing)
	}
	if a.backoffs.Failures()["h"] != 1 {
		t.Fatal("h failed again: its failures must stay")
	}
}
