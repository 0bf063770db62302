package loop

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"

	"github.com/kelp-dev/kelp/internal/autoscaler"
	"github.com/kelp-dev/kelp/internal/catalog"
	"github.com/kelp-dev/kelp/internal/cloud"
)

// scaleDownOptions remove unneeded nodes at once.
func scaleDownOptions() Options {
	sd := autoscaler.DefaultScaleDownOptions()
	sd.UnneededTime, sd.DelayAfterAdd, sd.DelayAfterDelete, sd.DelayAfterFailure = 0, 0, 0, 0
	return Options{ScaleDownEnabled: true, ScaleDown: sd}
}

// addNodes creates n Ready m5.large Nodes in group g of the fake cloud,
// each with one replicated pod of cpu, and returns the node names.
func (h *harness) addNodes(g string, n int, cpu string, annotate map[string]string) []string {
	h.t.Helper()
	ctx := context.Background()
	it, _ := catalog.Lookup("m5.large")
	owner := h.owner()
	var names []string
	for i := range n {
		id := fmt.Sprintf("i-%s%012d", h.ns[len(h.ns)-5:], i)
		name := fmt.Sprintf("%s-node-%d", h.ns, i)
		pid := cloud.ProviderID(testZone, id)
		node := &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{corev1.LabelHostname: name,
				corev1.LabelTopologyZone: testZone, corev1.LabelInstanceTypeStable: "m5.large", "kelp.dev/pool": g}},
			Spec: corev1.NodeSpec{ProviderID: pid},
		}
		if _, err := h.env.Client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
			h.t.Fatal(err)
		}
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			cur, err := h.env.Client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			cur.Status = corev1.NodeStatus{Capacity: it.Capacity(), Allocatable: it.Allocatable(), Conditions: []corev1.NodeCondition{
				{Type: corev1.NodeReady, Status: corev1.ConditionTrue, LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}}}
			if cur, err = h.env.Client.CoreV1().Nodes().UpdateStatus(ctx, cur, metav1.UpdateOptions{}); err != nil {
				return err
			}
			// The API server taints new nodes not-ready; no kubelet is
			// here to have kube-controller-manager lift it.
			cur.Spec.Taints = nil
			_, err = h.env.Client.CoreV1().Nodes().Update(ctx, cur, metav1.UpdateOptions{})
			return err
		})
		if err != nil {
			h.t.Fatal(err)
		}
		h.t.Cleanup(func() { _ = h.env.Client.CoreV1().Nodes().Delete(context.Background(), name, metav1.DeleteOptions{}) })
		h.cloud.mu.Lock()
		gi := slices.IndexFunc(h.cloud.groups, func(x cloud.NodeGroup) bool { return x.ID == g })
		h.cloud.groups[gi].Instances = append(h.cloud.groups[gi].Instances, cloud.Instance{ID: id, ProviderID: pid,
			State: cloud.InstanceStateRunning, GroupName: g, InstanceType: "m5.large", LaunchTime: h.clock.Now()})
		h.cloud.groups[gi].TargetSize++
		h.cloud.mu.Unlock()

		h.heartbeat(name)
		zero, yes := int64(0), true
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("app-%d", i), Annotations: annotate,
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "ConfigMap", Name: owner.Name, UID: owner.UID, Controller: &yes}}},
			Spec: corev1.PodSpec{NodeName: name, TerminationGracePeriodSeconds: &zero, Containers: []corev1.Container{{
				Name: "c", Image: "registry.k8s.io/pause:3.10", Resources: corev1.ResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}}}}},
		}
		if _, err := h.env.Client.CoreV1().Pods(h.ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			h.t.Fatal(err)
		}
		names = append(names, name)
	}
	h.waitCached(names, n)
	return names
}

// waitCached waits until the informers show the nodes Ready and untainted,
// and n pods.
func (h *harness) waitCached(nodes []string, pods int) {
	h.t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		for _, name := range nodes {
			n, err := h.a.l.nodes.Get(name)
			if err != nil || !nodeReady(n) || len(n.Spec.Taints) > 0 {
				return false, nil
			}
		}
		ps, err := h.lister()
		return err == nil && len(ps) == pods, nil
	})
	if err != nil {
		var state []string
		for _, name := range nodes {
			n, err := h.a.l.nodes.Get(name)
			if err != nil {
				state = append(state, name+": "+err.Error())
				continue
			}
			state = append(state, fmt.Sprintf("%s: ready %t, taints %v", name, nodeReady(n), n.Spec.Taints))
		}
		ps, _ := h.lister()
		h.t.Fatalf("informers never showed the nodes and pods: %v (nodes %v, %d pods)", err, state, len(ps))
	}
}

func TestScaleDownRemovesUnneededNode(t *testing.T) {
	h := newHarness(t, scaleDownOptions(), testGroup(t, "general", "m5.large", 0, 10))
	nodes := h.addNodes("general", 2, "100m", nil)

	c := h.runOnce()
	h.a.Wait()
	if len(c.ScaleDown.Removing) != 1 {
		t.Fatalf("removing %v, want one of the two nodes (the other takes its pod); status %+v", c.ScaleDown.Removing, c.ScaleDown)
	}
	gone := c.ScaleDown.Removing[0]
	if _, err := h.env.Client.CoreV1().Nodes().Get(context.Background(), gone, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("node %s not deleted: %v", gone, err)
	}
	if len(h.cloud.deleted) != 1 || h.cloud.group("general").TargetSize != 1 {
		t.Fatalf("terminated %v, target %d; want one instance terminated with the target decremented", h.cloud.deleted, h.cloud.group("general").TargetSize)
	}
	kept := nodes[0]
	if kept == gone {
		kept = nodes[1]
	}
	// Unneeded too, it carries the soft taint (PreferNoSchedule), not the
	// drain's.
	if n, err := h.env.Client.CoreV1().Nodes().Get(context.Background(), kept, metav1.GetOptions{}); err != nil ||
		slices.ContainsFunc(n.Spec.Taints, func(t corev1.Taint) bool { return t.Effect != corev1.TaintEffectPreferNoSchedule }) {
		t.Fatalf("kept node %s: %v, taints %v", kept, err, n.Spec.Taints)
	}
	if st := h.status(); !st.ScaleDown.Enabled || len(st.ScaleDown.Removing) != 1 {
		t.Fatalf("status scale-down %+v", st.ScaleDown)
	}
}

func TestScaleDownBlockedBySafeToEvictFalse(t *testing.T) {
	h := newHarness(t, scaleDownOptions(), testGroup(t, "general", "m5.large", 0, 10))
	h.addNodes("general", 2, "100m", map[string]string{autoscaler.AnnotationSafeToEvict: "false"})
	c := h.runOnce()
	h.a.Wait()
	if len(c.ScaleDown.Removing) != 0 || len(h.cloud.deleted) != 0 {
		t.Fatalf("removed %v despite safe-to-evict=false", c.ScaleDown.Removing)
	}
	if c.ScaleDown.Blocked[string(autoscaler.BlockedNotSafeToEvict)] != 2 {
		t.Fatalf("blocked %v, want 2 NotSafeToEvictAnnotation", c.ScaleDown.Blocked)
	}
	if got := matching(h.drainEvents(), EventScaleDownBlocked, string(autoscaler.BlockedNotSafeToEvict)); len(got) != 2 {
		t.Fatalf("want a ScaleDownBlocked event per node, got %v", got)
	}
}

// owner creates an object to be the controller of the test's pods, so that
// the garbage collector keeps them. A ConfigMap, because a ReplicaSet
// controller would release pods it did not make or delete extra ones.
func (h *harness) owner() *corev1.ConfigMap {
	h.t.Helper()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "app-owner"}}
	created, err := h.env.Client.CoreV1().ConfigMaps(h.ns).Create(context.Background(), cm, metav1.CreateOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	return created
}

// heartbeat renews the node's Lease until the test ends, as its kubelet
// would, so kube-controller-manager keeps it Ready and does not evict its
// pods.
func (h *harness) heartbeat(node string) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	h.t.Cleanup(func() { cancel(); <-done })
	leases := h.env.Client.CoordinationV1().Leases(corev1.NamespaceNodeLease)
	go func() {
		defer close(done)
		_ = wait.PollUntilContextCancel(ctx, time.Second, true, func(ctx context.Context) (bool, error) {
			now := metav1.NewMicroTime(time.Now())
			l, err := leases.Get(ctx, node, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				l = &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: node},
					Spec: coordinationv1.LeaseSpec{HolderIdentity: &node, RenewTime: &now}}
				_, _ = leases.Create(ctx, l, metav1.CreateOptions{})
				return false, nil
			}
			if err == nil {
				l.Spec.RenewTime = &now
				_, _ = leases.Update(ctx, l, metav1.UpdateOptions{})
			}
			return false, nil
		})
	}()
}

// TestScaleDownRemovesUnreadyNode: a node that is not Ready is removed
// after --scale-down-unready-time, while Ready nodes wait for the (longer)
// unneeded time.
func TestScaleDownRemovesUnreadyNode(t *testing.T) {
	o := scaleDownOptions()
	o.ScaleDown.UnneededTime = time.Hour
	o.ScaleDown.UnreadyTime = 5 * time.Minute
	h := newHarness(t, o, testGroup(t, "general", "m5.large", 0, 10))
	nodes := h.addNodes("general", 3, "100m", nil)
	h.setReady(nodes[0], false)

	c := h.runOnce()
	if len(c.ScaleDown.Removing) != 0 || c.ScaleDown.Blocked[string(autoscaler.BlockedNotUnreadyLongEnough)] != 1 {
		t.Fatalf("first cycle: removing %v, blocked %v; want the unready node NotUnreadyLongEnough", c.ScaleDown.Removing, c.ScaleDown.Blocked)
	}
	h.clock.Step(6 * time.Minute)
	c = h.runOnce()
	h.a.Wait()
	if !slices.Equal(c.ScaleDown.Removing, nodes[:1]) {
		t.Fatalf("removing %v, want the unready %s; blocked %v", c.ScaleDown.Removing, nodes[0], c.ScaleDown.Blocked)
	}
	if c.ScaleDown.Blocked[string(autoscaler.BlockedNotUnneededLongEnough)] != 2 {
		t.Fatalf("blocked %v, want the two Ready nodes NotUnneededLongEnough", c.ScaleDown.Blocked)
	}
}

// TestDaemonSetsUtilization: DaemonSet pods count in a node's utilization
// unless --ignore-daemonsets-utilization, as in cluster-autoscaler.
func TestDaemonSetsUtilization(t *testing.T) {
	for _, ignore := range []bool{false, true} {
		t.Run(fmt.Sprintf("ignore=%t", ignore), func(t *testing.T) {
			o := scaleDownOptions()
			o.ScaleDown.IgnoreDaemonSetsUtilization = ignore
			h := newHarness(t, o, testGroup(t, "general", "m5.large", 0, 10))
			nodes := h.addNodes("general", 2, "100m", nil)
			h.daemonSet("agent", "1800m", nodes[0]) // the other node's 100m pod does not fit beside it
			c := h.runOnce()
			h.a.Wait()
			if ignore && len(c.ScaleDown.Removing) != 1 {
				t.Fatalf("removing %v, want one node (its DaemonSet pod not counted); blocked %v", c.ScaleDown.Removing, c.ScaleDown.Blocked)
			}
			if !ignore && (len(c.ScaleDown.Removing) != 0 || c.ScaleDown.Blocked[string(autoscaler.BlockedNotUnderutilized)] != 1) {
				t.Fatalf("removing %v, blocked %v; want the node with the DaemonSet pod NotUnderutilized", c.ScaleDown.Removing, c.ScaleDown.Blocked)
			}
		})
	}
}

// daemonSet creates a DaemonSet requesting cpu, on the node named (by
// its hostname label), and waits for its pod to be bound there.
func (h *harness) daemonSet(name, cpu, node string) {
	h.t.Helper()
	sel := map[string]string{"app": name}
	spec := podSpec(cpu, "")
	spec.NodeSelector = map[string]string{corev1.LabelHostname: node}
	ds := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: appsv1.DaemonSetSpec{
		Selector: &metav1.LabelSelector{MatchLabels: sel},
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: sel}, Spec: spec}}}
	if _, err := h.env.Client.AppsV1().DaemonSets(h.ns).Create(context.Background(), ds, metav1.CreateOptions{}); err != nil {
		h.t.Fatal(err)
	}
	h.waitPods("the DaemonSet's pod bound to "+node, func(pods []*corev1.Pod) bool {
		return slices.ContainsFunc(pods, func(p *corev1.Pod) bool { return p.Labels["app"] == name && p.Spec.NodeName == node })
	})
}
