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
// testdata/pools.yaml, each group named as its pool.
func simulated(t *testing.T, o loop.Options, files ...string) (loop.Simulation, loop.Objects) {
	t.Helper()
	return simulatedIn(t, "", o, files...)
}

// simulatedIn is simulated with the groups of cluster's pools named as
// their Auto Scaling groups (kelp-<cluster>-<pool>).
func simulatedIn(t *testing.T, cluster string, o loop.Options, files ...string) (loop.Simulation, loop.Objects) {
	t.Helper()
	files = slices.Clone(files)
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
	groups, err := PoolGroups(cluster, cfg, objs.Nodes, catalogTemplate)
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
	return Build(context.Background(), sim, o.WithDefaults(), objs.Nodes, fromFiles)
}

// fromFiles is the source of the plans of the testdata files.
var fromFiles = Source{Files: []string{"testdata"}, Pools: "testdata/pools.yaml"}

// TestPoolNames checks that pools are named by their kelp.dev/pool name,
// whatever their Auto Scaling groups are called, in the plan and its text;
// the group is named only where a pool grows.
func TestPoolNames(t *testing.T) {
	o := loop.Options{ScaleDownEnabled: true}
	for _, cluster := range []string{"", "demo"} {
		t.Run("cluster "+cluster, func(t *testing.T) {
			sim, objs := simulatedIn(t, cluster, o, "cluster", "pending-big.json", "pending-huge.json")
			p := Build(context.Background(), sim, o.WithDefaults(), objs.Nodes, fromFiles)
			if len(p.ScaleUp) != 1 || p.ScaleUp[0].Pool != "memory" || len(p.ScaleUp[0].Alternatives) != 2 ||
				p.ScaleUp[0].Alternatives[0].Pool != "general" || p.ScaleUp[0].Alternatives[1].Pool != "spot" {
				t.Fatalf("scale-up = %+v, want pool memory, alternatives general and spot", p.ScaleUp)
			}
			if want := pool.GroupName(cluster, "memory"); cluster != "" && p.ScaleUp[0].Group != want {
				t.Errorf("scale-up group = %q, want %q", p.ScaleUp[0].Group, want)
			}
			if len(p.NotHelped) != 1 || !strings.Contains(p.NotHelped[0].Pools["spot"], "Insufficient cpu") {
				t.Errorf("not helped = %+v, want default/huge-0 by pool name", p.NotHelped)
			}
			if p.Before.Pools["general"] != 3 || p.After.Pools["memory"] != 1 {
				t.Errorf("before %v, after %v: want the nodes counted by pool name", p.Before.Pools, p.After.Pools)
			}
			var b strings.Builder
			if err := p.WriteText(&b); err != nil {
				t.Fatal(err)
			}
			text := strings.ReplaceAll(b.String(), "Auto Scaling group: "+pool.GroupName(cluster, "memory"), "")
			for _, want := range []string{"memory +1 r5.2xlarge", "not general:", "spot: Insufficient cpu", "general  3"} {
				if !strings.Contains(text, want) {
					t.Errorf("text lacks %q:\n%s", want, b.String())
				}
			}
			if cluster != "" && strings.Contains(text, "kelp-demo") {
				t.Errorf("text names a group elsewhere than its growth:\n%s", b.String())
			}

			pod, err := Find(objs, "default/big-0", fromFiles)
			if err != nil {
				t.Fatal(err)
			}
			c := ExplainPod(context.Background(), sim, o, objs, pod)
			if c.Pod != "default/big-0" || !strings.Contains(c.Now, "scale up memory by 1") || len(c.Pools) != 3 || c.Pools[0].Pool != "general" {
				t.Errorf("case = %+v, want pool names", c)
			}
		})
	}
}

func TestAssumedBackoff(t *testing.T) {
	sim, objs := simulated(t, loop.Options{}, "cluster")
	for _, tt := range []struct {
		src  Source
		want string
	}{
		{fromFiles, "no pool is backed off (the groups come from testdata/pools.yaml, no cloud is read)"},
		{Source{Pools: "pools.yaml"}, "no pool is backed off (the groups come from pools.yaml"},
		{Source{}, "backed off only for the failed launches the cloud reports now"},
	} {
		p := Build(context.Background(), sim, loop.Options{}.WithDefaults(), objs.Nodes, tt.src)
		if a := p.Assumptions[len(p.Assumptions)-1]; !strings.Contains(a, tt.want) {
			t.Errorf("source %+v: assumed %q, want %q", tt.src, a, tt.want)
		}
	}
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
