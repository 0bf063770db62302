package loop

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"

	"github.com/kelp-dev/kelp/internal/autoscaler"
)

// softTainted returns the value of the node's soft taint, "" without one.
func (h *harness) softTainted(node string) string {
	h.t.Helper()
	n, err := h.env.Client.CoreV1().Nodes().Get(context.Background(), node, metav1.GetOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	for _, t := range n.Spec.Taints {
		if t.Key == autoscaler.DeletionCandidateTaint {
			if t.Effect != corev1.TaintEffectPreferNoSchedule {
				h.t.Fatalf("soft taint of %s has effect %s", node, t.Effect)
			}
			return t.Value
		}
	}
	return ""
}

// waitNode waits until the informer's node satisfies ok.
func (h *harness) waitNode(node string, ok func(*corev1.Node) bool) {
	h.t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		n, err := h.a.l.nodes.Get(node)
		return err == nil && ok(n), nil
	})
	if err != nil {
		h.t.Fatalf("informer never showed node %s as expected: %v", node, err)
	}
}

// TestSoftTaintFollowsUnneeded: nodes found unneeded get the
// DeletionCandidateOfClusterAutoscaler taint, valued with the time; a node
// needed again loses it.
func TestSoftTaintFollowsUnneeded(t *testing.T) {
	o := scaleDownOptions()
	o.ScaleDown.UnneededTime = time.Hour
	h := newHarness(t, o, testGroup(t, "general", "m5.large", 0, 10))
	nodes := h.addNodes("general", 2, "100m", nil)

	c := h.runOnce()
	if len(c.ScaleDown.Unneeded) != 2 {
		t.Fatalf("unneeded %v, want both nodes", c.ScaleDown.Unneeded)
	}
	want := strconv.FormatInt(h.clock.Now().Unix(), 10)
	for _, n := range nodes {
		if got := h.softTainted(n); got != want {
			t.Fatalf("node %s soft taint %q, want %q", n, got, want)
		}
		h.waitNode(n, autoscaler.HasDeletionCandidate)
	}

	spec := podSpec("1500m", "")
	spec.NodeName = nodes[1]
	if _, err := h.env.Client.CoreV1().Pods(h.ns).Create(context.Background(),
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "busy"}, Spec: spec}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.waitCached(nil, 3)
	c = h.runOnce()
	if !slices.Equal(c.ScaleDown.Unneeded, nodes[:1]) {
		t.Fatalf("unneeded %v, want only %s", c.ScaleDown.Unneeded, nodes[0])
	}
	if h.softTainted(nodes[0]) != want || h.softTainted(nodes[1]) != "" {
		t.Fatalf("soft taints %q, %q; want the first node's kept, the busy node's removed", h.softTainted(nodes[0]), h.softTainted(nodes[1]))
	}
}

// TestSoftTaintsLeftAreRemovedAtStart: a soft taint a previous controller
// left is removed when the autoscaler starts.
func TestSoftTaintsLeftAreRemovedAtStart(t *testing.T) {
	o := scaleDownOptions()
	o.ScaleDownEnabled = false
	h := newHarness(t, o, testGroup(t, "general", "m5.large", 0, 10))
	nodes := h.addNodes("general", 1, "100m", nil)
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		n, err := h.env.Client.CoreV1().Nodes().Get(context.Background(), nodes[0], metav1.GetOptions{})
		if err != nil {
			return err
		}
		n.Spec.Taints = append(n.Spec.Taints, autoscaler.DeletionCandidate(time.Now()))
		_, err = h.env.Client.CoreV1().Nodes().Update(context.Background(), n, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	h.waitNode(nodes[0], autoscaler.HasDeletionCandidate)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); h.a.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	h.waitNode(nodes[0], func(n *corev1.Node) bool { return !autoscaler.HasDeletionCandidate(n) })
}
