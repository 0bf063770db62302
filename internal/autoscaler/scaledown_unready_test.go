package autoscaler

import (
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// TestScaleDownUnready: a node that is not Ready is removed once unneeded
// for UnreadyTime (not UnneededTime), and is never where another node's
// pods move.
func TestScaleDownUnready(t *testing.T) {
	for _, tc := range []struct {
		name    string
		since   time.Duration // n1 unneeded since, before now (0: first seen now)
		modify  func(*ScaleDownInput)
		removed []string
		n1      BlockReason
		n2      BlockReason
	}{
		{name: "unready for less than the unready time", since: 10 * time.Minute, n1: BlockedNotUnreadyLongEnough, n2: BlockedNoPlaceToMove},
		{name: "unready past the unready time", since: 21 * time.Minute, removed: []string{"n1"}, n2: BlockedNoPlaceToMove},
		{name: "the unready time, not the unneeded time, applies", since: 21 * time.Minute, removed: []string{"n1"}, n2: BlockedNoPlaceToMove,
			modify: func(in *ScaleDownInput) { in.Options.UnneededTime = time.Hour }},
		{name: "a short unready time removes it first seen", removed: []string{"n1"}, n2: BlockedNoPlaceToMove,
			modify: func(in *ScaleDownInput) { in.Options.UnreadyTime = 0 }},
		{name: "unready scale-down disabled", since: time.Hour, n1: BlockedUnreadyDisabled, n2: BlockedNoPlaceToMove,
			modify: func(in *ScaleDownInput) { in.Options.UnreadyEnabled = false }},
		{name: "when Ready, the (zero) unneeded time applies, and n2's pod could move to it", since: 10 * time.Minute, removed: []string{"n1"},
			n2: BlockedMaxDrainParallelism, modify: func(in *ScaleDownInput) { in.Unready = nil }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nodes := []*corev1.Node{sdNode(t, "n1"), sdNode(t, "n2")}
			in := sdInput(t, nodes, map[string][]*corev1.Pod{"n1": {rsPod("small", "100m")}, "n2": {rsPod("p", "200m")}})
			in.Unready = map[string]bool{"n1": true}
			in.UnneededSince = map[string]time.Time{"n1": sdNow.Add(-tc.since)}
			if tc.modify != nil {
				tc.modify(&in)
			}
			plan := PlanScaleDown(in)
			checkPlan(t, in, plan)
			if got := removedNodes(plan); !slices.Equal(got, tc.removed) {
				t.Fatalf("removed %v, want %v; blocked %v", got, tc.removed, plan.Blocked)
			}
			for node, want := range map[string]BlockReason{"n1": tc.n1, "n2": tc.n2} {
				if want != "" && plan.Blocked[node].Reason != want {
					t.Errorf("%s blocked by %v, want %s", node, plan.Blocked[node], want)
				}
			}
			if b := plan.Blocked["n1"]; b.Reason == BlockedNotUnreadyLongEnough && !strings.Contains(b.Detail, "20m") {
				t.Errorf("detail %q does not name the unready time", b.Detail)
			}
		})
	}
}
