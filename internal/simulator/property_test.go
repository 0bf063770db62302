package simulator

import (
	"fmt"
	"math/rand/v2"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// naiveNode recomputes a node's aggregates from its pod list.
func naiveNode(n NodeInfo) (Resources, int) {
	var req Resources
	anti := 0
	for _, p := range n.Pods {
		req.Add(PodRequests(p.Object()))
		if len(p.antiAffinity) > 0 {
			anti++
		}
	}
	return req, anti
}

// model is the reference: a plain map node → pod keys, copied on fork.
type model map[string]map[string]*corev1.Pod

func (m model) clone() model {
	c := make(model, len(m))
	for n, pods := range m {
		c[n] = make(map[string]*corev1.Pod, len(pods))
		for k, p := range pods {
			c[n][k] = p
		}
	}
	return c
}

// TestSnapshotIncrementalMatchesNaive drives a snapshot through random
// add/remove/fork/revert sequences and checks, after every step, that the
// incremental aggregates (requested, pod counts, anti-affinity counts,
// ports) and the FitNodes verdicts equal those recomputed from scratch on a
// snapshot rebuilt from the reference model.
func TestSnapshotIncrementalMatchesNaive(t *testing.T) {
	for seed := uint64(1); seed <= 30; seed++ {
		t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) { runScenario(t, seed) })
	}
}

func runScenario(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 7))
	zones := []string{"us-east-1a", "us-east-1b", "us-east-1c"}
	types := []string{"m5.large", "c5.large", "g4dn.xlarge"}
	s := NewSnapshot()
	ref := model{}
	nodes := map[string]*corev1.Node{}
	for i := range 6 {
		n := catalogNode(t, fmt.Sprintf("n%d", i), types[rng.IntN(len(types))], zones[rng.IntN(len(zones))])
		nodes[n.Name] = n
		mustAddNode(t, s, n)
		ref[n.Name] = map[string]*corev1.Pod{}
	}
	type saved struct {
		s   *Snapshot
		ref model
	}
	var stack []saved
	for step := range 200 {
		switch op := rng.IntN(10); {
		case op < 5: // add a random pod where it fits
			pod := randomPod(rng, fmt.Sprintf("p%d", step))
			p := compiled(pod)
			res := FitNodes(s, p)
			if len(res.Fit) == 0 {
				continue
			}
			node := res.Fit[rng.IntN(len(res.Fit))]
			if err := s.AddPod(node, p); err != nil {
				t.Fatal(err)
			}
			ref[node][p.Key()] = pod
		case op < 7: // remove a random pod
			node := fmt.Sprintf("n%d", rng.IntN(6))
			for k := range ref[node] {
				if err := s.RemovePod(node, k); err != nil {
					t.Fatal(err)
				}
				delete(ref[node], k)
				break
			}
		case op < 8: // fork and continue on the fork
			stack = append(stack, saved{s, ref.clone()})
			s = s.Fork()
		default: // revert to the last saved snapshot
			if len(stack) == 0 {
				continue
			}
			last := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			s, ref = last.s, last.ref
		}
		checkAgainstModel(t, s, ref, nodes, rng)
	}
}

func checkAgainstModel(t *testing.T, s *Snapshot, ref model, nodes map[string]*corev1.Node, rng *rand.Rand) {
	t.Helper()
	fresh := NewSnapshot()
	totalAnti := 0
	for _, name := range s.NodeNames() {
		mustAddNode(t, fresh, nodes[name])
		for _, pod := range ref[name] {
			mustAddPod(t, fresh, name, pod)
		}
		info, _ := s.Node(name)
		req, anti := naiveNode(info)
		totalAnti += anti
		if len(info.Pods) != len(ref[name]) {
			t.Fatalf("node %s: %d pods, model %d", name, len(info.Pods), len(ref[name]))
		}
		if !req.Equal(info.Requested) {
			t.Fatalf("node %s: requested %+v, naive %+v", name, info.Requested, req)
		}
		n, _ := s.lookup(name)
		if n.antiPods != anti || len(n.ports) != naivePorts(info) {
			t.Fatalf("node %s: anti %d ports %d; naive %d %d", name, n.antiPods, len(n.ports), anti, naivePorts(info))
		}
	}
	if s.antiPods != totalAnti {
		t.Fatalf("snapshot antiPods %d, naive %d", s.antiPods, totalAnti)
	}
	probe := compiled(randomPod(rng, "probe"))
	got, want := FitNodes(s, probe), FitNodes(fresh, probe)
	if !equalStrings(got.Fit, want.Fit) || fmt.Sprint(got.Reasons) != fmt.Sprint(want.Reasons) {
		t.Fatalf("FitNodes incremental %v %v, from scratch %v %v", got.Fit, got.Reasons, want.Fit, want.Reasons)
	}
}

func naivePorts(info NodeInfo) int {
	n := 0
	for _, p := range info.Pods {
		n += len(podHostPorts(p.Object()))
	}
	return n
}

// randomPod draws a pod from a small space so that predicates interact:
// two apps, cpu/memory/gpu requests, host ports, anti-affinity, affinity
// and zone spread.
func randomPod(rng *rand.Rand, name string) *corev1.Pod {
	app := []string{"web", "db"}[rng.IntN(2)]
	opts := []podOpt{withLabels("app", app),
		requests("cpu", fmt.Sprintf("%dm", 100*(1+rng.IntN(8))), "memory", fmt.Sprintf("%dMi", 256*(1+rng.IntN(8))))}
	switch rng.IntN(8) {
	case 0:
		opts = append(opts, antiAffinity(LabelHostname, "app", app))
	case 1:
		opts = append(opts, antiAffinity(LabelZone, "app", "db"))
	case 2:
		opts = append(opts, spread(LabelZone, 1, nil, "app", app))
	case 3:
		opts = append(opts, podAffinity(LabelZone, "app", "db"))
	case 4:
		opts = append(opts, hostPortOpt("", "", 9000+int32(rng.IntN(2))))
	case 5:
		opts = append(opts, requests("nvidia.com/gpu", "1"))
	}
	return mkPod(name, opts...)
}
