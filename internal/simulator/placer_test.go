package simulator

import (
	"fmt"
	"math/rand/v2"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// TestPlacerMatchesFitNodes checks the incremental Placer against the
// from-scratch reference: each replica must land on the first node that
// FitNodes reports before the placement, and the Placer must give up
// exactly when FitNodes finds no node.
func TestPlacerMatchesFitNodes(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 11))
			s := NewSnapshot()
			zones := []string{"us-east-1a", "us-east-1b", "us-east-1c"}
			for i := range 12 {
				mustAddNode(t, s, catalogNode(t, fmt.Sprintf("n%02d", i), "m5.large", zones[rng.IntN(3)]))
			}
			for i := range 10 { // background pods, some with anti-affinity
				p := compiled(randomPod(rng, fmt.Sprintf("bg%d", i)))
				if res := FitNodes(s, p); len(res.Fit) > 0 {
					if err := s.AddPod(res.Fit[0], p); err != nil {
						t.Fatal(err)
					}
				}
			}
			classes := []*corev1.Pod{randomPod(rng, "r0"), randomPod(rng, "s0")}
			reps := []*Pod{compiled(classes[0]), compiled(classes[1])}
			placers := []*Placer{NewPlacer(s, reps[0]), NewPlacer(s, reps[1])}
			var placedPods [][2]string
			for i := range 60 {
				if i%13 == 12 && len(placedPods) > 0 { // a removal forces a recomputation
					last := placedPods[len(placedPods)-1]
					placedPods = placedPods[:len(placedPods)-1]
					if err := s.RemovePod(last[0], last[1]); err != nil {
						t.Fatal(err)
					}
				}
				if i%9 == 8 { // new capacity appears between placements
					tmpl := catalogNode(t, "tmpl", "c5.large", zones[rng.IntN(3)])
					if err := s.AddTemplateNode(tmpl, fmt.Sprintf("new%02d", i), nil); err != nil {
						t.Fatal(err)
					}
				}
				c := rng.IntN(2)
				q := reps[c].Replica(mkPodLike(classes[c], fmt.Sprintf("r%d", i)))
				want := FitNodes(s, q)
				got, ok, err := placers[c].PlaceFirstFit(q)
				if err != nil {
					t.Fatal(err)
				}
				if !ok {
					if len(want.Fit) != 0 {
						t.Fatalf("replica %d: Placer found no node, FitNodes %v", i, want.Fit)
					}
					continue
				}
				placedPods = append(placedPods, [2]string{got, q.Key()})
				if len(want.Fit) == 0 || want.Fit[0] != got {
					t.Fatalf("replica %d: Placer chose %s, FitNodes %v (%v)", i, got, want.Fit, want.Reasons)
				}
			}
		})
	}
}

func mkPodLike(p *corev1.Pod, name string) *corev1.Pod {
	c := p.DeepCopy()
	c.Name = name
	return c
}

func TestForkIsolation(t *testing.T) {
	s := NewSnapshot()
	mustAddNode(t, s, catalogNode(t, "a", "m5.large", "us-east-1a"))
	mustAddPod(t, s, "a", mkPod("p0", requests("cpu", "1")))
	f := s.Fork()
	mustAddPod(t, f, "a", mkPod("p1", requests("cpu", "500m")))
	mustAddPod(t, s, "a", mkPod("p2", requests("cpu", "100m")))
	if err := f.AddTemplateNode(catalogNode(t, "tmpl", "c5.large", "us-east-1b"), "new-1", nil); err != nil {
		t.Fatal(err)
	}
	si, _ := s.Node("a")
	fi, _ := f.Node("a")
	if si.Requested.MilliCPU != 1100 || fi.Requested.MilliCPU != 1500 {
		t.Errorf("requested: parent %d fork %d, want 1100 and 1500", si.Requested.MilliCPU, fi.Requested.MilliCPU)
	}
	if _, ok := s.Node("new-1"); ok {
		t.Error("template node leaked into the parent")
	}
	if n, ok := f.Node("new-1"); !ok || !n.Template || n.Node.Labels[LabelHostname] != "new-1" {
		t.Errorf("template node: %+v", n)
	}
	if err := f.RemovePod("a", "default/p0"); err != nil {
		t.Fatal(err)
	}
	if si, _ := s.Node("a"); len(si.Pods) != 2 {
		t.Errorf("parent lost a pod removed in the fork")
	}
	if err := s.AddPod("a", compiled(mkPod("p0"))); err == nil {
		t.Error("duplicate pod accepted")
	}
	if err := s.RemovePod("zz", "default/p0"); err == nil {
		t.Error("remove from unknown node accepted")
	}
}
