package loop

import (
	"context"
	"slices"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/kelp-dev/kelp/internal/autoscaler"
)

// priorityClass creates a PriorityClass of value for the test.
func (h *harness) priorityClass(value int32) string {
	h.t.Helper()
	pc := &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{GenerateName: h.ns + "-prio-"}, Value: value}
	pc, err := h.env.Client.SchedulingV1().PriorityClasses().Create(context.Background(), pc, metav1.CreateOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() {
		_ = h.env.Client.SchedulingV1().PriorityClasses().Delete(context.Background(), pc.Name, metav1.DeleteOptions{})
	})
	// The Priority admission plugin resolves the class from its cache:
	// wait until a pod naming it is admitted.
	probe := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "priority-probe"}, Spec: podSpec("1m", pc.Name)}
	err = wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := h.env.Client.CoreV1().Pods(h.ns).Create(ctx, probe, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		return err == nil, nil
	})
	if err != nil {
		h.t.Fatalf("priority class %s never admitted: %v", pc.Name, err)
	}
	return pc.Name
}

// podSpec requests cpu, with priority class pc ("" for none), deleted at
// once.
func podSpec(cpu, pc string) corev1.PodSpec {
	zero := int64(0)
	return corev1.PodSpec{PriorityClassName: pc, TerminationGracePeriodSeconds: &zero, Containers: []corev1.Container{{
		Name: "c", Image: "registry.k8s.io/pause:3.10",
		Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}}}}}
}

// unscheduledPod creates a pod no scheduler handles and marks it
// unschedulable, nominated to node when node is not "".
func (h *harness) unscheduledPod(name, cpu, pc, node string) {
	h.t.Helper()
	ctx := context.Background()
	spec := podSpec(cpu, pc)
	spec.SchedulerName = "kelp-test-no-scheduler"
	p, err := h.env.Client.CoreV1().Pods(h.ns).Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: spec}, metav1.CreateOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	p.Status.NominatedNodeName = node
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable,
		LastTransitionTime: metav1.Now()}}
	if _, err := h.env.Client.CoreV1().Pods(h.ns).UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		h.t.Fatal(err)
	}
}

// TestPendingPodsLeftOutOfScaleUp: an expendable pod, a pod waiting for a
// preemption on an existing node and a pod younger than
// --new-pod-scale-up-delay trigger no scale-up; the status and the metric
// count them. Once old enough, the young pod scales up.
func TestPendingPodsLeftOutOfScaleUp(t *testing.T) {
	o := Options{Pending: &autoscaler.PendingOptions{ExpendablePodsPriorityCutoff: -10, NewPodScaleUpDelay: time.Minute}}
	h := newHarness(t, o, testGroup(t, "general", "m5.large", 0, 10))
	nodes := h.addNodes("general", 1, "100m", nil)
	h.unscheduledPod("expendable", "1500m", h.priorityClass(-11), "")
	h.unscheduledPod("preempting", "1500m", "", nodes[0])
	h.unscheduledPod("young", "1500m", "", "")
	h.waitUnschedulable(3)
	h.clock.SetTime(time.Now())

	c := h.runOnce()
	if got := h.cloud.setCalls(); len(got) != 0 {
		t.Fatalf("scaled up %v; plan %+v", got, c.Plan)
	}
	st := h.status()
	want := map[string]int{"expendable": 1, "preempting": 1, "too-new": 1}
	if got := st.LastDecision.Ignored; len(got) != 3 || got["expendable"] != 1 || got["preempting"] != 1 || got["too-new"] != 1 {
		t.Fatalf("status ignoredPods %v, want %v", got, want)
	}
	if st.UnschedulablePods != 3 {
		t.Fatalf("status unschedulablePods %d, want 3", st.UnschedulablePods)
	}

	h.clock.Step(2 * time.Minute)
	c = h.runOnce()
	if got := h.cloud.setCalls(); !slices.Equal(got, []string{"general=2"}) {
		t.Fatalf("scale-ups %v, want the young pod's [general=2]; plan %+v", got, c.Plan)
	}
	if len(c.Plan.Increases) != 1 || !slices.Equal(c.Plan.Increases[0].Pods, []string{h.ns + "/young"}) {
		t.Fatalf("increases %+v, want one for the young pod only", c.Plan.Increases)
	}
}

// TestExpendablePodsDoNotBlockScaleDown: a node whose only big pod is
// expendable is underutilized, and the other node's pod fits on it (it
// would not if the expendable pod counted: 100m + 1800m + 100m > 1930m).
func TestExpendablePodsDoNotBlockScaleDown(t *testing.T) {
	h := newHarness(t, scaleDownOptions(), testGroup(t, "general", "m5.large", 0, 10))
	nodes := h.addNodes("general", 2, "100m", nil)
	spec := podSpec("1800m", h.priorityClass(-100))
	spec.NodeName = nodes[0]
	if _, err := h.env.Client.CoreV1().Pods(h.ns).Create(context.Background(),
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "expendable"}, Spec: spec}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.waitCached(nodes, 3)
	c := h.runOnce()
	h.a.Wait()
	if len(c.ScaleDown.Removing) != 1 {
		t.Fatalf("removing %v, want one node (the expendable pod takes no room); status %+v", c.ScaleDown.Removing, c.ScaleDown)
	}
}

// TestOverProvisioning is cluster-autoscaler's over-provisioning pattern
// with the real scheduler: a placeholder ReplicaSet at priority -1 (above
// the cutoff) holds a node's room; a real pod preempts its pod; the
// placeholder's replacement is pending and scales up, so the spare room
// comes back, while the real pod runs at once.
func TestOverProvisioning(t *testing.T) {
	h := newHarness(t, Options{}, testGroup(t, "general", "m5.large", 0, 10))
	nodes := h.addNodes("general", 1, "100m", nil)
	one := int32(1)
	sel := map[string]string{"app": "placeholder"}
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "placeholder"}, Spec: appsv1.ReplicaSetSpec{Replicas: &one,
		Selector: &metav1.LabelSelector{MatchLabels: sel},
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: sel}, Spec: podSpec("1500m", h.priorityClass(-1))}}}
	if _, err := h.env.Client.AppsV1().ReplicaSets(h.ns).Create(context.Background(), rs, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.waitPods("the placeholder bound to the node", func(pods []*corev1.Pod) bool {
		return slices.ContainsFunc(pods, func(p *corev1.Pod) bool { return p.Labels["app"] == "placeholder" && p.Spec.NodeName == nodes[0] })
	})
	if c := h.runOnce(); len(h.cloud.setCalls()) != 0 {
		t.Fatalf("scaled up with nothing pending: %+v", c.Plan)
	}

	if _, err := h.env.Client.CoreV1().Pods(h.ns).Create(context.Background(),
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "real"}, Spec: podSpec("1500m", "")}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.waitPods("the real pod bound and the placeholder's replacement unschedulable", func(pods []*corev1.Pod) bool {
		real := slices.ContainsFunc(pods, func(p *corev1.Pod) bool { return p.Name == "real" && p.Spec.NodeName == nodes[0] })
		return real && slices.ContainsFunc(pods, func(p *corev1.Pod) bool { return p.Labels["app"] == "placeholder" && Unschedulable(p) })
	})
	c := h.runOnce()
	if got := h.cloud.setCalls(); !slices.Equal(got, []string{"general=2"}) {
		t.Fatalf("scale-ups %v, want the placeholder's [general=2]; plan %+v", got, c.Plan)
	}
}

// waitPods waits until the informer's pods of the test satisfy ok.
func (h *harness) waitPods(what string, ok func([]*corev1.Pod) bool) {
	h.t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
		pods, err := h.lister()
		return err == nil && ok(pods), nil
	})
	if err != nil {
		pods, _ := h.lister()
		var state []string
		for _, p := range pods {
			state = append(state, p.Name+"@"+p.Spec.NodeName+"/"+p.Status.NominatedNodeName)
		}
		h.t.Fatalf("never saw %s: %v (pods %v)", what, err, state)
	}
}
