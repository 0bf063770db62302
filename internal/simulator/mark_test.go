package simulator

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// TestRollbackMatchesFork drives a snapshot and Placers on it through
// random additions and removals after a mark, rolls both back, and checks
// that the snapshot equals a fork taken at the mark and that the rolled
// back Placers place replicas as fresh Placers on that fork do.
func TestRollbackMatchesFork(t *testing.T) {
	for seed := uint64(1); seed <= 40; seed++ {
		t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) { runRollback(t, seed) })
	}
}

func markPod(rng *rand.Rand, name string) *Pod {
	pod := randomPod(rng, name)
	if rng.IntN(3) == 0 { // Placers keep per-node counts for hostname spread
		pod.Spec.TopologySpreadConstraints = nil
		spread(LabelHostname, 1, nil, "app", []string{"web", "db"}[rng.IntN(2)])(pod)
	}
	return compiled(pod)
}

func runRollback(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 11))
	zones := []string{"us-east-1a", "us-east-1b", "us-east-1c"}
	s := NewSnapshot()
	for i := range 6 {
		mustAddNode(t, s, catalogNode(t, fmt.Sprintf("n%d", i), "m5.large", zones[i%3]))
	}
	tmpls := []*corev1.Node{catalogNode(t, "tmpl-a", "m5.large", zones[0]), catalogNode(t, "tmpl-b", "c5.large", zones[1])}
	var classes []*Pod
	var placers []*Placer
	for i := range 4 {
		c := markPod(rng, fmt.Sprintf("c%d", i))
		classes = append(classes, c)
		placers = append(placers, NewPlacer(s, c))
	}
	seq := 0
	replica := func(c int) *Pod {
		seq++
		pod := c2pod(classes[c], fmt.Sprintf("c%d-r%d", c, seq))
		return classes[c].Replica(pod)
	}
	// Some state before the mark.
	for range 8 {
		c := rng.IntN(len(classes))
		if _, _, err := placers[c].PlaceFirstFit(replica(c)); err != nil {
			t.Fatal(err)
		}
	}
	before := s.Fork()
	mark := s.Mark()
	marks := make([]PlacerMark, len(placers))
	for i, pl := range placers {
		marks[i] = pl.Mark()
	}
	for step := range 30 {
		switch op := rng.IntN(10); {
		case op < 3:
			seq++
			if err := s.AddTemplateNode(tmpls[rng.IntN(2)], fmt.Sprintf("new-%d", seq), nil); err != nil {
				t.Fatal(err)
			}
		case op < 8:
			c := rng.IntN(len(classes))
			if _, _, err := placers[c].PlaceFirstFit(replica(c)); err != nil {
				t.Fatal(err)
			}
		case op < 9:
			names := s.NodeNames()
			name := names[rng.IntN(len(names))]
			info, _ := s.Node(name)
			if len(info.Pods) > 0 {
				if err := s.RemovePod(name, info.Pods[0].Key()); err != nil {
					t.Fatal(err)
				}
			}
		default:
			if step > 20 {
				names := s.NodeNames()
				if err := s.RemoveNode(names[rng.IntN(len(names))]); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	s.Rollback(mark)
	for i, pl := range placers {
		pl.Rollback(marks[i])
	}
	if got, want := s.NodeNames(), before.NodeNames(); !slices.Equal(got, want) {
		t.Fatalf("nodes %v after rollback, want %v", got, want)
	}
	for _, name := range s.NodeNames() {
		got, _ := s.Node(name)
		want, _ := before.Node(name)
		if !slices.Equal(podKeys(got.Pods), podKeys(want.Pods)) || !got.Requested.Equal(want.Requested) {
			t.Fatalf("node %s: pods %v requested %+v after rollback, want %v %+v", name, podKeys(got.Pods), got.Requested,
				podKeys(want.Pods), want.Requested)
		}
	}
	if s.antiPods != before.antiPods {
		t.Fatalf("antiPods %d after rollback, want %d", s.antiPods, before.antiPods)
	}
	for range 12 {
		c := rng.IntN(len(classes))
		q := replica(c)
		got, gotOK, err := placers[c].PlaceFirstFit(q)
		if err != nil {
			t.Fatal(err)
		}
		want, wantOK, err := NewPlacer(before, classes[c]).PlaceFirstFit(q)
		if err != nil {
			t.Fatal(err)
		}
		if got != want || gotOK != wantOK {
			t.Fatalf("class %s: rolled-back Placer places on %q (%v), a fresh one on %q (%v)", classes[c].Key(), got, gotOK, want, wantOK)
		}
	}
}

func podKeys(pods []*Pod) []string {
	out := make([]string, len(pods))
	for i, p := range pods {
		out[i] = p.Key()
	}
	return out
}

func c2pod(rep *Pod, name string) *corev1.Pod {
	pod := rep.Object().DeepCopy()
	pod.Name = name
	return pod
}
