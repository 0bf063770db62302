package simulator

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestSpreadMinIncremental checks that the spread minimum kept by add and
// addNode (a scan only when the last domain at the minimum rises) equals
// the minimum recomputed from the counts, with and without minDomains.
func TestSpreadMinIncremental(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		rng := rand.New(rand.NewPCG(seed, 3))
		var minDomains *int32
		if seed%2 == 0 {
			v := int32(1 + rng.IntN(5))
			minDomains = &v
		}
		p := compiled(mkPod("p", withLabels("app", "web"), spread(LabelHostname, 1, minDomains, "app", "web")))
		s := NewSnapshot()
		st := newSpreadState(s, p)
		var nodes []*nodeState
		for step := range 200 {
			if len(nodes) == 0 || rng.IntN(4) == 0 {
				n := catalogNode(t, fmt.Sprintf("n%d", len(nodes)), "m5.large", "us-east-1a")
				mustAddNode(t, s, n)
				ns, _ := s.lookup(n.Name)
				nodes = append(nodes, ns)
				st.addNode(p, ns)
			} else {
				st.add(p, p, nodes[rng.IntN(len(nodes))])
			}
			want := &spreadState{counts: st.counts, mins: make([]int, 1), atMin: make([]int, 1)}
			want.recomputeMin(0, p.spread[0].minDomains)
			if st.mins[0] != want.mins[0] || st.atMin[0] != want.atMin[0] {
				t.Fatalf("seed %d step %d: min %d (%d at it), recomputed %d (%d)", seed, step, st.mins[0], st.atMin[0], want.mins[0], want.atMin[0])
			}
		}
	}
}
