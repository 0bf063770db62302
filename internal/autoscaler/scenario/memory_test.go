//go:build plannermemory

package scenario

import (
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/kelp-dev/kelp/internal/autoscaler"
)

// TestPlannerMemory plans the diverse workload at KELP_PLANNER_MEMORY_PODS
// pods (default 10,000) once and fails when the process's peak resident
// memory exceeds KELP_PLANNER_MEMORY_MIB (default 1024). It is built only
// with the plannermemory tag (make bench-planner-memory) and runs alone in
// its process (-run TestPlannerMemory): the peak covers everything the
// process did before.
func TestPlannerMemory(t *testing.T) {
	pods, budget := envInt(t, "KELP_PLANNER_MEMORY_PODS", 10000), envInt(t, "KELP_PLANNER_MEMORY_MIB", 1024)
	in, err := GenerateDiverse(DiverseSpec{Seed: 1, Pods: pods})
	if err != nil {
		t.Fatal(err)
	}
	in.Expanders = chains[1].chain
	start, cpu := time.Now(), cpuTime(t)
	plan := autoscaler.PlanScaleUp(in)
	wall, cpus := time.Since(start), cpuTime(t)-cpu
	peak := peakRSS(t) >> 20
	t.Logf("%d pods: %d nodes $%.4f/h, %d unschedulable; %.2f s (%.0f pods/s), %.2f cpu-s; peak RSS %d MiB (budget %d MiB)",
		pods, plan.Totals.Nodes, plan.Totals.Cost, len(plan.Unschedulable), wall.Seconds(), float64(pods)/wall.Seconds(),
		cpus.Seconds(), peak, budget)
	if peak > int64(budget) {
		t.Errorf("peak RSS %d MiB over the budget of %d MiB", peak, budget)
	}
}

func envInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}
