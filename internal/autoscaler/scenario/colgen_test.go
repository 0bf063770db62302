package scenario

import (
	"math"
	"strings"
	"testing"

	"github.com/kelp-dev/kelp/internal/autoscaler"
)

// TestConfigBoundOnHandComputedCases checks ConfigBound where the
// optimum is known (m5.large: 1830m free after the DaemonSet, $0.096/h;
// m5.xlarge: 3820m, $0.192/h): never above it, and equal to it where the
// configuration LP has an integer optimum.
func TestConfigBoundOnHandComputedCases(t *testing.T) {
	half := classSpec{app: "half", replicas: 10, milliCPU: 500, memMiB: 1024}
	nine := classSpec{app: "half", replicas: 9, milliCPU: 500, memMiB: 1024}
	anti := classSpec{app: "anti", replicas: 5, milliCPU: 100, memMiB: 128, anti: true}
	gpu := classSpec{app: "gpu", replicas: 1, milliCPU: 1000, memMiB: 1024, gpu: 1}
	// No two of 1000m share a node, nor one of 1000m and one of 900m;
	// two of 900m do: 3 nodes are the optimum, where LPBound (cpu as a
	// fluid, at most one 1000m pod a node) says 3800/1830 = 2.08.
	big := classSpec{app: "big", replicas: 2, milliCPU: 1000, memMiB: 128}
	mid := classSpec{app: "mid", replicas: 2, milliCPU: 900, memMiB: 128}
	for _, tc := range []struct {
		name         string
		in           func() autoscaler.Input
		want         Bound
		optimum      float64 // nodes
		optimumCost  float64
		tight        bool
		aboveLPBound bool
	}{
		{name: "one type, 3 pods a node", in: func() autoscaler.Input { return handInput(t, []string{"m5.large"}, half) },
			want: Bound{Nodes: 10.0 / 3, Cost: 0.096 * 10 / 3, Pods: 10}, optimum: 4, optimumCost: 0.384},
		{name: "one type, full nodes", in: func() autoscaler.Input { return handInput(t, []string{"m5.large"}, nine) },
			want: Bound{Nodes: 3, Cost: 0.288, Pods: 9}, optimum: 3, optimumCost: 0.288, tight: true},
		{name: "two types", in: func() autoscaler.Input { return handInput(t, []string{"m5.large", "m5.xlarge"}, half) },
			want: Bound{Nodes: 10.0 / 7, Cost: 0.192 * 10 / 7, Pods: 10}, optimum: 2, optimumCost: 0.384},
		{name: "anti-affinity", in: func() autoscaler.Input { return handInput(t, []string{"m5.large"}, anti) },
			want: Bound{Nodes: 5, Cost: 0.48, Pods: 5}, optimum: 5, optimumCost: 0.48, tight: true},
		{name: "gpu pod and no gpu type", in: func() autoscaler.Input { return handInput(t, []string{"m5.large"}, gpu, anti) },
			want: Bound{Nodes: 5, Cost: 0.48, Pods: 5, Excluded: 1}, optimum: 5, optimumCost: 0.48, tight: true},
		{name: "pods that do not pair", in: func() autoscaler.Input { return handInput(t, []string{"m5.large"}, big, mid) },
			want: Bound{Nodes: 3, Cost: 0.288, Pods: 4}, optimum: 3, optimumCost: 0.288, tight: true, aboveLPBound: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in()
			b, err := ConfigBound(in)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(b.Nodes-tc.want.Nodes) > 1e-6 || math.Abs(b.Cost-tc.want.Cost) > 1e-6 || b.Pods != tc.want.Pods || b.Excluded != tc.want.Excluded {
				t.Errorf("ConfigBound = %+v, want %+v", b, tc.want)
			}
			if b.Nodes > tc.optimum+1e-9 || b.Cost > tc.optimumCost+1e-9 {
				t.Errorf("ConfigBound = %+v above the optimum, %v nodes $%v/h", b, tc.optimum, tc.optimumCost)
			}
			if tc.tight && (math.Abs(b.Nodes-tc.optimum) > 1e-6 || math.Abs(b.Cost-tc.optimumCost) > 1e-6) {
				t.Errorf("ConfigBound = %+v, want the optimum %v nodes $%v/h", b, tc.optimum, tc.optimumCost)
			}
			l, err := LPBound(in, Scope{})
			if err != nil {
				t.Fatal(err)
			}
			if tc.aboveLPBound && (b.Nodes <= l.Nodes+1e-3 || b.Cost <= l.Cost+1e-6) {
				t.Errorf("ConfigBound = %+v, want above LPBound %+v", b, l)
			}
		})
	}
}

func TestConfigBoundRefusesExistingNodes(t *testing.T) {
	in := handInput(t, []string{"m5.large"}, classSpec{app: "half", replicas: 10, milliCPU: 500, memMiB: 1024})
	in = withExisting(t, in, "existing", in.Groups[0], 830)
	if _, err := ConfigBound(in); err == nil || !strings.Contains(err.Error(), "1 existing or upcoming nodes") {
		t.Errorf("err %v, want one naming the existing node", err)
	}
}

// TestConfigBoundBetweenLPBoundAndPlans checks on the empty-cluster
// scenarios of TestPlanQuality's corpus that ConfigBound is at least
// LPBound (its LP is a relaxation of the configuration LP) and at most
// FFD's plan, whenever FFD places every pod it bounds.
func TestConfigBoundBetweenLPBoundAndPlans(t *testing.T) {
	for _, s := range qualityCorpus() {
		if s.Nodes > 0 {
			continue
		}
		in, err := Generate(s)
		if err != nil {
			t.Fatal(err)
		}
		c, err := ConfigBound(in)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		l, err := LPBound(in, Scope{})
		if err != nil {
			t.Fatal(err)
		}
		if c.Cost < l.Cost*(1-1e-6)-1e-9 || c.Nodes < l.Nodes*(1-1e-6)-1e-9 || c.Pods != l.Pods || c.Excluded != l.Excluded {
			t.Errorf("%s: config %+v below LP %+v", s, c, l)
		}
		ffd, err := FirstFitDecreasing(in)
		if err != nil {
			t.Fatal(err)
		}
		if ffd.Unplaced == c.Excluded && (c.Cost > ffd.Cost+1e-9 || c.Nodes > float64(ffd.Nodes)+1e-9) {
			t.Errorf("%s: config %+v above FFD's %d nodes $%.4f/h", s, c, ffd.Nodes, ffd.Cost)
		}
	}
}
