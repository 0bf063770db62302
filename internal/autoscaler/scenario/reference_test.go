package scenario

import (
	"fmt"
	"math"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/kelp-dev/kelp/internal/autoscaler"
	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/simulator"
)

// handInput builds an input of one-zone groups (id "g-<type>") and the
// pending classes, with the scenario's DaemonSet (100m, 128Mi per node).
func handInput(t *testing.T, types []string, classes ...classSpec) autoscaler.Input {
	t.Helper()
	in := autoscaler.Input{Snapshot: simulator.NewSnapshot(), DaemonSets: []*appsv1.DaemonSet{nodeAgent()}}
	for _, ty := range types {
		g, err := newGroup("g-"+ty, Zones[0], []string{ty})
		if err != nil {
			t.Fatal(err)
		}
		g.MaxSize = 1000
		in.Groups = append(in.Groups, g)
	}
	for _, c := range classes {
		in.Pending = append(in.Pending, c.pods()...)
	}
	return in
}

// withExisting adds an existing node of g's primary type with the node
// agent and a fill pod of fillMilliCPU.
func withExisting(t *testing.T, in autoscaler.Input, name string, g cloud.NodeGroup, fillMilliCPU int64) autoscaler.Input {
	t.Helper()
	tmpl, _ := g.Template.ForInstanceType(g.Template.InstanceTypes[0].Name)
	n := &corev1.Node{Status: corev1.NodeStatus{Capacity: tmpl.Capacity, Allocatable: tmpl.Allocatable}}
	n.Name, n.Labels = name, tmpl.Labels
	n.Labels[corev1.LabelHostname] = n.Name
	if err := in.Snapshot.AddNode(n); err != nil {
		t.Fatal(err)
	}
	for _, p := range append(simulator.DaemonSetPods(n, in.DaemonSets),
		simulator.NewPod(simulator.PodInfo{Pod: classSpec{app: "fill", replicas: 1, milliCPU: fillMilliCPU, memMiB: 128}.pods()[0].Pod})) {
		if err := in.Snapshot.AddPod(n.Name, p); err != nil {
			t.Fatal(err)
		}
	}
	return in
}

// Free room of a fresh node after the DaemonSet: m5.large 1830m, 7390Mi,
// 28 pods ($0.096/h); m5.xlarge 3820m, 15263Mi, 57 pods ($0.192/h).
func TestReferencesOnHandComputedCases(t *testing.T) {
	half := classSpec{app: "half", replicas: 10, milliCPU: 500, memMiB: 1024}
	anti := classSpec{app: "anti", replicas: 5, milliCPU: 100, memMiB: 128, anti: true}
	gpu := classSpec{app: "gpu", replicas: 1, milliCPU: 1000, memMiB: 1024, gpu: 1}
	for _, tc := range []struct {
		name       string
		in         autoscaler.Input
		lp         Bound
		ffdNodes   int
		ffdCost    float64
		ffdPlaced  int
		ffdUnplace int
	}{{
		// 3 pods a node by cpu: 10/3 nodes.
		name: "one type", in: handInput(t, []string{"m5.large"}, half),
		lp: Bound{Nodes: 10.0 / 3, Cost: 0.096 * 10 / 3, Pods: 10}, ffdNodes: 4, ffdCost: 0.384,
	}, {
		// xlarge holds 7 for twice the price: cheaper per pod and fewer nodes.
		name: "two types", in: handInput(t, []string{"m5.large", "m5.xlarge"}, half),
		lp: Bound{Nodes: 10.0 / 7, Cost: 0.192 * 10 / 7, Pods: 10}, ffdNodes: 2, ffdCost: 0.384,
	}, {
		name: "anti-affinity", in: handInput(t, []string{"m5.large"}, anti),
		lp: Bound{Nodes: 5, Cost: 0.48, Pods: 5}, ffdNodes: 5, ffdCost: 0.48,
	}, {
		name: "gpu pod and no gpu type", in: handInput(t, []string{"m5.large"}, gpu, anti),
		lp: Bound{Nodes: 5, Cost: 0.48, Pods: 5, Excluded: 1}, ffdNodes: 5, ffdCost: 0.48, ffdUnplace: 1,
	}, {
		// The existing node has 1930m-100m-830m = 1000m free: two pods.
		name: "existing room",
		in: func() autoscaler.Input {
			in := handInput(t, []string{"m5.large"}, half)
			return withExisting(t, in, "existing", in.Groups[0], 830)
		}(),
		lp: Bound{Nodes: 8.0 / 3, Cost: 0.096 * 8 / 3, Pods: 10}, ffdNodes: 3, ffdCost: 0.288, ffdPlaced: 2,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := LPBound(tc.in, Scope{})
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(b.Nodes-tc.lp.Nodes) > 1e-6 || math.Abs(b.Cost-tc.lp.Cost) > 1e-6 || b.Pods != tc.lp.Pods || b.Excluded != tc.lp.Excluded {
				t.Errorf("LPBound = %+v, want %+v", b, tc.lp)
			}
			ref, err := FirstFitDecreasing(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if ref.Nodes != tc.ffdNodes || math.Abs(ref.Cost-tc.ffdCost) > 1e-9 || ref.Placed != tc.ffdPlaced || ref.Unplaced != tc.ffdUnplace {
				t.Errorf("FirstFitDecreasing = %+v, want %d nodes $%.3f, %d placed, %d unplaced", ref, tc.ffdNodes, tc.ffdCost, tc.ffdPlaced, tc.ffdUnplace)
			}
		})
	}
}

func TestLPBoundScopeKeepsOnlyTheGivenOptions(t *testing.T) {
	in := handInput(t, []string{"m5.large", "m5.xlarge"}, classSpec{app: "half", replicas: 10, milliCPU: 500, memMiB: 1024})
	b, err := LPBound(in, Scope{Options: map[string]bool{"g-m5.large/m5.large": true}})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(b.Nodes-10.0/3) > 1e-6 {
		t.Errorf("nodes on m5.large alone = %v, want 10/3", b.Nodes)
	}
}

// TestFirstFitDecreasingSpreadsOverZones: with maxSkew 1 over three
// one-zone groups of the same type, each with a full node (so that the
// zone is a spread domain), new nodes alternate between zones.
func TestFirstFitDecreasingSpreadsOverZones(t *testing.T) {
	in := handInput(t, nil, classSpec{app: "web", replicas: 6, milliCPU: 1500, memMiB: 1024, spread: true})
	for i, z := range Zones {
		g, _ := newGroup(fmt.Sprintf("g%d", i), z, []string{"m5.large"})
		g.MaxSize = 10
		in.Groups = append(in.Groups, g)
		in = withExisting(t, in, "full-"+z, g, 1730)
	}
	ref, err := FirstFitDecreasing(in)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"g0/m5.large": 2, "g1/m5.large": 2, "g2/m5.large": 2}
	if ref.Unplaced != 0 || fmt.Sprint(ref.Increases) != fmt.Sprint(want) {
		t.Errorf("increases %v (%d unplaced), want %v", ref.Increases, ref.Unplaced, want)
	}
}

// TestAggregateBound checks AggregateBound on hand-computed cases and that
// it stays at or below LPBound (it is a restriction of the LP's dual) on
// the corpus of TestPlanQuality.
func TestAggregateBound(t *testing.T) {
	half := classSpec{app: "half", replicas: 10, milliCPU: 500, memMiB: 1024}
	anti := classSpec{app: "anti", replicas: 5, milliCPU: 100, memMiB: 128, anti: true}
	for _, tc := range []struct {
		name string
		in   autoscaler.Input
		want Bound
	}{
		// 5000m of cpu over 1830m a node, as a fluid.
		{"one type", handInput(t, []string{"m5.large"}, half), Bound{Nodes: 5000.0 / 1830, Cost: 0.096 * 5000 / 1830, Pods: 10}},
		// One pod a node: 5 nodes, whatever their room.
		{"anti-affinity", handInput(t, []string{"m5.large"}, anti), Bound{Nodes: 5, Cost: 0.48, Pods: 5}},
	} {
		b, err := AggregateBound(tc.in)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(b.Nodes-tc.want.Nodes) > 1e-3 || math.Abs(b.Cost-tc.want.Cost) > 1e-4 || b.Pods != tc.want.Pods || b.Excluded != tc.want.Excluded {
			t.Errorf("%s: AggregateBound = %+v, want %+v", tc.name, b, tc.want)
		}
	}
	for _, s := range qualityCorpus() {
		in, err := Generate(s)
		if err != nil {
			t.Fatal(err)
		}
		a, err := AggregateBound(in)
		if err != nil {
			t.Fatal(err)
		}
		l, err := LPBound(in, Scope{})
		if err != nil {
			t.Fatal(err)
		}
		if a.Cost > l.Cost*(1+1e-9)+1e-9 || a.Nodes > l.Nodes*(1+1e-9)+1e-9 || a.Pods != l.Pods {
			t.Errorf("%s: aggregate %+v above LP %+v", s, a, l)
		}
	}
}
