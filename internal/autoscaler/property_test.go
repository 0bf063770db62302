package autoscaler

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/simulator"
)

var propertyTypes = []string{"m5.large", "m5.xlarge", "c5.large", "c5.xlarge", "r5.large", "t3.medium", "g4dn.xlarge"}

// randomInput builds a seeded scenario: existing nodes partly full, groups
// (some mixed, tainted, in backoff, near MaxSize), pending pods of a few
// classes (some GPU, some with selectors or tolerations), limits.
func randomInput(t *testing.T, r *rand.Rand) Input {
	in := Input{Now: now, Snapshot: simulator.NewSnapshot(), Upcoming: map[string]int{}, Backoff: map[string]Backoff{}}
	for i := range r.IntN(6) {
		n := node(t, fmt.Sprintf("n%d", i), propertyTypes[r.IntN(len(propertyTypes)-1)])
		if err := in.Snapshot.AddNode(n); err != nil {
			t.Fatal(err)
		}
		fill := simulator.NewPod(simulator.PodInfo{Pod: pod(fmt.Sprintf("fill-%d", i), "fill", "cpu", fmt.Sprintf("%dm", 500+r.IntN(1500)))})
		if err := in.Snapshot.AddPod(n.Name, fill); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 1 + r.IntN(5) {
		var types []string
		for range 1 + r.IntN(3) {
			types = append(types, propertyTypes[r.IntN(len(propertyTypes))])
		}
		types = dedupe(types)
		g := group(t, fmt.Sprintf("g%d", i), r.IntN(9), types...)
		g.TargetSize = min(r.IntN(3), g.MaxSize)
		in.Upcoming[g.ID] = r.IntN(g.TargetSize + 1)
		if r.IntN(3) == 0 {
			g = tainted(g, "dedicated")
		}
		if r.IntN(5) == 0 {
			in.Backoff[g.ID] = Backoff{Until: now.Add(time.Duration(r.IntN(3)-1) * time.Minute)}
		}
		in.Groups = append(in.Groups, g)
	}
	for c := range 1 + r.IntN(5) {
		kv := []string{"cpu", fmt.Sprintf("%dm", 100*(1+r.IntN(40))), "memory", fmt.Sprintf("%dMi", 128*(1+r.IntN(100)))}
		if r.IntN(6) == 0 {
			kv = append(kv, "nvidia.com/gpu", "1")
		}
		pods := replicas(1+r.IntN(15), fmt.Sprintf("app%d", c), kv...)
		for _, p := range pods {
			if c%3 == 1 {
				p.Pod.Spec.Tolerations = []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpExists}}
			}
			if c%4 == 2 {
				p.Pod.Spec.NodeSelector = map[string]string{"kelp.dev/pool": "g0"}
			}
		}
		in.Pending = append(in.Pending, pods...)
	}
	if r.IntN(2) == 0 {
		in.DaemonSets = []*appsv1.DaemonSet{{ObjectMeta: metav1.ObjectMeta{Name: "proxy", Namespace: "kube-system"},
			Spec: appsv1.DaemonSetSpec{Template: corev1.PodTemplateSpec{Spec: pod("", "", "cpu", "100m").Spec}}}}
	}
	switch r.IntN(4) {
	case 0:
		in.Limits.MaxNodesTotal = r.IntN(12)
	case 1:
		in.Limits.MaxCoresTotal = int64(r.IntN(30))
	case 2:
		in.Limits.MaxMemoryTotal = int64(r.IntN(100)) << 30
	}
	return in
}

func dedupe(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// TestPlanProperties checks, on seeded random scenarios, that the plan
// accounts for every pod once, places no pod where simulator.Fits says no,
// plans exactly the nodes it reports, and respects MaxSize and the limits.
func TestPlanProperties(t *testing.T) {
	var grew, placed, unschedulable, limited int
	defer func() {
		// The scenarios must exercise every outcome, or the test proves little.
		if grew < 50 || placed < 20 || unschedulable < 50 || limited < 10 {
			t.Errorf("weak scenarios: %d grew, %d placed on existing, %d unschedulable, %d limited", grew, placed, unschedulable, limited)
		}
	}()
	for seed := range uint64(300) {
		r := rand.New(rand.NewPCG(seed, 42))
		in := randomInput(t, r)
		before := snapshotUsage(in.Snapshot)
		plan, final := planScaleUp(in)
		grew += min(len(plan.Increases), 1)
		placed += min(len(plan.Placed), 1)
		unschedulable += min(len(plan.Unschedulable), 1)
		for _, why := range plan.Unschedulable {
			if strings.Contains(fmt.Sprint(why), "Total reached") {
				limited++
				break
			}
		}
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			checkAccounted(t, in, plan)
			checkFits(t, plan, final)
			checkBounds(t, in, plan, before)
			if again := PlanScaleUp(in); !reflect.DeepEqual(again, plan) {
				t.Errorf("second plan differs:\n%+v\n%+v", again, plan)
			}
		})
	}
}

// checkFits finds every planned pod in the final snapshot, on the node the
// plan says (or a new node of its increase), and asks simulator.Fits
// whether it fits there without itself.
func checkFits(t *testing.T, plan Plan, final *simulator.Snapshot) {
	t.Helper()
	for _, v := range fitViolations(plan, final) {
		t.Error(v)
	}
}

// fitViolations lists the problems checkFits reports.
func fitViolations(plan Plan, final *simulator.Snapshot) []string {
	var out []string
	errorf := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	incOf := map[string]Increase{}
	for _, inc := range plan.Increases {
		for _, k := range inc.Pods {
			incOf[k] = inc
		}
	}
	newNodes := map[string]int{}
	for _, name := range final.NodeNames() {
		info, _ := final.Node(name)
		if strings.Contains(name, "-new-") {
			newNodes[info.Node.Labels["kelp.dev/pool"]+"/"+info.Node.Labels[corev1.LabelInstanceTypeStable]]++
		}
		for _, q := range info.Pods {
			key := q.Key()
			inc, planned := incOf[key]
			switch {
			case plan.Placed[key] != "":
				if plan.Placed[key] != name {
					errorf("pod %s on %s, plan says %s", key, name, plan.Placed[key])
				}
			case planned:
				if !info.Template || info.Node.Labels[corev1.LabelInstanceTypeStable] != inc.InstanceType ||
					info.Node.Labels["kelp.dev/pool"] != inc.Group {
					errorf("pod %s of increase %s/%s on node %s", key, inc.Group, inc.InstanceType, name)
				}
			default:
				continue // a pod bound before, or a daemon pod
			}
			f := final.Fork()
			if err := f.RemovePod(name, key); err != nil {
				errorf("remove pod %s: %v", key, err)
				continue
			}
			if ok, why := simulator.Fits(f, q, name); !ok {
				errorf("pod %s planned on %s where it does not fit: %s", key, name, why)
			}
		}
	}
	for _, inc := range plan.Increases {
		if k := inc.Group + "/" + inc.InstanceType; newNodes[k] != inc.Delta {
			errorf("increase %s +%d, but %d new nodes simulated", k, inc.Delta, newNodes[k])
		}
	}
	return out
}

// checkBounds checks MaxSize, backoff and the cluster limits.
func checkBounds(t *testing.T, in Input, plan Plan, existing usage) {
	t.Helper()
	groups := map[string]cloud.NodeGroup{}
	for _, g := range in.Groups {
		groups[g.ID] = g
	}
	total := existing
	for _, g := range in.Groups {
		if n := in.Upcoming[g.ID]; n > 0 {
			total.add(n, g.Template.InstanceTypes[0])
		}
	}
	grown := map[string]int{}
	for _, inc := range plan.Increases {
		g := groups[inc.Group]
		grown[g.ID] += inc.Delta
		if b, ok := in.Backoff[g.ID]; ok && in.Now.Before(b.Until) {
			t.Errorf("group %s in backoff grown", g.ID)
		}
		it, ok := g.Template.InstanceType(inc.InstanceType)
		if !ok || inc.Delta <= 0 || len(inc.Pods) == 0 {
			t.Errorf("bad increase %+v", inc)
		}
		total.add(inc.Delta, it)
	}
	for id, n := range grown {
		if g := groups[id]; g.TargetSize+n > g.MaxSize {
			t.Errorf("group %s planned to %d, MaxSize %d", id, g.TargetSize+n, g.MaxSize)
		}
	}
	l := in.Limits
	grew := len(plan.Increases) > 0
	if grew && l.MaxNodesTotal > 0 && total.nodes > l.MaxNodesTotal {
		t.Errorf("nodes %d > MaxNodesTotal %d", total.nodes, l.MaxNodesTotal)
	}
	if grew && l.MaxCoresTotal > 0 && total.cores > l.MaxCoresTotal {
		t.Errorf("cores %d > MaxCoresTotal %d", total.cores, l.MaxCoresTotal)
	}
	if grew && l.MaxMemoryTotal > 0 && total.memory > l.MaxMemoryTotal {
		t.Errorf("memory %d > MaxMemoryTotal %d", total.memory, l.MaxMemoryTotal)
	}
}

var propertyZones = []string{"us-east-1a", "us-east-1b", "us-east-1c"}

// randomConstrainedInput is randomInput over three zones, with some
// classes given hostname anti-affinity (against their own app, or against
// another app), zone anti-affinity, zone topology spread, or both hostname
// anti-affinity and zone spread, and a
// DaemonSet sometimes selected by a class: inside and outside the
// Packer's bulk model.
func randomConstrainedInput(t *testing.T, r *rand.Rand) Input {
	in := randomInput(t, r)
	for _, name := range in.Snapshot.NodeNames() {
		info, _ := in.Snapshot.Node(name)
		info.Node.Labels[corev1.LabelTopologyZone] = propertyZones[r.IntN(len(propertyZones))]
	}
	for i := range in.Groups {
		z := propertyZones[r.IntN(len(propertyZones))]
		in.Groups[i].Template.Zones = []string{z}
		in.Groups[i].Template.Labels[corev1.LabelTopologyZone] = z
	}
	kind := map[string]int{}
	for _, p := range in.Pending {
		app := p.Pod.Labels["app"]
		k, ok := kind[app]
		if !ok {
			k = r.IntN(8)
			kind[app] = k
		}
		term := func(topology, target string) []corev1.PodAffinityTerm {
			return []corev1.PodAffinityTerm{{TopologyKey: topology,
				LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": target}}}}
		}
		switch k {
		case 1, 2: // the bulk model: one per node
			p.Pod.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
				RequiredDuringSchedulingIgnoredDuringExecution: term(corev1.LabelHostname, app)}}
		case 3, 4: // the bulk model: zone spread
			p.Pod.Spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{
				MaxSkew: int32(k - 2), TopologyKey: corev1.LabelTopologyZone, WhenUnsatisfiable: corev1.DoNotSchedule,
				LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}}}}
		case 6: // the bulk model: one per node and zone spread
			p.Pod.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
				RequiredDuringSchedulingIgnoredDuringExecution: term(corev1.LabelHostname, app)}}
			p.Pod.Spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{
				MaxSkew: 1, TopologyKey: corev1.LabelTopologyZone, WhenUnsatisfiable: corev1.DoNotSchedule,
				LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}}}}
		case 5: // outside: anti-affinity against another class, or per zone
			topology := []string{corev1.LabelHostname, corev1.LabelTopologyZone}[r.IntN(2)]
			p.Pod.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
				RequiredDuringSchedulingIgnoredDuringExecution: term(topology, "app0")}}
		}
	}
	return in
}

// TestPackerMatchesReference plans seeded random inputs with the Packer
// and pod by pod (the reference): the plans must be the same, and the
// fast plan must satisfy every constraint when its pods are placed again
// with the simulator's predicates.
func TestPackerMatchesReference(t *testing.T) {
	var fast int
	for seed := range uint64(400) {
		r := rand.New(rand.NewPCG(seed, 7))
		in := randomConstrainedInput(t, r)
		before := snapshotUsage(in.Snapshot)
		pl := newPlanner(in)
		plan, final := pl.run()
		if pl.packed > 0 {
			fast++
		}
		ref := newPlanner(in)
		ref.reference = true
		want, refFinal := ref.run()
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			checkAccounted(t, in, plan)
			checkBounds(t, in, plan, before)
			// Pod-by-pod planning places spread replicas on existing nodes
			// before a later round adds a zone, so the final cluster may
			// show skew the reference shows too: compare, do not demand none.
			// New nodes are named differently (the reference numbers the
			// nodes it tried and dropped too): compare the pods.
			got := fitViolations(plan, final)
			if g, r := violatingPods(got), violatingPods(fitViolations(want, refFinal)); !reflect.DeepEqual(g, r) {
				t.Errorf("re-placing the pods: Packer plan %q, reference %q", g, r)
			}
			for _, v := range got {
				if !strings.HasSuffix(v, string(simulator.ReasonSpread)) {
					t.Error(v)
				}
			}
			if plan.Totals.Nodes > want.Totals.Nodes {
				t.Errorf("Packer plans %d nodes, pod by pod %d", plan.Totals.Nodes, want.Totals.Nodes)
			}
			if !reflect.DeepEqual(plan, want) {
				t.Errorf("plans differ:\nfast %+v\nref  %+v", plan, want)
			}
		})
	}
	if fast < 200 {
		t.Errorf("only %d of 400 scenarios used the Packer", fast)
	}
}

// violatingPods returns the pods that fitViolations names, in order.
func violatingPods(violations []string) []string {
	var out []string
	for _, v := range violations {
		out = append(out, strings.SplitN(v, " planned on ", 2)[0])
	}
	return out
}
