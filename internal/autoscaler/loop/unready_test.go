package loop

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"

	"github.com/kelp-dev/kelp/internal/autoscaler"
)

// setReady sets the node's Ready condition and waits for the informer to
// show it.
func (h *harness) setReady(node string, ready bool) {
	h.t.Helper()
	ctx := context.Background()
	status := corev1.ConditionTrue
	if !ready {
		status = corev1.ConditionFalse
	}
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		n, err := h.env.Client.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
		if err != nil {
			return err
		}
		for i := range n.Status.Conditions {
			if n.Status.Conditions[i].Type == corev1.NodeReady {
				n.Status.Conditions[i].Status = status
				n.Status.Conditions[i].LastTransitionTime = metav1.Now()
			}
		}
		_, err = h.env.Client.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		h.t.Fatal(err)
	}
	err = wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		n, err := h.a.l.nodes.Get(node)
		return err == nil && nodeReady(n) == ready, nil
	})
	if err != nil {
		h.t.Fatalf("informer never showed node %s ready=%t: %v", node, ready, err)
	}
}

// TestUnhealthyClusterNeitherScalesUpNorDown: with 4 of 5 nodes NotReady
// for longer than the provision time (a CNI outage), the pending pods do
// not scale up and the idle node is not removed; the status, an event and
// the metrics say why. Once the nodes are Ready again, scale-up resumes.
func TestUnhealthyClusterNeitherScalesUpNorDown(t *testing.T) {
	h := newHarness(t, scaleDownOptions(), testGroup(t, "general", "m5.large", 0, 10))
	nodes := h.addNodes("general", 5, "100m", nil)
	for _, n := range nodes[1:] {
		h.setReady(n, false)
	}
	h.pods("big", 2, "1900m", nil)
	h.waitUnschedulable(2)
	// The nodes were created at the wall clock's now: past the provision
	// time they are unready, not starting.
	h.clock.SetTime(time.Now().Add(DefaultMaxNodeProvisionTime + time.Minute))

	c := h.runOnce()
	h.a.Wait()
	if got := h.cloud.setCalls(); len(got) != 0 || len(c.Applied) != 0 {
		t.Fatalf("scaled up %v while 4 of 5 nodes are unready", got)
	}
	if len(c.ScaleDown.Removing) != 0 || !strings.Contains(c.ScaleDown.Skipped, "unhealthy") {
		t.Fatalf("scale-down %+v, want skipped as the cluster is unhealthy", c.ScaleDown)
	}
	st := h.status()
	if st.ClusterHealth == nil || st.ClusterHealth.Healthy || st.ClusterHealth.Unready < 4 ||
		!strings.Contains(st.ClusterHealth.Reason, "--max-total-unready-percentage=45%") {
		t.Fatalf("status cluster health %+v", st.ClusterHealth)
	}
	if got := matching(h.drainEvents(), autoscaler.ReasonClusterUnhealthy, "Warning"); len(got) != 1 {
		t.Fatalf("want one ClusterUnhealthy Warning, got %v", got)
	}
	m := h.a.d.Metrics
	if v := testutil.ToFloat64(m.ClusterHealthy); v != 0 {
		t.Fatalf("kelp_autoscaler_cluster_healthy %v, want 0", v)
	}
	if v := testutil.ToFloat64(m.SkippedCycles.WithLabelValues("cluster-unhealthy")); v != 1 {
		t.Fatalf("skipped cycles %v, want 1", v)
	}

	for _, n := range nodes[1:] {
		h.setReady(n, true)
	}
	c = h.runOnce()
	if got := h.cloud.setCalls(); len(got) != 1 {
		t.Fatalf("no scale-up once the nodes are Ready again: %v (plan %+v)", got, c.Plan)
	}
	if st := h.status(); st.ClusterHealth == nil || !st.ClusterHealth.Healthy {
		t.Fatalf("status cluster health %+v, want healthy", st.ClusterHealth)
	}
	if v := testutil.ToFloat64(m.ClusterHealthy); v != 1 {
		t.Fatalf("kelp_autoscaler_cluster_healthy %v, want 1", v)
	}
}
