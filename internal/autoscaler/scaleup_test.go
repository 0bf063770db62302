package autoscaler

import (
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/simulator"
)

var now = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

const gib = int64(1 << 30)

// scaleUpTest is one scenario of TestPlanScaleUp.
type scaleUpTest struct {
	name  string
	in    func(t *testing.T) Input
	want  []string // increases, "group/type+delta"
	check func(t *testing.T, p Plan)
}

var scaleUpTests = []scaleUpTest{{
	name: "pods fit existing nodes: no increase",
	in: func(t *testing.T) Input {
		return Input{Snapshot: cluster(t, []*corev1.Node{node(t, "n1", "m5.large")}, nil),
			Pending: replicas(3, "web", "cpu", "500m"), Groups: []cloud.NodeGroup{group(t, "a", 10, "m5.large")}}
	},
	check: func(t *testing.T, p Plan) {
		if len(p.Placed) != 3 || p.Placed["default/web-2"] != "n1" {
			t.Errorf("Placed = %v, want all 3 on n1", p.Placed)
		}
	},
}, {
	name: "upcoming capacity absorbs the pods: no second increase",
	in: func(t *testing.T) Input {
		g := group(t, "a", 10, "m5.large")
		g.TargetSize = 14
		return Input{Pending: replicas(40, "web", "cpu", "500m"), Groups: []cloud.NodeGroup{g}, Upcoming: map[string]int{"a": 14}}
	},
	check: func(t *testing.T, p Plan) {
		if len(p.Placed) != 40 || !strings.HasPrefix(p.Placed["default/web-39"], "a-upcoming-") {
			t.Errorf("Placed = %d pods (web-39 on %q), want 40 on upcoming nodes", len(p.Placed), p.Placed["default/web-39"])
		}
	},
}, {
	name: "upcoming capacity absorbs part: the rest grows",
	in: func(t *testing.T) Input {
		g := group(t, "a", 20, "m5.large")
		g.TargetSize = 10
		return Input{Pending: replicas(40, "web", "cpu", "500m"), Groups: []cloud.NodeGroup{g}, Upcoming: map[string]int{"a": 10}}
	},
	want: []string{"a/m5.large+4"},
}, {
	name: "40 x 500m on m5.large (1930m): 3 per node, 14 nodes",
	in: func(t *testing.T) Input {
		return Input{Pending: replicas(40, "web", "cpu", "500m"), Groups: []cloud.NodeGroup{group(t, "a", 100, "m5.large")}}
	},
	want: []string{"a/m5.large+14"},
	check: func(t *testing.T, p Plan) {
		if p.Totals.Nodes != 14 || p.Totals.Pods != 40 || p.Totals.Cores != 28 || len(p.Increases[0].Pods) != 40 {
			t.Errorf("Totals = %+v, want 14 nodes, 40 pods, 28 cores", p.Totals)
		}
		if p.Increases[0].Reason == "" {
			t.Error("increase without a reason")
		}
	},
}, {
	name: "GPU pod grows only the GPU group",
	in: func(t *testing.T) Input {
		return Input{Pending: []simulator.PodInfo{{Pod: pod("train", "train", "cpu", "1", "nvidia.com/gpu", "1")}},
			Groups: []cloud.NodeGroup{group(t, "cpu", 10, "m5.xlarge"), group(t, "gpu", 10, "g4dn.xlarge")}}
	},
	want: []string{"gpu/g4dn.xlarge+1"},
}, {
	name: "pod that fits no group: unschedulable with a reason per group, no increase",
	in: func(t *testing.T) Input {
		return Input{Pending: []simulator.PodInfo{{Pod: pod("huge", "huge", "cpu", "64")}},
			Groups: []cloud.NodeGroup{group(t, "a", 10, "m5.large"), tainted(group(t, "b", 10, "m5.4xlarge"), "dedicated")}}
	},
	check: func(t *testing.T, p Plan) {
		want := map[string]string{"a": "Insufficient cpu", "b": string(simulator.ReasonTaint)}
		if got := p.Unschedulable["default/huge"]; !reflect.DeepEqual(got, want) {
			t.Errorf("Unschedulable = %v, want %v", got, want)
		}
	},
}, {
	name: "group in backoff is skipped, the next one chosen",
	in: func(t *testing.T) Input {
		return Input{Pending: replicas(3, "web", "cpu", "500m"), Now: now,
			Groups:  []cloud.NodeGroup{group(t, "a", 10, "m5.large"), group(t, "b", 10, "m5.large")},
			Backoff: map[string]Backoff{"a": {Until: now.Add(time.Minute), Reason: "InsufficientInstanceCapacity"}}}
	},
	want: []string{"b/m5.large+1"},
	check: func(t *testing.T, p Plan) {
		if !strings.Contains(p.Skipped["a"], "backoff") || !strings.Contains(p.Skipped["a"], "InsufficientInstanceCapacity") {
			t.Errorf("Skipped[a] = %q, want the backoff and its reason", p.Skipped["a"])
		}
	},
}, {
	name: "expired backoff does not skip",
	in: func(t *testing.T) Input {
		return Input{Pending: replicas(3, "web", "cpu", "500m"), Now: now,
			Groups:  []cloud.NodeGroup{group(t, "a", 10, "m5.large"), group(t, "b", 10, "m5.large")},
			Backoff: map[string]Backoff{"a": {Until: now}}}
	},
	want: []string{"a/m5.large+1"},
}, {
	name: "MaxSize caps a group, the rest goes to the next",
	in: func(t *testing.T) Input {
		a := group(t, "a", 7, "m5.large")
		a.TargetSize = 2
		return Input{Pending: replicas(40, "web", "cpu", "500m"), Groups: []cloud.NodeGroup{a, group(t, "b", 100, "m5.large")}}
	},
	want: []string{"a/m5.large+5", "b/m5.large+9"},
	check: func(t *testing.T, p Plan) {
		if !strings.Contains(p.Skipped["a"], "MaxSize (7)") {
			t.Errorf("Skipped[a] = %q, want at MaxSize", p.Skipped["a"])
		}
	},
}, {
	name: "MaxNodesTotal counts existing nodes; the rest is unschedulable",
	in: func(t *testing.T) Input {
		full := map[string][]*corev1.Pod{"n1": {pod("x1", "x", "cpu", "1900m")}, "n2": {pod("x2", "x", "cpu", "1900m")}}
		return Input{Snapshot: cluster(t, []*corev1.Node{node(t, "n1", "m5.large"), node(t, "n2", "m5.large")}, full),
			Pending: replicas(40, "web", "cpu", "500m"), Groups: []cloud.NodeGroup{group(t, "a", 100, "m5.large")},
			Limits: Limits{MaxNodesTotal: 5}}
	},
	want: []string{"a/m5.large+3"},
	check: func(t *testing.T, p Plan) {
		if len(p.Unschedulable) != 31 || p.Unschedulable["default/web-39"]["a"] != "MaxNodesTotal reached (5)" {
			t.Errorf("Unschedulable: %d pods, web-39: %v; want 31 with MaxNodesTotal", len(p.Unschedulable), p.Unschedulable["default/web-39"])
		}
	},
}, {
	name: "MaxCoresTotal",
	in: func(t *testing.T) Input {
		return Input{Pending: replicas(40, "web", "cpu", "500m"), Groups: []cloud.NodeGroup{group(t, "a", 100, "m5.large")},
			Limits: Limits{MaxCoresTotal: 11}}
	},
	want: []string{"a/m5.large+5"},
	check: func(t *testing.T, p Plan) {
		if p.Unschedulable["default/web-39"]["a"] != "MaxCoresTotal reached (11)" {
			t.Errorf("web-39: %v", p.Unschedulable["default/web-39"])
		}
	},
}, {
	name: "MaxMemoryTotal",
	in: func(t *testing.T) Input {
		return Input{Pending: replicas(40, "web", "cpu", "500m"), Groups: []cloud.NodeGroup{group(t, "a", 100, "m5.large")},
			Limits: Limits{MaxMemoryTotal: 3*8*gib + 1}}
	},
	want: []string{"a/m5.large+3"},
	check: func(t *testing.T, p Plan) {
		if !strings.HasPrefix(p.Unschedulable["default/web-39"]["a"], "MaxMemoryTotal reached") {
			t.Errorf("web-39: %v", p.Unschedulable["default/web-39"])
		}
	},
}, {
	name: "mixed-instance group considers every type",
	in: func(t *testing.T) Input {
		return Input{Pending: replicas(2, "big", "cpu", "3"), Groups: []cloud.NodeGroup{group(t, "mixed", 10, "m5.large", "c5.xlarge")}}
	},
	want: []string{"mixed/c5.xlarge+2"},
}, {
	name: "DaemonSet pods reduce a new node's room: 2 per node, 20 nodes",
	in: func(t *testing.T) Input {
		ds := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: "kube-system"},
			Spec: appsv1.DaemonSetSpec{Template: corev1.PodTemplateSpec{Spec: pod("", "", "cpu", "500m").Spec}}}
		return Input{Pending: replicas(40, "web", "cpu", "500m"), Groups: []cloud.NodeGroup{group(t, "a", 100, "m5.large")},
			DaemonSets: []*appsv1.DaemonSet{ds}}
	},
	want: []string{"a/m5.large+20"},
}, {
	name: "mixed-instance reasons name each type when they differ",
	in: func(t *testing.T) Input {
		p := pod("pinned", "pinned", "cpu", "8")
		p.Spec.NodeSelector = map[string]string{corev1.LabelInstanceTypeStable: "c5.xlarge"}
		return Input{Pending: []simulator.PodInfo{{Pod: p}}, Groups: []cloud.NodeGroup{group(t, "mixed", 10, "m5.large", "c5.xlarge")}}
	},
	check: func(t *testing.T, p Plan) {
		want := "c5.xlarge: Insufficient cpu; m5.large: " + string(simulator.ReasonNodeAffinity)
		if got := p.Unschedulable["default/pinned"]["mixed"]; got != want {
			t.Errorf("reason %q, want %q", got, want)
		}
	},
}, {
	name: "group at MaxSize: pods that would fit say MaxSize, others why they do not fit",
	in: func(t *testing.T) Input {
		g := group(t, "a", 2, "m5.large")
		g.TargetSize = 2
		return Input{Pending: append(replicas(1, "web", "cpu", "1"), replicas(1, "huge", "cpu", "8")...), Groups: []cloud.NodeGroup{g}}
	},
	check: func(t *testing.T, p Plan) {
		if got := p.Unschedulable["default/web-0"]["a"]; got != "group reached MaxSize (2)" {
			t.Errorf("web-0: %q", got)
		}
		if got := p.Unschedulable["default/huge-0"]["a"]; got != "Insufficient cpu" {
			t.Errorf("huge-0: %q", got)
		}
	},
}, {
	name: "unsupported pods are reported, never planned",
	in: func(t *testing.T) Input {
		p := pod("dra", "dra", "cpu", "1")
		p.Spec.ResourceClaims = []corev1.PodResourceClaim{{Name: "gpu"}}
		return Input{Pending: []simulator.PodInfo{{Pod: p}}, Groups: []cloud.NodeGroup{group(t, "a", 10, "m5.large")}}
	},
	check: func(t *testing.T, p Plan) {
		if p.Unsupported["default/dra"] != simulator.UnsupportedResourceClaims {
			t.Errorf("Unsupported = %v", p.Unsupported)
		}
	},
}, {
	name: "a group without a template is skipped with a reason",
	in: func(t *testing.T) Input {
		return Input{Pending: replicas(1, "web", "cpu", "1"), Groups: []cloud.NodeGroup{{ID: "broken", MaxSize: 10}}}
	},
	check: func(t *testing.T, p Plan) {
		if !strings.Contains(p.Unschedulable["default/web-0"]["broken"], "no node template") {
			t.Errorf("Unschedulable = %v", p.Unschedulable)
		}
	},
}, {
	name: "expander chain from the input: priority over least-waste",
	in: func(t *testing.T) Input {
		prio, err := ParsePriorities("10:\n  - big\n1:\n  - .*\n")
		if err != nil {
			t.Fatal(err)
		}
		return Input{Pending: replicas(3, "web", "cpu", "500m"),
			Groups:    []cloud.NodeGroup{group(t, "big", 10, "m5.4xlarge"), group(t, "small", 10, "m5.large")},
			Expanders: Chain{PriorityExpander(prio), LeastWaste()}}
	},
	want: []string{"big/m5.4xlarge+1"},
}, {
	name: "least-waste by default picks the tight fit",
	in: func(t *testing.T) Input {
		return Input{Pending: replicas(3, "web", "cpu", "500m"),
			Groups: []cloud.NodeGroup{group(t, "big", 10, "m5.4xlarge"), group(t, "small", 10, "m5.large")}}
	},
	want: []string{"small/m5.large+1"},
}}

func TestPlanScaleUp(t *testing.T) {
	for _, tc := range scaleUpTests {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in(t)
			p := PlanScaleUp(in)
			if got := deltas(p); !slices.Equal(got, tc.want) {
				t.Errorf("increases = %v, want %v", got, tc.want)
			}
			checkAccounted(t, in, p)
			if tc.check != nil {
				tc.check(t, p)
			}
		})
	}
}

// checkAccounted checks that every pending pod is in exactly one place.
func checkAccounted(t *testing.T, in Input, p Plan) {
	t.Helper()
	count := map[string]int{}
	for k := range p.Placed {
		count[k]++
	}
	for _, inc := range p.Increases {
		for _, k := range inc.Pods {
			count[k]++
		}
	}
	for k := range p.Unschedulable {
		count[k]++
	}
	for k := range p.Unsupported {
		count[k]++
	}
	for _, k := range p.Deferred {
		count[k]++
	}
	for _, info := range in.Pending {
		if k := info.Pod.Namespace + "/" + info.Pod.Name; count[k] != 1 {
			t.Errorf("pod %s accounted %d times, want once", k, count[k])
		}
	}
	if len(count) != len(in.Pending) {
		t.Errorf("plan mentions %d pods, %d pending", len(count), len(in.Pending))
	}
}

func TestPlanScaleUpDeterministic(t *testing.T) {
	pending := append(replicas(25, "web", "cpu", "500m"), replicas(10, "api", "cpu", "1", "memory", "3Gi")...)
	pending = append(pending, replicas(5, "mem", "memory", "12Gi")...)
	groups := []cloud.NodeGroup{group(t, "a", 5, "m5.large"), group(t, "b", 10, "c5.xlarge", "m5.xlarge"),
		group(t, "c", 10, "r5.large"), group(t, "d", 10, "m5.large")}
	want := PlanScaleUp(Input{Pending: pending, Groups: groups})
	if len(want.Increases) == 0 {
		t.Fatal("no increase planned")
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 5 {
		p, g := slices.Clone(pending), slices.Clone(groups)
		r.Shuffle(len(p), func(i, j int) { p[i], p[j] = p[j], p[i] })
		r.Shuffle(len(g), func(i, j int) { g[i], g[j] = g[j], g[i] })
		got := PlanScaleUp(Input{Pending: p, Groups: g})
		if !reflect.DeepEqual(deltas(got), deltas(want)) || !reflect.DeepEqual(got.Totals, want.Totals) ||
			len(got.Unschedulable) != len(want.Unschedulable) {
			t.Fatalf("plan depends on input order:\n got %v %+v\nwant %v %+v", deltas(got), got.Totals, deltas(want), want.Totals)
		}
	}
}

func TestPlanScaleUpDoesNotMutateSnapshot(t *testing.T) {
	s := cluster(t, []*corev1.Node{node(t, "n1", "m5.large")}, nil)
	PlanScaleUp(Input{Snapshot: s, Pending: replicas(10, "web", "cpu", "500m"), Groups: []cloud.NodeGroup{group(t, "a", 10, "m5.large")},
		Upcoming: map[string]int{"a": 1}})
	if names := s.NodeNames(); !slices.Equal(names, []string{"n1"}) {
		t.Errorf("snapshot nodes = %v, want [n1]", names)
	}
	if info, _ := s.Node("n1"); len(info.Pods) != 0 {
		t.Errorf("n1 has %d pods, want 0", len(info.Pods))
	}
}

func TestPlanScaleUpEmptyAndNil(t *testing.T) {
	p := PlanScaleUp(Input{})
	if len(p.Increases) != 0 || p.Placed == nil || p.Unschedulable == nil {
		t.Errorf("empty input: %+v", p)
	}
	p = PlanScaleUp(Input{Pending: []simulator.PodInfo{{}}, Groups: []cloud.NodeGroup{{}}})
	if len(p.Increases) != 0 {
		t.Errorf("nil pod planned: %+v", p)
	}
	p = PlanScaleUp(Input{Pending: replicas(1, "web", "cpu", "1")})
	if _, ok := p.Unschedulable["default/web-0"]; !ok {
		t.Errorf("pod with no groups not reported: %+v", p)
	}
}
