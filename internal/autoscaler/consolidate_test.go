package autoscaler

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/simulator"
)

// antiPod returns a pod of app that keeps off nodes holding another pod
// of app (one per node).
func antiPod(name, app string, kv ...string) *corev1.Pod {
	p := pod(name, app, kv...)
	p.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{TopologyKey: corev1.LabelHostname,
			LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}}}}}}
	return p
}

// hostSpreadPod returns a pod of app spread over hostnames, maxSkew 1.
func hostSpreadPod(name, app string, kv ...string) *corev1.Pod {
	p := pod(name, app, kv...)
	p.Spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{MaxSkew: 1,
		TopologyKey: corev1.LabelHostname, WhenUnsatisfiable: corev1.DoNotSchedule,
		LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}}}}
	return p
}

// TestConsolidate plans nodes by hand (type, pods per node) in group g of
// m5.large ($0.096/h, 2 vCPUs), m5.xlarge ($0.192/h) and m5.2xlarge
// ($0.384/h), consolidates, and checks the increases left, that every pod
// is accounted once and fits where the plan puts it.
func TestConsolidate(t *testing.T) {
	past := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		typ    string
		nodes  [][]*corev1.Pod
		budget Budget
		// busy adds a real node without room, a hostname domain.
		busy bool
		want []string
	}{{
		name:  "a half-empty node's pod moves, the node left shrinks",
		typ:   "m5.2xlarge",
		nodes: [][]*corev1.Pod{{pod("a-0", "a", "cpu", "400m")}, {pod("a-1", "a", "cpu", "400m")}},
		want:  []string{"g/m5.large+1"},
	}, {
		name:  "one-per-node pods keep their nodes, each shrinks",
		typ:   "m5.2xlarge",
		nodes: [][]*corev1.Pod{{antiPod("x-0", "x", "cpu", "400m")}, {antiPod("x-1", "x", "cpu", "400m")}},
		want:  []string{"g/m5.large+2"},
	}, {
		name:  "two full nodes merge into one of the same cost",
		typ:   "m5.large",
		nodes: [][]*corev1.Pod{{pod("a-0", "a", "cpu", "1200m")}, {pod("b-0", "b", "cpu", "1200m")}},
		want:  []string{"g/m5.xlarge+1"},
	}, {
		name: "hostname spread keeps its pods apart",
		typ:  "m5.large",
		nodes: [][]*corev1.Pod{
			{hostSpreadPod("s-0", "s", "cpu", "100m")},
			{hostSpreadPod("s-1", "s", "cpu", "100m")},
		},
		busy: true,
		want: []string{"g/m5.large+2"},
	}, {
		name: "hostname spread on new nodes only: one node is one domain",
		typ:  "m5.large",
		nodes: [][]*corev1.Pod{
			{hostSpreadPod("s-0", "s", "cpu", "100m")},
			{hostSpreadPod("s-1", "s", "cpu", "100m")},
		},
		want: []string{"g/m5.large+1"},
	}, {
		name: "a pod moves to a node that moves up a type: the two cost less",
		typ:  "m5.2xlarge",
		nodes: [][]*corev1.Pod{
			{antiPod("x-0", "x", "cpu", "3000m"), pod("a-0", "a", "cpu", "1700m")},
			{antiPod("x-1", "x", "cpu", "400m")},
		},
		want: []string{"g/m5.xlarge+2"},
	}, {
		name: "the move up costs what the move down saves: nothing moves",
		typ:  "m5.xlarge",
		nodes: [][]*corev1.Pod{
			{antiPod("x-0", "x", "cpu", "1000m"), pod("a-0", "a", "cpu", "1700m")},
			{antiPod("x-1", "x", "cpu", "400m")},
		},
		want: []string{"g/m5.xlarge+1", "g/m5.large+1"},
	}, {
		name: "the move up would crowd a hostname spread: nothing moves",
		typ:  "m5.2xlarge",
		nodes: [][]*corev1.Pod{
			{antiPod("x-0", "x", "cpu", "3000m"), hostSpreadPod("s-0", "s", "cpu", "1700m")},
			{antiPod("x-1", "x", "cpu", "300m"), hostSpreadPod("s-1", "s", "cpu", "100m")},
		},
		want: []string{"g/m5.2xlarge+1", "g/m5.large+1"},
	}, {
		name:   "time budget spent: nothing changes",
		typ:    "m5.2xlarge",
		nodes:  [][]*corev1.Pod{{pod("a-0", "a", "cpu", "400m")}, {pod("a-1", "a", "cpu", "400m")}},
		budget: Budget{Deadline: past, Now: func() time.Time { return past }},
		want:   []string{"g/m5.2xlarge+2"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			in := Input{Groups: groupsOf(t), Budget: tc.budget}
			if tc.busy {
				in.Snapshot = cluster(t, []*corev1.Node{node(t, "old", "m5.large")},
					map[string][]*corev1.Pod{"old": {pod("busy", "busy", "cpu", "1800m")}})
			}
			p := newPlanner(in)
			planNodes(t, p, tc.typ, tc.nodes)
			for _, n := range tc.nodes {
				for _, q := range n {
					in.Pending = append(in.Pending, simulator.PodInfo{Pod: q})
				}
			}
			p.consolidate()
			p.finish()
			if got := deltas(p.plan); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("increases %v, want %v", got, tc.want)
			}
			checkAccounted(t, in, p.plan)
			checkFits(t, p.plan, p.work)
			var cost float64
			for _, inc := range p.plan.Increases {
				cost += inc.Cost
			}
			if cost != p.plan.Totals.Cost || cost <= 0 {
				t.Errorf("increases cost %v, totals %v", cost, p.plan.Totals.Cost)
			}
		})
	}
}

func groupsOf(tb testing.TB) []cloud.NodeGroup {
	return []cloud.NodeGroup{group(tb, "g", 10, "m5.large", "m5.xlarge", "m5.2xlarge")}
}

// planNodes records new nodes of type typ in p's only group, each with
// its pods, as the rounds would have.
func planNodes(t *testing.T, p *planner, typ string, nodes [][]*corev1.Pod) {
	t.Helper()
	g := p.groups[0]
	it, _ := g.Template.InstanceType(typ)
	tmpl, ds, ok := p.template(g, it)
	if !ok {
		t.Fatalf("no template for %s", typ)
	}
	p.plan.Increases = []Increase{{Group: g.ID, InstanceType: typ}}
	for i, pods := range nodes {
		name := fmt.Sprintf("%s-new-%d", tmpl.Name, i)
		if err := p.work.AddTemplateNode(tmpl, name, ds); err != nil {
			t.Fatal(err)
		}
		p.newNode[name] = 0
		inc := &p.plan.Increases[0]
		inc.Delta++
		inc.Cost += it.Price
		p.grown[g.ID]++
		for _, q := range pods {
			sp := simulator.NewPod(simulator.PodInfo{Pod: q})
			if ok, why := simulator.Fits(p.work, sp, name); !ok {
				t.Fatalf("pod %s does not fit %s: %s", sp.Key(), name, why)
			}
			if err := p.work.AddPod(name, sp); err != nil {
				t.Fatal(err)
			}
			p.record(sp.Key(), name)
		}
	}
}
