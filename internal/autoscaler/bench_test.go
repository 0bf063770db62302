package autoscaler

import (
	"fmt"
	"testing"

	"github.com/kelp-dev/kelp/internal/catalog"
	"github.com/kelp-dev/kelp/internal/simulator"
)

// benchInput builds the target scenario: pending pods of mixed
// sizes (20 classes, one of them GPU), groups cycling through the catalog
// (every fifth mixed-instance), existing m5.large nodes nearly full.
func benchInput(b *testing.B, pods, groups, nodes int) Input {
	in := Input{Snapshot: simulator.NewSnapshot()}
	for i := range nodes {
		n := node(b, fmt.Sprintf("existing-%d", i), "m5.large")
		if err := in.Snapshot.AddNode(n); err != nil {
			b.Fatal(err)
		}
		fill := simulator.NewPod(simulator.PodInfo{Pod: pod(fmt.Sprintf("fill-%d", i), "fill", "cpu", "1800m")})
		if err := in.Snapshot.AddPod(n.Name, fill); err != nil {
			b.Fatal(err)
		}
	}
	types := catalog.Names()
	for i := range groups {
		ts := []string{types[i%len(types)]}
		if i%5 == 0 {
			ts = append(ts, types[(i+7)%len(types)], types[(i+13)%len(types)])
		}
		in.Groups = append(in.Groups, group(b, fmt.Sprintf("g%03d", i), 100000, dedupe(ts)...))
	}
	const classes = 20
	for c := range classes {
		kv := []string{"cpu", fmt.Sprintf("%dm", 250*(1+c%8)), "memory", fmt.Sprintf("%dMi", 256*(1+c%16))}
		if c == classes-1 {
			kv = append(kv, "nvidia.com/gpu", "1")
		}
		in.Pending = append(in.Pending, replicas(pods/classes, fmt.Sprintf("app%d", c), kv...)...)
	}
	return in
}

func BenchmarkPlanScaleUp(b *testing.B) {
	for _, sz := range []struct{ pods, groups, nodes int }{
		{100, 10, 100},
		{1000, 10, 500},
		{10000, 100, 5000},
	} {
		b.Run(fmt.Sprintf("pods=%d/groups=%d/nodes=%d", sz.pods, sz.groups, sz.nodes), func(b *testing.B) {
			in := benchInput(b, sz.pods, sz.groups, sz.nodes)
			var p Plan
			for b.Loop() {
				p = PlanScaleUp(in)
			}
			b.ReportMetric(float64(p.Totals.Nodes), "nodes")
			b.ReportMetric(p.Totals.Cost, "$/h")
			b.ReportMetric(float64(len(p.Unschedulable)), "unschedulable")
		})
	}
}
