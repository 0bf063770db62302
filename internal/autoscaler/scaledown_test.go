package autoscaler

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kelp-dev/kelp/internal/cloud"
)

var sdNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// sdNode is an m5.large (1930m cpu allocatable) whose instance is
// i-<name>.
func sdNode(t *testing.T, name string) *corev1.Node {
	n := node(t, name, "m5.large")
	n.Spec.ProviderID = "aws:///us-east-1a/i-" + name
	return n
}

// rsPod is a ReplicaSet pod of app "web" requesting cpu.
func rsPod(name, cpu string) *corev1.Pod {
	p := pod(name, "web", "cpu", cpu)
	p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web", UID: "rs", Controller: ptr(true)}}
	return p
}

func ptr[T any](v T) *T { return &v }

// sdInput builds an input of the nodes, all in group "a" (TargetSize the
// node count, MinSize 0), with defaults but UnneededTime 0.
func sdInput(t *testing.T, nodes []*corev1.Node, pods map[string][]*corev1.Pod) ScaleDownInput {
	g := group(t, "a", 100, "m5.large")
	g.TargetSize = len(nodes)
	in := ScaleDownInput{Snapshot: cluster(t, nodes, pods), NodeGroups: map[string]string{}, Options: DefaultScaleDownOptions(), Now: sdNow}
	in.Options.UnneededTime = 0
	for _, n := range nodes {
		in.NodeGroups[n.Name] = "a"
		g.Instances = append(g.Instances, cloud.Instance{ID: "i-" + n.Name, ProviderID: n.Spec.ProviderID, State: cloud.InstanceStateRunning, GroupName: "a"})
	}
	in.Groups = []cloud.NodeGroup{g}
	return in
}

// checkPlan checks the plan's invariant: every node is in exactly one of
// Remove and Blocked.
func checkPlan(t *testing.T, in ScaleDownInput, plan ScaleDownPlan) {
	t.Helper()
	removed := map[string]bool{}
	for _, r := range plan.Remove {
		if removed[r.Node] {
			t.Errorf("node %s removed twice", r.Node)
		}
		removed[r.Node] = true
		if _, ok := plan.Blocked[r.Node]; ok {
			t.Errorf("node %s both removed and blocked (%v)", r.Node, plan.Blocked[r.Node])
		}
	}
	for _, name := range in.Snapshot.NodeNames() {
		if _, ok := plan.Blocked[name]; !ok && !removed[name] {
			t.Errorf("node %s neither removed nor blocked", name)
		}
	}
}

func removedNodes(plan ScaleDownPlan) []string {
	var out []string
	for _, r := range plan.Remove {
		out = append(out, r.Node)
	}
	return out
}

// TestScaleDownBlockers puts one pod (or node change) on n1 and checks
// whether n1 is removed or why not. n2 is busy (1200m of 1930m: not a
// candidate) and has room for 730m.
func TestScaleDownBlockers(t *testing.T) {
	withAnn := func(p *corev1.Pod, kv ...string) *corev1.Pod {
		p.Annotations = map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			p.Annotations[kv[i]] = kv[i+1]
		}
		return p
	}
	noOwner := func(p *corev1.Pod) *corev1.Pod { p.OwnerReferences = nil; return p }
	withVolume := func(p *corev1.Pod, v corev1.VolumeSource) *corev1.Pod {
		p.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: v}}
		return p
	}
	emptyDir := corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}
	inSystem := func(p *corev1.Pod) *corev1.Pod { p.Namespace = metav1.NamespaceSystem; return p }
	pdb := func(ns, name string, allowed int32) *policyv1.PodDisruptionBudget {
		return &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec:   policyv1.PodDisruptionBudgetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}},
			Status: policyv1.PodDisruptionBudgetStatus{DisruptionsAllowed: allowed}}
	}
	daemon := func(p *corev1.Pod) *corev1.Pod {
		p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "DaemonSet", Name: "ds", UID: "ds", Controller: ptr(true)}}
		return p
	}
	for _, tc := range []struct {
		name   string
		pods   []*corev1.Pod // on n1
		pdbs   []*policyv1.PodDisruptionBudget
		modify func(*ScaleDownInput)
		want   BlockReason // "" means n1 is removed
		detail string      // substring of the blocker's detail
	}{
		{name: "replicated pod moves", pods: []*corev1.Pod{rsPod("p", "200m")}},
		{name: "empty node", pods: nil},
		{name: "safe-to-evict false", pods: []*corev1.Pod{withAnn(rsPod("p", "200m"), AnnotationSafeToEvict, "false")}, want: BlockedNotSafeToEvict, detail: "default/p"},
		{name: "do-not-disrupt", pods: []*corev1.Pod{withAnn(rsPod("p", "200m"), AnnotationDoNotDisrupt, "true")}, want: BlockedDoNotDisrupt},
		{name: "no controller", pods: []*corev1.Pod{noOwner(rsPod("p", "200m"))}, want: BlockedNotReplicated, detail: "default/p"},
		{name: "no controller, safe to evict", pods: []*corev1.Pod{withAnn(noOwner(rsPod("p", "200m")), AnnotationSafeToEvict, "true")}},
		{name: "emptyDir", pods: []*corev1.Pod{withVolume(rsPod("p", "200m"), emptyDir)}, want: BlockedLocalStorage, detail: `"data"`},
		{name: "hostPath", pods: []*corev1.Pod{withVolume(rsPod("p", "200m"), corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/x"}})}, want: BlockedLocalStorage},
		{name: "memory emptyDir", pods: []*corev1.Pod{withVolume(rsPod("p", "200m"), corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}})}},
		{name: "emptyDir, safe to evict", pods: []*corev1.Pod{withAnn(withVolume(rsPod("p", "200m"), emptyDir), AnnotationSafeToEvict, "true")}},
		{name: "emptyDir listed safe", pods: []*corev1.Pod{withAnn(withVolume(rsPod("p", "200m"), emptyDir), AnnotationSafeToEvictLocalVolumes, "other, data")}},
		{name: "emptyDir, local storage allowed", pods: []*corev1.Pod{withVolume(rsPod("p", "200m"), emptyDir)},
			modify: func(in *ScaleDownInput) { in.Options.SkipNodesWithLocalStorage = false }},
		{name: "kube-system without PDB", pods: []*corev1.Pod{inSystem(rsPod("p", "200m"))}, want: BlockedKubeSystemPod, detail: "kube-system/p"},
		{name: "kube-system with PDB", pods: []*corev1.Pod{inSystem(rsPod("p", "200m"))}, pdbs: []*policyv1.PodDisruptionBudget{pdb("kube-system", "web", 1)}},
		{name: "kube-system allowed", pods: []*corev1.Pod{inSystem(rsPod("p", "200m"))},
			modify: func(in *ScaleDownInput) { in.Options.SkipNodesWithSystemPods = false }},
		{name: "PDB allows none", pods: []*corev1.Pod{rsPod("p", "200m")}, pdbs: []*policyv1.PodDisruptionBudget{pdb("default", "web-pdb", 0)}, want: BlockedPDB, detail: "default/web-pdb"},
		{name: "PDB allows one", pods: []*corev1.Pod{rsPod("p", "200m")}, pdbs: []*policyv1.PodDisruptionBudget{pdb("default", "web-pdb", 1)}},
		{name: "PDB allows one, two pods", pods: []*corev1.Pod{rsPod("p", "200m"), rsPod("q", "200m")}, pdbs: []*policyv1.PodDisruptionBudget{pdb("default", "web-pdb", 1)}, want: BlockedPDB},
		{name: "PDB in another namespace", pods: []*corev1.Pod{rsPod("p", "200m")}, pdbs: []*policyv1.PodDisruptionBudget{pdb("other", "web-pdb", 0)}},
		{name: "two PDBs", pods: []*corev1.Pod{rsPod("p", "200m")}, pdbs: []*policyv1.PodDisruptionBudget{pdb("default", "a", 5), pdb("default", "b", 5)}, want: BlockedPDB, detail: "more than one PDB"},
		{name: "pod fits nowhere", pods: []*corev1.Pod{rsPod("p", "800m")}, want: BlockedNoPlaceToMove, detail: "Insufficient cpu"},
		{name: "busy node", pods: []*corev1.Pod{rsPod("p", "500m"), rsPod("q", "500m")}, want: BlockedNotUnderutilized},
		// As cluster-autoscaler: DaemonSet pods neither block nor move, but
		// count in utilization unless --ignore-daemonsets-utilization.
		{name: "daemon and mirror pods neither block nor move; ignoring daemonsets' utilization, the node goes", pods: []*corev1.Pod{
			withAnn(daemon(rsPod("ds", "1500m")), AnnotationSafeToEvict, "false"),
			withAnn(noOwner(rsPod("static", "500m")), AnnotationMirrorPod, "x"),
		}, modify: func(in *ScaleDownInput) { in.Options.IgnoreDaemonSetsUtilization = true }},
		{name: "daemon pods count in utilization by default", pods: []*corev1.Pod{daemon(rsPod("ds", "1500m"))},
			want: BlockedNotUnderutilized, detail: "utilization 0.78"},
		{name: "mirror pods never count in utilization", pods: []*corev1.Pod{withAnn(noOwner(rsPod("static", "1500m")), AnnotationMirrorPod, "x")}},
		{name: "scale-down disabled", pods: []*corev1.Pod{rsPod("p", "200m")}, want: BlockedScaleDownDisabled,
			modify: func(in *ScaleDownInput) {
				n := in.Snapshot.Fork()
				info, _ := n.Node("n1")
				c := info.Node.DeepCopy()
				c.Annotations = map[string]string{AnnotationScaleDownDisabled: "true"}
				in.Snapshot = cluster(t, []*corev1.Node{c, sdNode(t, "n2")}, map[string][]*corev1.Pod{"n1": {rsPod("p", "200m")}, "n2": {rsPod("big", "1200m")}})
			}},
		{name: "node in no group", pods: []*corev1.Pod{rsPod("p", "200m")}, want: BlockedNotAutoscaled,
			modify: func(in *ScaleDownInput) { delete(in.NodeGroups, "n1") }},
		{name: "instance not in group", pods: []*corev1.Pod{rsPod("p", "200m")}, want: BlockedNotAutoscaled,
			modify: func(in *ScaleDownInput) { in.Groups[0].Instances = in.Groups[0].Instances[1:] }},
		{name: "group at min size", pods: []*corev1.Pod{rsPod("p", "200m")}, want: BlockedMinSize,
			modify: func(in *ScaleDownInput) { in.Groups[0].MinSize = 2 }},
		{name: "being removed", pods: []*corev1.Pod{rsPod("p", "200m")}, want: BlockedInProgress,
			modify: func(in *ScaleDownInput) { in.InProgress = map[string]bool{"n1": true} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nodes := []*corev1.Node{sdNode(t, "n1"), sdNode(t, "n2")}
			in := sdInput(t, nodes, map[string][]*corev1.Pod{"n1": tc.pods, "n2": {rsPod("big", "1200m")}})
			in.PDBs = tc.pdbs
			if tc.modify != nil {
				tc.modify(&in)
			}
			plan := PlanScaleDown(in)
			checkPlan(t, in, plan)
			if got := plan.Blocked["n2"].Reason; got != BlockedNotUnderutilized {
				t.Errorf("n2 blocked by %q, want %q", got, BlockedNotUnderutilized)
			}
			if tc.want == "" {
				if !slices.Equal(removedNodes(plan), []string{"n1"}) {
					t.Fatalf("removed %v, want [n1]; n1 blocked by %v", removedNodes(plan), plan.Blocked["n1"])
				}
				if _, ok := plan.Unneeded["n1"]; !ok {
					t.Errorf("removed n1 not in Unneeded")
				}
				return
			}
			b, ok := plan.Blocked["n1"]
			if !ok || b.Reason != tc.want || !strings.Contains(b.Detail, tc.detail) {
				t.Errorf("n1 blocked by %v (blocked %t), want %s with detail containing %q", b, ok, tc.want, tc.detail)
			}
		})
	}
}

// TestScaleDownDelays checks each delay and the unneeded time on an empty
// node n1 next to a busy n2.
func TestScaleDownDelays(t *testing.T) {
	for _, tc := range []struct {
		name   string
		modify func(*ScaleDownInput)
		want   BlockReason
	}{
		{name: "no delay", modify: func(*ScaleDownInput) {}},
		{name: "after add, in effect", want: BlockedDelayAfterAdd, modify: func(in *ScaleDownInput) { in.LastScaleUp = sdNow.Add(-9 * time.Minute) }},
		{name: "after add, over", modify: func(in *ScaleDownInput) { in.LastScaleUp = sdNow.Add(-10 * time.Minute) }},
		{name: "after delete, in effect", want: BlockedDelayAfterDelete, modify: func(in *ScaleDownInput) { in.LastDelete = sdNow.Add(-5 * time.Second) }},
		{name: "after delete, over", modify: func(in *ScaleDownInput) { in.LastDelete = sdNow.Add(-11 * time.Second) }},
		{name: "after failure, in effect", want: BlockedDelayAfterFailure, modify: func(in *ScaleDownInput) { in.LastDeleteFailure = sdNow.Add(-2 * time.Minute) }},
		{name: "after failure, over", modify: func(in *ScaleDownInput) { in.LastDeleteFailure = sdNow.Add(-3 * time.Minute) }},
		{name: "after add, zero delay", modify: func(in *ScaleDownInput) { in.LastScaleUp = sdNow; in.Options.DelayAfterAdd = 0 }},
		{name: "unneeded too short", want: BlockedNotUnneededLongEnough, modify: func(in *ScaleDownInput) {
			in.Options.UnneededTime = 10 * time.Minute
			in.UnneededSince = map[string]time.Time{"n1": sdNow.Add(-9 * time.Minute)}
		}},
		{name: "unneeded long enough", modify: func(in *ScaleDownInput) {
			in.Options.UnneededTime = 10 * time.Minute
			in.UnneededSince = map[string]time.Time{"n1": sdNow.Add(-10 * time.Minute)}
		}},
		{name: "first seen unneeded now", want: BlockedNotUnneededLongEnough, modify: func(in *ScaleDownInput) { in.Options.UnneededTime = time.Second }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := sdInput(t, []*corev1.Node{sdNode(t, "n1"), sdNode(t, "n2")}, map[string][]*corev1.Pod{"n2": {rsPod("big", "1200m")}})
			tc.modify(&in)
			plan := PlanScaleDown(in)
			checkPlan(t, in, plan)
			// Unneeded time keeps counting while removals wait.
			since, ok := plan.Unneeded["n1"]
			want := sdNow
			if t0, had := in.UnneededSince["n1"]; had {
				want = t0
			}
			if !ok || !since.Equal(want) {
				t.Errorf("Unneeded[n1] = %v (%t), want %v", since, ok, want)
			}
			if tc.want == "" {
				if !slices.Equal(removedNodes(plan), []string{"n1"}) {
					t.Errorf("removed %v, want [n1]; n1 blocked by %v", removedNodes(plan), plan.Blocked["n1"])
				}
				return
			}
			if got := plan.Blocked["n1"].Reason; got != tc.want {
				t.Errorf("n1 blocked by %v, want %s", plan.Blocked["n1"], tc.want)
			}
		})
	}
}

// emptyNodes returns n empty nodes e0..e(n-1) and a busy node.
func emptyNodes(t *testing.T, n int) ([]*corev1.Node, map[string][]*corev1.Pod) {
	var nodes []*corev1.Node
	for i := range n {
		nodes = append(nodes, sdNode(t, fmt.Sprintf("e%02d", i)))
	}
	nodes = append(nodes, sdNode(t, "busy"))
	return nodes, map[string][]*corev1.Pod{"busy": {rsPod("big", "1200m")}}
}

func TestScaleDownRoundLimits(t *testing.T) {
	t.Run("empty nodes in bulk up to the limit", func(t *testing.T) {
		nodes, pods := emptyNodes(t, 12)
		in := sdInput(t, nodes, pods)
		plan := PlanScaleDown(in)
		checkPlan(t, in, plan)
		if len(plan.Remove) != 10 {
			t.Errorf("removed %d nodes, want 10 (MaxEmptyBulkDelete)", len(plan.Remove))
		}
		for _, name := range []string{"e10", "e11"} {
			if plan.Blocked[name].Reason != BlockedMaxEmptyBulkDelete {
				t.Errorf("%s blocked by %v, want %s", name, plan.Blocked[name], BlockedMaxEmptyBulkDelete)
			}
		}
		for _, r := range plan.Remove {
			if !r.Empty || r.Group != "a" || r.InstanceID != "i-"+r.Node || len(r.Evict) != 0 {
				t.Errorf("removal %+v: want an empty node of group a with its instance id", r)
			}
		}
	})
	t.Run("group min size holds across the round", func(t *testing.T) {
		nodes, pods := emptyNodes(t, 5)
		in := sdInput(t, nodes, pods)
		in.Groups[0].MinSize = 4 // target 6: two may go
		in.InProgress = map[string]bool{"e04": true}
		plan := PlanScaleDown(in)
		checkPlan(t, in, plan)
		if !slices.Equal(removedNodes(plan), []string{"e00"}) {
			t.Errorf("removed %v, want [e00] (target 6, min 4, one in progress)", removedNodes(plan))
		}
		if plan.Blocked["e01"].Reason != BlockedMinSize {
			t.Errorf("e01 blocked by %v, want %s", plan.Blocked["e01"], BlockedMinSize)
		}
	})
	t.Run("drains up to the parallelism, in progress included", func(t *testing.T) {
		nodes := []*corev1.Node{sdNode(t, "a1"), sdNode(t, "a2"), sdNode(t, "a3"), sdNode(t, "roomy")}
		pods := map[string][]*corev1.Pod{"a1": {rsPod("p1", "100m")}, "a2": {rsPod("p2", "200m")}, "a3": {rsPod("p3", "300m")}, "roomy": {rsPod("big", "1000m")}}
		in := sdInput(t, nodes, pods)
		in.Options.MaxDrainParallelism = 2
		plan := PlanScaleDown(in)
		checkPlan(t, in, plan)
		if !slices.Equal(removedNodes(plan), []string{"a1", "a2"}) {
			t.Errorf("removed %v, want the two least utilized [a1 a2]", removedNodes(plan))
		}
		if plan.Blocked["a3"].Reason != BlockedMaxDrainParallelism {
			t.Errorf("a3 blocked by %v, want %s", plan.Blocked["a3"], BlockedMaxDrainParallelism)
		}
		if r := plan.Remove[0]; r.Empty || !slices.Equal(r.Evict, []string{"default/p1"}) {
			t.Errorf("removal %+v: want p1 evicted", r)
		}
		in.InProgress = map[string]bool{"a1": true}
		plan = PlanScaleDown(in)
		checkPlan(t, in, plan)
		if !slices.Equal(removedNodes(plan), []string{"a2"}) {
			t.Errorf("with a1 in progress removed %v, want [a2]", removedNodes(plan))
		}
	})
	t.Run("never onto a node removed in the same round", func(t *testing.T) {
		// Each node alone could take the other's pod; both cannot go.
		nodes := []*corev1.Node{sdNode(t, "x"), sdNode(t, "y")}
		in := sdInput(t, nodes, map[string][]*corev1.Pod{"x": {rsPod("px", "300m")}, "y": {rsPod("py", "400m")}})
		in.Options.MaxDrainParallelism = 5
		plan := PlanScaleDown(in)
		checkPlan(t, in, plan)
		if len(plan.Unneeded) != 2 {
			t.Errorf("unneeded %v, want both nodes", plan.Unneeded)
		}
		if !slices.Equal(removedNodes(plan), []string{"x"}) {
			t.Errorf("removed %v, want [x]", removedNodes(plan))
		}
		if b := plan.Blocked["y"]; b.Reason != BlockedNoPlaceToMove || !strings.Contains(b.Detail, "removed this round") {
			t.Errorf("y blocked by %v, want %s naming the round", b, BlockedNoPlaceToMove)
		}
	})
	t.Run("PDB budget is shared by the round", func(t *testing.T) {
		nodes := []*corev1.Node{sdNode(t, "x"), sdNode(t, "y"), sdNode(t, "roomy")}
		in := sdInput(t, nodes, map[string][]*corev1.Pod{"x": {rsPod("px", "100m")}, "y": {rsPod("py", "100m")}, "roomy": {rsPod("big", "1000m")}})
		in.Options.MaxDrainParallelism = 5
		in.PDBs = []*policyv1.PodDisruptionBudget{{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web"},
			Spec:   policyv1.PodDisruptionBudgetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}},
			Status: policyv1.PodDisruptionBudgetStatus{DisruptionsAllowed: 1}}}
		plan := PlanScaleDown(in)
		checkPlan(t, in, plan)
		// big is covered too, but roomy is not a candidate.
		if !slices.Equal(removedNodes(plan), []string{"x"}) {
			t.Errorf("removed %v, want [x]", removedNodes(plan))
		}
		if b := plan.Blocked["y"]; b.Reason != BlockedPDB || !strings.Contains(b.Detail, "default/web allows 0 more") {
			t.Errorf("y blocked by %v, want %s naming default/web", b, BlockedPDB)
		}
	})
	t.Run("pods of a node being drained need room", func(t *testing.T) {
		// d (in progress) holds 900m that will land on x (first fit): x is
		// then busy, and y's 900m has no room left.
		nodes := []*corev1.Node{sdNode(t, "d"), sdNode(t, "x"), sdNode(t, "y")}
		in := sdInput(t, nodes, map[string][]*corev1.Pod{"d": {rsPod("pd", "900m")}, "x": {rsPod("px", "400m")}, "y": {rsPod("py", "900m")}})
		in.InProgress = map[string]bool{"d": true}
		in.Options.MaxDrainParallelism = 5
		plan := PlanScaleDown(in)
		checkPlan(t, in, plan)
		if len(plan.Remove) != 0 {
			t.Errorf("removed %v, want none: pd takes the room", removedNodes(plan))
		}
	})
}

func TestScaleDownOptionsValidate(t *testing.T) {
	if err := DefaultScaleDownOptions().Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
	o := ScaleDownOptions{UtilizationThreshold: 1.5, UnneededTime: -1, MaxEmptyBulkDelete: -1, MaxDrainParallelism: -2,
		CandidatesPoolRatio: 2, CandidatesPoolMinCount: -1}
	err := o.Validate()
	for _, want := range []string{"threshold 1.5", "unneeded time", "max empty bulk delete", "max drain parallelism",
		"candidates pool ratio 2", "candidates pool min count -1"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want it to name %q", err, want)
		}
	}
}

// TestScaleDownDoesNotMutate checks that the snapshot is left as given.
func TestScaleDownDoesNotMutate(t *testing.T) {
	nodes := []*corev1.Node{sdNode(t, "x"), sdNode(t, "y")}
	in := sdInput(t, nodes, map[string][]*corev1.Pod{"x": {rsPod("px", "300m")}, "y": {rsPod("py", "400m")}})
	in.InProgress = map[string]bool{"y": true}
	before := map[string]int{}
	for _, n := range in.Snapshot.NodeNames() {
		info, _ := in.Snapshot.Node(n)
		before[n] = len(info.Pods)
	}
	first := PlanScaleDown(in)
	second := PlanScaleDown(in)
	if fmt.Sprint(first) != fmt.Sprint(second) {
		t.Errorf("same input, different plans:\n%v\n%v", first, second)
	}
	for n, want := range before {
		info, ok := in.Snapshot.Node(n)
		if !ok || len(info.Pods) != want {
			t.Errorf("snapshot node %s changed: %d pods (present %t), want %d", n, len(info.Pods), ok, want)
		}
	}
}

// BenchmarkPlanScaleDown plans on 200 m5.large nodes with 6 pods of 100m
// each (all unneeded; each check simulates moving 6 pods).
func BenchmarkPlanScaleDown(b *testing.B) {
	t := &testing.T{}
	var nodes []*corev1.Node
	pods := map[string][]*corev1.Pod{}
	for i := range 200 {
		name := fmt.Sprintf("n%03d", i)
		nodes = append(nodes, sdNode(t, name))
		for j := range 6 {
			pods[name] = append(pods[name], rsPod(fmt.Sprintf("%s-%d", name, j), "100m"))
		}
	}
	in := sdInput(t, nodes, pods)
	in.Options.MaxDrainParallelism = 10
	b.ResetTimer()
	for b.Loop() {
		plan := PlanScaleDown(in)
		if len(plan.Remove) != 10 {
			b.Fatalf("removed %d, want 10", len(plan.Remove))
		}
	}
}
