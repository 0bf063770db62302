package autoscaler

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/kelp-dev/kelp/internal/catalog"
	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/simulator"
)

// inZone returns g in zone z.
func inZone(g cloud.NodeGroup, z string) cloud.NodeGroup {
	g = g.Clone()
	g.Template.Zones = []string{z}
	g.Template.Labels[corev1.LabelTopologyZone] = z
	return g
}

func TestSimilarGroups(t *testing.T) {
	a := group(t, "a", 10, "m5.large")
	for _, tc := range []struct {
		name string
		b    cloud.NodeGroup
		want bool
	}{
		{"same but zone and pool name", inZone(group(t, "b", 10, "m5.large"), "us-east-1b"), true},
		{"itself", a, false},
		{"another instance type", group(t, "b", 10, "m5.xlarge"), false},
		{"more instance types", group(t, "b", 10, "m5.large", "m5.xlarge"), false},
		{"a taint", tainted(group(t, "b", 10, "m5.large"), "dedicated"), false},
		{"a label", func() cloud.NodeGroup {
			g := group(t, "b", 10, "m5.large")
			g.Template.Labels["team"] = "x"
			return g
		}(), false},
		{"spot", func() cloud.NodeGroup {
			g := group(t, "b", 10, "m5.large")
			g.Template.CapacityType = catalog.CapacityTypeSpot
			return g
		}(), false},
		{"another allocatable (kubelet reservations seen on a real node)", func() cloud.NodeGroup {
			g := group(t, "b", 10, "m5.large")
			g.Template.InstanceTypes[0].Allocatable = rl("cpu", "1", "memory", "1Gi", "pods", "29")
			return g
		}(), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := SimilarGroups(a, tc.b); got != tc.want {
				t.Fatalf("got %t, want %t", got, tc.want)
			}
			if got := SimilarGroups(tc.b, a); got != tc.want {
				t.Fatalf("not symmetric: got %t, want %t", got, tc.want)
			}
		})
	}
}

func TestBalanceSizes(t *testing.T) {
	for _, tc := range []struct {
		name       string
		size, room []int
		delta      int
		want       []int
	}{
		{"even from zero", []int{0, 0, 0}, []int{9, 9, 9}, 6, []int{2, 2, 2}},
		{"fills the smallest first", []int{3, 0, 1}, []int{9, 9, 9}, 4, []int{0, 3, 1}},
		{"ties to the earliest", []int{0, 0}, []int{9, 9}, 1, []int{1, 0}},
		{"room bounds a share", []int{0, 0, 0}, []int{1, 9, 9}, 6, []int{1, 3, 2}},
		{"no room left: fewer", []int{0, 0}, []int{1, 1}, 5, []int{1, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := BalanceSizes(tc.size, tc.room, tc.delta); !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// TestPlanBalancesSimilarGroups: with BalanceSimilarNodeGroups, new nodes
// spread over the zonal groups alike, toward equal sizes; pods bound to a
// zone only grow that zone's group; without it one group takes them all.
func TestPlanBalancesSimilarGroups(t *testing.T) {
	groups := func() []cloud.NodeGroup {
		a, b, c := inZone(group(t, "a", 10, "m5.large"), "us-east-1a"), inZone(group(t, "b", 10, "m5.large"), "us-east-1b"),
			inZone(group(t, "c", 10, "m5.large"), "us-east-1c")
		a.TargetSize = 2 // two full nodes, not in the snapshot
		return []cloud.NodeGroup{a, b, c}
	}
	// Each pod takes a whole m5.large (1930m allocatable).
	for _, tc := range []struct {
		name    string
		balance bool
		pending []simulator.PodInfo
		want    []string
	}{
		{name: "off: one group", pending: replicas(4, "web", "cpu", "1500m"), want: []string{"a/m5.large+4"}},
		{name: "on: toward equal sizes", balance: true, pending: replicas(4, "web", "cpu", "1500m"),
			want: []string{"b/m5.large+2", "c/m5.large+2"}},
		{name: "on: pods bound to a zone grow that zone only", balance: true, pending: func() []simulator.PodInfo {
			r := replicas(2, "db", "cpu", "1500m")
			for i := range r {
				r[i].RequiredZones, r[i].VolumesResolved = []string{"us-east-1a"}, true
			}
			return r
		}(), want: []string{"a/m5.large+2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := Input{Pending: tc.pending, Groups: groups(), BalanceSimilarNodeGroups: tc.balance}
			plan := PlanScaleUp(in)
			got := deltas(plan)
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("increases %v, want %v; plan %+v", got, tc.want, plan)
			}
			pods := 0
			for _, inc := range plan.Increases {
				pods += len(inc.Pods)
			}
			if pods != len(tc.pending) || plan.Totals.Nodes != len(tc.pending) {
				t.Fatalf("pods %d, totals %+v: every pod once, nodes unchanged by balancing", pods, plan.Totals)
			}
		})
	}
}
