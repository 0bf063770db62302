package autoscaler

import (
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// TestScaleDownCandidatesPool checks the bound on removals simulated in a
// round: with six half-empty nodes and a pool of two, two are evaluated
// (those unneeded in the last round first, then in snapshot order), the
// others wait with CandidatesPoolFull; empty nodes never count; with no
// bound every node is evaluated.
func TestScaleDownCandidatesPool(t *testing.T) {
	var nodes []*corev1.Node
	pods := map[string][]*corev1.Pod{}
	for i := range 6 {
		n := sdNode(t, fmt.Sprintf("n%d", i))
		nodes = append(nodes, n)
		if i < 5 { // n5 is empty
			pods[n.Name] = []*corev1.Pod{rsPod(fmt.Sprintf("p%d", i), "200m")}
		}
	}
	for _, tc := range []struct {
		name      string
		ratio     float64
		minCount  int
		since     []string
		evaluated []string // the non-empty nodes found unneeded
	}{
		{name: "no bound", evaluated: []string{"n0", "n1", "n2", "n3", "n4"}},
		{name: "snapshot order", minCount: 2, evaluated: []string{"n0", "n1"}},
		{name: "ratio", ratio: 0.5, minCount: 1, evaluated: []string{"n0", "n1", "n2"}},
		{name: "unneeded before first", minCount: 2, since: []string{"n3", "n4"}, evaluated: []string{"n3", "n4"}},
		{name: "one unneeded before", minCount: 2, since: []string{"n4"}, evaluated: []string{"n0", "n4"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := sdInput(t, nodes, pods)
			in.Options.CandidatesPoolRatio, in.Options.CandidatesPoolMinCount = tc.ratio, tc.minCount
			in.UnneededSince = map[string]time.Time{}
			for _, n := range tc.since {
				in.UnneededSince[n] = sdNow.Add(-time.Minute)
			}
			plan := PlanScaleDown(in)
			checkPlan(t, in, plan)
			want := map[string]bool{"n5": true}
			for _, n := range tc.evaluated {
				want[n] = true
			}
			for _, n := range nodes {
				_, unneeded := plan.Unneeded[n.Name]
				if unneeded != want[n.Name] {
					t.Errorf("%s unneeded %v, want %v (blocked: %v)", n.Name, unneeded, want[n.Name], plan.Blocked[n.Name])
				}
				if b, ok := plan.Blocked[n.Name]; !want[n.Name] && (!ok || b.Reason != BlockedCandidatesPoolFull) {
					t.Errorf("%s blocked by %v, want %s", n.Name, b, BlockedCandidatesPoolFull)
				}
			}
		})
	}
}
