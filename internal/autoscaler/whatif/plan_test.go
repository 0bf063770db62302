package whatif

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	testclock "k8s.io/utils/clock/testing"

	"github.com/kelp-dev/kelp/internal/autoscaler"
	"github.com/kelp-dev/kelp/internal/autoscaler/loop"
	"github.com/kelp-dev/kelp/internal/catalog"
	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/pool"
)

// catalogTemplate is a pool's template from the catalog alone: the test's
// stand-in for the AWS adapter's PoolTemplate, which only composition roots
// may import.
func catalogTemplate(s pool.Spec, zones []string, region string) (cloud.NodeTemplate, error) {
	ct := s.CapacityType
	if ct == "" {
		ct = catalog.CapacityTypeOnDemand
	}
	t := cloud.NodeTemplate{CapacityType: ct, Zones: zones, Taints: s.Taints, Labels: map[string]string{
		pool.PoolTag: s.Name, pool.CapacityTypeLabel: string(ct), corev1.LabelOSStable: "linux", corev1.LabelTopologyRegion: region,
	}}
	for k, v := range s.Labels {
		t.Labels[k] = v
	}
	for _, n := range s.InstanceTypes {
		it, err := catalog.Lookup(n)
		if err != nil {
			return t, err
		}
		price, _ := it.Price(ct)
		t.InstanceTypes = append(t.InstanceTypes, cloud.InstanceType{Name: n, Architecture: it.Architecture.KubernetesArch(),
			Capacity: it.Capacity(), Allocatable: it.Allocatable(), Price: price})
	}
	t.Capacity, t.Allocatable = t.InstanceTypes[0].Capacity, t.InstanceTypes[0].Allocatable
	t.Labels[corev1.LabelInstanceTypeStable] = s.InstanceTypes[0]
	t.Labels[corev1.LabelArchStable] = t.InstanceTypes[0].Architecture
	if len(zones) > 0 {
		t.Labels[corev1.LabelTopologyZone] = zones[0]
	}
	return t, nil
}

var now = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// simulated runs one cycle over the testdata files with the pools of
// testdata/pools.yaml.
func simulated(t *testing.T, o loop.Options, files ...string) (loop.Simulation, loop.Objects) {
	t.Helper()
	for i, f := range files {
		files[i] = filepath.Join("testdata", f)
	}
	objs, err := ReadFiles(files)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := pool.LoadConfig(filepath.Join("testdata", "pools.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	groups, err := PoolGroups("", cfg, objs.Nodes, catalogTemplate)
	if err != nil {
		t.Fatal(err)
	}
	sim, err := loop.Simulate(context.Background(), o, loop.SimulateDeps{Objects: objs, Groups: Groups(groups), Clock: testclock.NewFakeClock(now)})
	if err != nil {
		t.Fatal(err)
	}
	return sim, objs
}

// simulate is the plan of one cycle over the testdata files.
func simulate(t *testing.T, o loop.Options, files ...string) Plan {
	t.Helper()
	sim, objs := simulated(t, o, files...)
	return Build(context.Background(), sim, o.WithDefaults(), objs.Nodes)
}

func TestPlan(t *testing.T) {
	scaleDown := loop.Options{ScaleDownEnabled: true}
	tests := []struct {
		name  string
		opts  loop.Options
		files []string
		check func(t *testing.T, p Plan)
	}{{
		name: "a pod that fits one pool only grows that pool", opts: scaleDown, files: []string{"cluster", "pending-big.json"},
		check: func(t *testing.T, p Plan) {
			if len(p.ScaleUp) != 1 || p.ScaleUp[0].Group != "memory" || p.ScaleUp[0].Nodes != 1 || !slices.Equal(p.ScaleUp[0].Pods, []string{"default/big-0"}) {
				t.Fatalf("scale-up = %+v, want memory +1 for default/big-0", p.ScaleUp)
			}
			alts := p.ScaleUp[0].Alternatives
			if len(alts) != 2 || alts[0].Group != "general" || !strings.Contains(alts[0].Reason, "Insufficient memory") {
				t.Errorf("alternatives = %+v, want general and spot refused for memory", alts)
			}
			if p.ScaleDown.Skipped == "" {
				t.Errorf("scale-down not skipped in a cycle that scales up: %+v", p.ScaleDown)
			}
			if p.After.Nodes != 4 || p.After.Pools["memory"] != 1 || p.After.CostPerHour <= p.Before.CostPerHour {
				t.Errorf("after = %+v (before %+v), want one more memory node, dearer", p.After, p.Before)
			}
		},
	}, {
		name: "a pod too big for every pool gets a reason per pool", opts: scaleDown, files: []string{"cluster", "pending-huge.json"},
		check: func(t *testing.T, p Plan) {
			if len(p.ScaleUp) != 0 || len(p.NotHelped) != 1 || p.NotHelped[0].Pod != "default/huge-0" {
				t.Fatalf("plan = %+v / %+v, want default/huge-0 not helped", p.ScaleUp, p.NotHelped)
			}
			for _, g := range []string{"general", "spot", "memory"} {
				if why := p.NotHelped[0].Pools[g]; !strings.Contains(why, "Insufficient cpu") {
					t.Errorf("reason for %s = %q, want Insufficient cpu", g, why)
				}
			}
		},
	}, {
		name: "an underused node whose pods fit elsewhere goes; a PDB keeps another", opts: scaleDown, files: []string{"cluster"},
		check: func(t *testing.T, p Plan) {
			if len(p.ScaleDown.Remove) != 1 || p.ScaleDown.Remove[0].Node != "general-2" ||
				!slices.Equal(p.ScaleDown.Remove[0].Evict, []string{"default/web-1"}) {
				t.Fatalf("remove = %+v, want general-2 evicting default/web-1", p.ScaleDown.Remove)
			}
			kept := map[string]Kept{}
			for _, k := range p.ScaleDown.Kept {
				kept[k.Node] = k
			}
			if k := kept["general-3"]; k.Reason != "NotEnoughPdb" || !strings.Contains(k.Detail, "db") {
				t.Errorf("general-3 kept by %+v, want NotEnoughPdb naming the PDB", k)
			}
			if k := kept["general-1"]; k.Reason != "NotUnderutilized" {
				t.Errorf("general-1 kept by %+v, want NotUnderutilized", k)
			}
			if p.After.Nodes != 2 || p.After.CostPerHour >= p.Before.CostPerHour {
				t.Errorf("after = %+v, before = %+v: want one node fewer, cheaper", p.After, p.Before)
			}
		},
	}, {
		name: "a higher utilization threshold removes more", files: []string{"cluster"},
		opts: loop.Options{ScaleDownEnabled: true, ScaleDown: withThreshold(0.9)},
		check: func(t *testing.T, p Plan) {
			kept := slices.IndexFunc(p.ScaleDown.Kept, func(k Kept) bool { return k.Node == "general-1" && k.Reason == "NotUnderutilized" })
			if kept >= 0 {
				t.Errorf("general-1 still not underutilized at 0.9: %+v", p.ScaleDown.Kept)
			}
		},
	}, {
		name: "least-waste breaks the tie by name", files: []string{"pending-small.json"},
		check: func(t *testing.T, p Plan) { wantGroup(t, p, "general") },
	}, {
		name: "the price expander picks spot", files: []string{"pending-small.json"}, opts: loop.Options{Expanders: "price"},
		check: func(t *testing.T, p Plan) {
			wantGroup(t, p, "spot")
			if !strings.Contains(p.ScaleUp[0].Reason, "price") {
				t.Errorf("reason %q does not name the price expander", p.ScaleUp[0].Reason)
			}
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.check(t, simulate(t, tt.opts, tt.files...)) })
	}
}

func withThreshold(v float64) autoscaler.ScaleDownOptions {
	o := autoscaler.DefaultScaleDownOptions()
	o.UtilizationThreshold = v
	return o
}

func wantGroup(t *testing.T, p Plan, group string) {
	t.Helper()
	if len(p.ScaleUp) != 1 || p.ScaleUp[0].Group != group {
		t.Fatalf("scale-up = %+v, want %s", p.ScaleUp, group)
	}
}
