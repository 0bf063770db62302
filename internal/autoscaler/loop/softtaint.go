package loop

import (
	"context"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/util/retry"

	"github.com/kelp-dev/kelp/internal/autoscaler"
)

// softTaints puts cluster-autoscaler's DeletionCandidateOfClusterAutoscaler
// taint (PreferNoSchedule) on the nodes the plan found unneeded and takes
// it off the others (autoscaler.PlanSoftTaints), within
// --max-bulk-soft-taint-count and --max-bulk-soft-taint-time. Nodes being
// removed are left alone.
func (a *Autoscaler) softTaints(ctx context.Context, plan autoscaler.ScaleDownPlan, removing []string) {
	o := a.sd.opts
	nodes, err := a.l.nodes.List(labels.Everything())
	if err != nil {
		a.d.Metrics.Errors.WithLabelValues("soft-taint").Inc()
		return
	}
	in := autoscaler.SoftTaintInput{Tainted: map[string]bool{}, Unneeded: plan.Unneeded, Removing: map[string]bool{}, MaxCount: o.MaxBulkSoftTaintCount}
	for _, n := range nodes {
		in.Tainted[n.Name] = autoscaler.HasDeletionCandidate(n)
		in.Removing[n.Name] = deleting(n) || slices.Contains(removing, n.Name)
	}
	c := autoscaler.PlanSoftTaints(in)
	if o.MaxBulkSoftTaintTime > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.MaxBulkSoftTaintTime)
		defer cancel()
	}
	for _, n := range c.Untaint {
		a.setSoftTaint(ctx, n, false)
	}
	for _, n := range c.Taint {
		a.setSoftTaint(ctx, n, true)
	}
}

// setSoftTaint adds or removes the soft taint of node, counting the
// outcome; a node gone is no error.
func (a *Autoscaler) setSoftTaint(ctx context.Context, node string, add bool) {
	action := "untaint"
	if add {
		action = "taint"
	}
	if ctx.Err() != nil {
		a.d.Metrics.SoftTaints.WithLabelValues(action, "deferred").Inc()
		return
	}
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		n, err := a.d.Client.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if autoscaler.HasDeletionCandidate(n) == add {
			return nil
		}
		n = n.DeepCopy()
		n.Spec.Taints = slices.DeleteFunc(n.Spec.Taints, func(t corev1.Taint) bool { return t.Key == autoscaler.DeletionCandidateTaint })
		if add {
			n.Spec.Taints = append(n.Spec.Taints, autoscaler.DeletionCandidate(a.d.Clock.Now()))
		}
		_, err = a.d.Client.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		a.d.Metrics.SoftTaints.WithLabelValues(action, "error").Inc()
		a.d.Logger.Error("update soft taint", "node", node, "action", action, "taint", autoscaler.DeletionCandidateTaint, "err", fmt.Errorf("%s node %s: %w", action, node, err))
		return
	}
	a.d.Metrics.SoftTaints.WithLabelValues(action, "done").Inc()
	a.d.Logger.Debug("soft taint", "node", node, "action", action, "taint", autoscaler.DeletionCandidateTaint)
}

// cleanSoftTaints removes the soft taints a previous controller (kelp or
// cluster-autoscaler) left: the first plans put them back on the nodes
// they find unneeded.
func (a *Autoscaler) cleanSoftTaints(ctx context.Context) {
	nodes, err := a.l.nodes.List(labels.Everything())
	if err != nil {
		return
	}
	for _, n := range nodes {
		if autoscaler.HasDeletionCandidate(n) {
			a.setSoftTaint(ctx, n.Name, false)
		}
	}
}
