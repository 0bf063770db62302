//go:build plannermemory

package scenario

import (
	"fmt"
	"testing"

	"github.com/kelp-dev/kelp/internal/autoscaler"
)

// TestDiverseQualityLarge is TestDiverseQuality at 10,000 pods: every
// chain places every pod FFD places with no more nodes, and at no higher
// cost (least-waste's plan cost more than FFD's until shaving could move
// a pod onto a node that moves up a type). FFD and the two plans take 20
// CPU seconds (45 s to 160 s on the loaded 2-core machine), so it is
// built only with the plannermemory tag, with the other 10,000-pod tests
// (make bench-planner-memory runs TestPlannerMemory alone):
// go test -tags plannermemory -run TestDiverseQualityLarge -v ./internal/autoscaler/scenario/
func TestDiverseQualityLarge(t *testing.T) {
	in, err := GenerateDiverse(DiverseSpec{Seed: 1, Pods: 10000})
	if err != nil {
		t.Fatal(err)
	}
	ffd, err := FirstFitDecreasing(in)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range chains {
		in.Expanders = c.chain
		plan := autoscaler.PlanScaleUp(in)
		got := fmt.Sprintf("%s: plan %d nodes $%.4f/h (%d unschedulable); ffd %d nodes $%.4f/h (%d unplaced)", c.name,
			plan.Totals.Nodes, plan.Totals.Cost, len(plan.Unschedulable), ffd.Nodes, ffd.Cost, ffd.Unplaced)
		if len(plan.Unschedulable) > ffd.Unplaced {
			t.Errorf("%s: fewer pods placed than FFD", got)
		}
		if plan.Totals.Nodes > ffd.Nodes {
			t.Errorf("%s: more nodes than FFD", got)
		}
		if plan.Totals.Cost > ffd.Cost+1e-9 {
			t.Errorf("%s: costs more than FFD", got)
		}
		t.Log(got)
	}
}
