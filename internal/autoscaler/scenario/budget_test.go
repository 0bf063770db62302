//go:build plannermemory

package scenario

import (
	"testing"
	"time"

	"github.com/kelp-dev/kelp/internal/autoscaler"
)

// TestDefaultBudget plans the diverse workload at KELP_PLANNER_MEMORY_PODS
// pods (default 10,000) as a cycle does by default: least-waste, within
// the default budget (autoscaler.DefaultMaxPlanningDuration on the wall
// clock, autoscaler.DefaultMaxNodesPerScaleUp), and fails when the budget
// truncates the plan: the budget is a guard, not the way plans are kept
// fast. It reads the wall clock, so it is built only with the
// plannermemory tag and meant to run alone:
// go test -tags plannermemory -run TestDefaultBudget -v ./internal/autoscaler/scenario/
func TestDefaultBudget(t *testing.T) {
	pods := envInt(t, "KELP_PLANNER_MEMORY_PODS", 10000)
	in, err := GenerateDiverse(DiverseSpec{Seed: 1, Pods: pods})
	if err != nil {
		t.Fatal(err)
	}
	start, cpu := time.Now(), cpuTime(t)
	in.Budget = autoscaler.Budget{Deadline: start.Add(autoscaler.DefaultMaxPlanningDuration), Now: time.Now,
		MaxNodes: autoscaler.DefaultMaxNodesPerScaleUp}
	plan := autoscaler.PlanScaleUp(in)
	wall, cpus := time.Since(start), cpuTime(t)-cpu
	t.Logf("%d pods, least-waste: %d new nodes (budget %d), %d unschedulable; %.2f s (budget %s), %.2f cpu-s",
		pods, plan.Totals.Nodes, autoscaler.DefaultMaxNodesPerScaleUp, len(plan.Unschedulable), wall.Seconds(),
		autoscaler.DefaultMaxPlanningDuration, cpus.Seconds())
	if plan.Truncated != nil {
		t.Errorf("the default budget truncated the plan: %s (%d pods deferred)", plan.Truncated.Reason, len(plan.Deferred))
	}
}
