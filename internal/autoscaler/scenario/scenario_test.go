package scenario

import (
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/kelp-dev/kelp/internal/autoscaler"
	"github.com/kelp-dev/kelp/internal/catalog"
	"github.com/kelp-dev/kelp/internal/simulator"
)

// dump renders an input's pods, groups and nodes with their pods, for
// comparing two inputs.
func dump(in autoscaler.Input) []any {
	out := []any{in.Pending, in.Groups, in.DaemonSets}
	for _, name := range in.Snapshot.NodeNames() {
		info, _ := in.Snapshot.Node(name)
		var pods []any
		for _, p := range info.Pods {
			pods = append(pods, p.Object())
		}
		out = append(out, info.Node, pods)
	}
	return out
}

func TestGenerateIsReproducible(t *testing.T) {
	for _, w := range Workloads {
		s := Spec{Seed: 7, Workload: w, Pods: 300, Pools: 12, Nodes: 40}
		a, err := Generate(s)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := Generate(s)
		if !reflect.DeepEqual(dump(a), dump(b)) {
			t.Errorf("%s: two inputs from one spec differ", s)
		}
		s.Seed++
		c, _ := Generate(s)
		if reflect.DeepEqual(dump(a), dump(c)) {
			t.Errorf("%s: seeds 7 and 8 give the same input", s)
		}
	}
}

func TestGenerateRejectsBadSpecs(t *testing.T) {
	_, err := Generate(Spec{Workload: "huge", Pods: 0, Pools: 101, Nodes: -1})
	for _, want := range []string{`workload "huge"`, "pods 0", "pools 101", "nodes -1"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not mention %q", err, want)
		}
	}
}

// TestGenerateFollowsTheDocumentedDistributions checks the shape rules
// docs/benchmarks.md states.
func TestGenerateFollowsTheDocumentedDistributions(t *testing.T) {
	for _, w := range Workloads {
		for seed := range uint64(5) {
			s := Spec{Seed: seed, Workload: w, Pods: 1000, Pools: 30, Nodes: 90}
			in, err := Generate(s)
			if err != nil {
				t.Fatal(err)
			}
			classes := compileClasses(in.Pending)
			if len(in.Pending) != s.Pods || len(in.Groups) != s.Pools || len(in.Snapshot.NodeNames()) != s.Nodes {
				t.Fatalf("%s: %d pods, %d groups, %d nodes", s, len(in.Pending), len(in.Groups), len(in.Snapshot.NodeNames()))
			}
			if want := classCount(s); len(classes) != want {
				t.Errorf("%s: %d classes, want %d", s, len(classes), want)
			}
			var gpuClass, anti, spread bool
			for _, c := range classes {
				gpuClass = gpuClass || gpus(c.req) > 0
				anti = anti || c.anti
				spread = spread || len(c.rep.Object().Spec.TopologySpreadConstraints) > 0
			}
			odds := constraintOdds[w]
			if gpuClass != (odds[0] > 0) || anti != (odds[1] > 0) || spread != (odds[2] > 0) {
				t.Errorf("%s: gpu %v anti %v spread %v, odds %v", s, gpuClass, anti, spread, odds)
			}
			targets := 0
			for i, g := range in.Groups {
				targets += g.TargetSize
				if z := g.Template.Labels[corev1.LabelTopologyZone]; z != Zones[i%3] {
					t.Errorf("%s: group %s in %s", s, g.ID, z)
				}
				if n := len(g.Template.InstanceTypes); n < 1 || n > 3 {
					t.Errorf("%s: group %s has %d types", s, g.ID, n)
				}
				for _, it := range g.Template.InstanceTypes {
					ct, _ := catalog.Lookup(it.Name)
					if hasGPU := ct.GPU.Count > 0; hasGPU != (gpuClass && i%4 == 0) {
						t.Errorf("%s: group %s type %s", s, g.ID, it.Name)
					}
					if w == UniformSmall {
						a := simulator.ResourcesFromList(it.Allocatable)
						if r := classes[0].req; 8*r.MilliCPU > a.MilliCPU || 8*r.Memory > a.Memory {
							t.Errorf("%s: pod %v is more than 1/8 of %s", s, r, it.Name)
						}
					}
				}
			}
			if targets != s.Nodes {
				t.Errorf("%s: target sizes sum to %d", s, targets)
			}
		}
	}
}
