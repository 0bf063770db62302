package terminationctl

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"

	"github.com/kelp-dev/kelp/internal/autoscaler"
	"github.com/kelp-dev/kelp/internal/termination"
)

// AnnotationDrainStarted is termination.AnnotationDrainStarted.
const AnnotationDrainStarted = termination.AnnotationDrainStarted

// cordoned reports whether node is unschedulable and carries kelp's
// to-be-deleted taint.
func cordoned(node *corev1.Node) bool {
	return node.Spec.Unschedulable && slices.ContainsFunc(node.Spec.Taints, func(t corev1.Taint) bool {
		return t.Key == autoscaler.ToBeDeletedTaint
	})
}

// drainStarted is the Node's AnnotationDrainStarted, zero when absent or
// unreadable (the drain then counts from now).
func drainStarted(node *corev1.Node) time.Time {
	t, err := time.Parse(time.RFC3339, node.Annotations[AnnotationDrainStarted])
	if err != nil {
		return time.Time{}
	}
	return t
}

// markDraining cordons and taints the Node (kelp's and cluster-autoscaler's
// to-be-deleted taints, as the autoscaler's drain does) and, with stamp,
// stamps when the drain began, unless it already says. It returns the
// Node as written.
func markDraining(ctx context.Context, client kubernetes.Interface, name string, now time.Time, stamp bool) (*corev1.Node, error) {
	var updated *corev1.Node
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		node, err := client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		node.Spec.Unschedulable = true
		value := strconv.FormatInt(now.Unix(), 10)
		for _, key := range []string{autoscaler.ToBeDeletedTaint, autoscaler.CAToBeDeletedTaint} {
			if !slices.ContainsFunc(node.Spec.Taints, func(t corev1.Taint) bool { return t.Key == key }) {
				node.Spec.Taints = append(node.Spec.Taints, corev1.Taint{Key: key, Value: value, Effect: corev1.TaintEffectNoSchedule})
			}
		}
		if stamp && drainStarted(node).IsZero() {
			if node.Annotations == nil {
				node.Annotations = map[string]string{}
			}
			node.Annotations[AnnotationDrainStarted] = now.UTC().Format(time.RFC3339)
		}
		updated, err = client.CoreV1().Nodes().Update(ctx, node, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("cordon node %s: %w", name, err)
	}
	return updated, nil
}

// podsLeft lists the pods still to go from the node: not DaemonSet or
// mirror pods (they go with the node), not finished ones.
func podsLeft(ctx context.Context, client kubernetes.Interface, node string) ([]*corev1.Pod, error) {
	list, err := client.CoreV1().Pods(metav1.NamespaceAll).List(ctx, metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("spec.nodeName", node).String()})
	if err != nil {
		return nil, fmt.Errorf("list pods of node %s: %w", node, err)
	}
	var out []*corev1.Pod
	for i := range list.Items {
		p := &list.Items[i]
		if p.Spec.NodeName != node || autoscaler.IsDaemonOrMirrorPod(p) || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		out = append(out, p)
	}
	return out, nil
}

// evict asks the Eviction API to evict every pod not already being
// deleted, each with its grace period capped at grace. A refusal (a
// PodDisruptionBudget's 429) is retried next round; a pod already gone is
// fine.
func evict(ctx context.Context, client kubernetes.Interface, pods []*corev1.Pod, grace time.Duration) error {
	capSeconds := max(int64(grace/time.Second), 0)
	for _, p := range pods {
		if p.DeletionTimestamp != nil {
			continue
		}
		seconds := int64(corev1.DefaultTerminationGracePeriodSeconds)
		if p.Spec.TerminationGracePeriodSeconds != nil {
			seconds = *p.Spec.TerminationGracePeriodSeconds
		}
		seconds = min(seconds, capSeconds)
		uid := p.UID
		err := client.CoreV1().Pods(p.Namespace).EvictV1(ctx, &policyv1.Eviction{
			ObjectMeta:    metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace},
			DeleteOptions: &metav1.DeleteOptions{GracePeriodSeconds: &seconds, Preconditions: &metav1.Preconditions{UID: &uid}},
		})
		switch {
		case err == nil, apierrors.IsNotFound(err), apierrors.IsConflict(err), apierrors.IsTooManyRequests(err):
		default:
			return fmt.Errorf("evict pod %s/%s: %w", p.Namespace, p.Name, err)
		}
	}
	return nil
}

// deleteNode deletes the Node it was given, not a new one of that name.
func deleteNode(ctx context.Context, client kubernetes.Interface, node *corev1.Node) error {
	uid := node.UID
	err := client.CoreV1().Nodes().Delete(ctx, node.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("delete node %s: %w", node.Name, err)
	}
	return nil
}
