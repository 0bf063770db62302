package scenario

import (
	"fmt"
	"testing"
)

// shortfalls are the cases ("spec/chain") and the (workload, chain) cells
// where PlanScaleUp misses a target on the corpus of TestPlanQuality,
// measured after planning became class by class, largest first (each class
// fills the room left, then the expanders choose new nodes for the rest of
// it). They are kept out of the assertions (their figures are logged);
// remove an entry once PlanScaleUp meets the targets there.
//
// With the price expander every workload meets the targets but for the two
// cases below. least-waste, cluster-autoscaler's default, minimises unused
// cpu and memory and is blind to price (and to GPUs), so it costs more
// than FFD, whose new nodes are the cheapest per pod; it uses fewer nodes
// than FFD on most mixed workloads. Worst case measured per cell:
var shortfalls = map[string]string{
	"uniform-small/pods=50/pools=3/nodes=0/seed=1/price":  "5 nodes $0.4250/h vs FFD 3 nodes $0.5355/h: cheaper, more nodes",
	"zone-spread/pods=200/pools=10/nodes=50/seed=2/price": "41 nodes $5.6417/h vs FFD 37 nodes $5.6369/h (+0.1%)",
	"uniform-small/least-waste":                           "200/10/0 seed 2: 8 nodes $1.6128/h vs FFD 25 nodes $1.0400/h",
	"mixed/least-waste":                                   "200/10/0 seed 0: 42 nodes $12.418/h vs FFD 75 nodes $11.55/h",
	"gpu/least-waste":                                     "200/10/0 seed 0: 125 nodes $125.75/h vs FFD 125 nodes $65.75/h",
	"anti-affinity/least-waste":                           "200/10/0 seed 0: 58 nodes $12.082/h vs FFD 75 nodes $11.55/h",
	"zone-spread/least-waste":                             "200/10/50 seed 2: 41 nodes $5.6657/h vs FFD 37 nodes $5.6369/h",
	"mixed-all/least-waste":                               "200/10/0 seed 1: 50 nodes $58.13/h vs FFD 50 nodes $22.03/h",
}

// qualityCorpus is the scenarios TestPlanQuality measures: every workload
// at three sizes, three seeds each.
func qualityCorpus() []Spec {
	var out []Spec
	for _, w := range Workloads {
		for _, sz := range [][3]int{{50, 3, 0}, {200, 10, 0}, {200, 10, 50}} {
			for seed := range uint64(3) {
				out = append(out, Spec{Seed: seed, Workload: w, Pods: sz[0], Pools: sz[1], Nodes: sz[2]})
			}
		}
	}
	return out
}

// TestPlanQuality checks on seeded scenarios that the LP bound is a lower
// bound (of FFD and of the plan, whenever they place every pod it
// bounds), that PlanScaleUp places as many pods as FFD with no more nodes
// and no higher cost, and, on small-pod workloads without existing nodes,
// that its cost is within 5% of the LP bound plus one node of the dearest
// type it grows and its node count within 5% of the LP bound over the
// types it grows plus one.
func TestPlanQuality(t *testing.T) {
	const eps = 1e-9
	for _, s := range qualityCorpus() {
		in, err := Generate(s)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range chains {
			in.Expanders = c.chain
			f := measure(t, in)
			name := fmt.Sprintf("%s/%s", s, c.name)
			t.Run(name, func(t *testing.T) {
				if f.ffd.Unplaced == f.lp.Excluded && (f.lp.Cost > f.ffd.Cost+eps || f.lp.Nodes > float64(f.ffd.Nodes)+eps) {
					t.Errorf("LP bound above FFD: %s", f)
				}
				if len(f.plan.Unschedulable) == f.lp.Excluded && (f.lp.Cost > f.plan.Totals.Cost+eps || f.lpUsed.Nodes > float64(f.plan.Totals.Nodes)+eps) {
					t.Errorf("LP bound above the plan: %s", f)
				}
				var miss []string
				if len(f.plan.Unschedulable) > f.ffd.Unplaced {
					miss = append(miss, "fewer pods placed than FFD")
				}
				if f.plan.Totals.Nodes > f.ffd.Nodes || f.plan.Totals.Cost > f.ffd.Cost+eps {
					miss = append(miss, "worse than FFD")
				}
				if s.Workload == UniformSmall && s.Nodes == 0 && (f.plan.Totals.Cost > 1.05*f.lp.Cost+f.maxPrice()+eps ||
					float64(f.plan.Totals.Nodes) > 1.05*f.lpUsed.Nodes+1+eps) {
					miss = append(miss, "more than 5% above the LP bound")
				}
				if len(miss) == 0 {
					return
				}
				why, known := shortfalls[name]
				if !known {
					why, known = shortfalls[string(s.Workload)+"/"+c.name]
				}
				if known {
					t.Logf("known shortfall (%s): %v: %s", why, miss, f)
					return
				}
				t.Errorf("%v: %s", miss, f)
			})
		}
	}
}
