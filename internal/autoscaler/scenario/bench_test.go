package scenario

import (
	"testing"

	"github.com/kelp-dev/kelp/internal/autoscaler"
)

// BenchmarkPlanScaleUp times PlanScaleUp on generated scenarios (seed 1,
// price,least-waste expanders) and reports, besides ns/op, the plan's new
// nodes and cost, the LP bounds and the plan's ratio to them, and FFD's
// nodes and cost. The references are computed once per scenario, outside
// the timer; the LP bound of the largest size takes minutes.
func BenchmarkPlanScaleUp(b *testing.B) {
	for _, sz := range []struct{ pods, pools, nodes int }{
		{100, 10, 100},
		{1000, 10, 500},
		{10000, 100, 5000},
	} {
		for _, w := range Workloads {
			s := Spec{Seed: 1, Workload: w, Pods: sz.pods, Pools: sz.pools, Nodes: sz.nodes}
			b.Run(s.String(), func(b *testing.B) {
				in, err := Generate(s)
				if err != nil {
					b.Fatal(err)
				}
				in.Expanders = chains[1].chain
				f := measure(b, in)
				for b.Loop() {
					f.plan = autoscaler.PlanScaleUp(in)
				}
				b.ReportMetric(float64(f.plan.Totals.Nodes), "nodes")
				b.ReportMetric(f.plan.Totals.Cost, "$/h")
				b.ReportMetric(float64(len(f.plan.Unschedulable)), "unschedulable")
				b.ReportMetric(f.lp.Nodes, "lp-nodes")
				b.ReportMetric(f.lp.Cost, "lp-$/h")
				if f.lp.Cost > 0 {
					b.ReportMetric(f.plan.Totals.Cost/f.lp.Cost, "cost/lp")
				}
				if f.lpUsed.Nodes > 0 {
					b.ReportMetric(float64(f.plan.Totals.Nodes)/f.lpUsed.Nodes, "nodes/lp-same-types")
				}
				b.ReportMetric(float64(f.ffd.Nodes), "ffd-nodes")
				b.ReportMetric(f.ffd.Cost, "ffd-$/h")
				b.ReportMetric(float64(f.ffd.Unplaced), "ffd-unplaced")
			})
		}
	}
}
