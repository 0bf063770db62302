package nodeagent

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

// register creates the agent's Node or, on a restart, adopts the existing
// one: it restores the identity labels and posts a fresh status. Taints
// are set only at creation, as the kubelet's registerWithTaints.
func (a *Agent) register(ctx context.Context, client kubernetes.Interface) (*corev1.Node, error) {
	var node *corev1.Node
	err := a.retry.do(ctx, "register node", backoff(500*time.Millisecond, 10*time.Second), func(ctx context.Context) error {
		n, err := a.registerOnce(ctx, client)
		node = n
		return err
	})
	return node, err
}

func (a *Agent) registerOnce(ctx context.Context, client kubernetes.Interface) (*corev1.Node, error) {
	nodes := client.CoreV1().Nodes()
	name := a.facts.name()
	created, err := nodes.Create(ctx, buildNode(a.facts, a.clock.Now()), metav1.CreateOptions{})
	if err == nil {
		a.log.Info("node registered", "providerID", created.Spec.ProviderID)
		return created, nil
	}
	if !apierrors.IsAlreadyExists(err) {
		return nil, fmt.Errorf("register node %s: %w", name, err)
	}
	existing, err := nodes.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("register node %s: get existing node: %w", name, err)
	}
	if diff := labelsToReconcile(a.facts, existing.Labels); diff != nil {
		patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"labels": diff}})
		if err != nil {
			return nil, fmt.Errorf("register node %s: %w", name, err)
		}
		if existing, err = nodes.Patch(ctx, name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil {
			return nil, fmt.Errorf("register node %s: reconcile labels: %w", name, err)
		}
	}
	a.log.Info("node already registered; adopting it", "providerID", existing.Spec.ProviderID)
	return a.patchStatus(ctx, client, existing)
}

// patchStatus posts the node's status, keeping the transition times of
// last's conditions that did not change, and returns the updated node.
func (a *Agent) patchStatus(ctx context.Context, client kubernetes.Interface, last *corev1.Node) (*corev1.Node, error) {
	status := nodeStatus(a.facts, last.Status.Conditions, a.clock.Now())
	patch, err := json.Marshal(map[string]any{"status": status})
	if err != nil {
		return nil, fmt.Errorf("update node %s status: %w", last.Name, err)
	}
	n, err := client.CoreV1().Nodes().Patch(ctx, last.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status")
	if err != nil {
		return nil, fmt.Errorf("update node %s status: %w", last.Name, err)
	}
	return n, nil
}

// statusLoop posts node status every StatusReportInterval until ctx ends.
// The Lease carries liveness; status posts refresh conditions and capacity.
func (a *Agent) statusLoop(ctx context.Context, client kubernetes.Interface, node *corev1.Node) {
	for {
		if sleep(ctx, a.clock, wait.Jitter(a.tuning.StatusReportInterval, 0.04)) != nil {
			return
		}
		_ = a.retry.do(ctx, "update node status", backoff(200*time.Millisecond, 7*time.Second), func(ctx context.Context) error {
			n, err := a.patchStatus(ctx, client, node)
			if err == nil {
				node = n
			}
			return err
		})
	}
}

// leaseLoop keeps the node's Lease in kube-node-lease renewed every
// LeaseRenewInterval, retrying failures with a short backoff as the
// kubelet's lease controller does. The first renewal makes the agent
// ready.
func (a *Agent) leaseLoop(ctx context.Context, client kubernetes.Interface, node *corev1.Node) {
	var lease *coordinationv1.Lease
	for {
		err := a.retry.do(ctx, "renew lease", backoff(200*time.Millisecond, 7*time.Second), func(ctx context.Context) error {
			var err error
			lease, err = a.renewLease(ctx, client, lease, node)
			return err
		})
		if err != nil {
			return
		}
		a.markReady()
		if sleep(ctx, a.clock, wait.Jitter(a.tuning.LeaseRenewInterval, 0.04)) != nil {
			return
		}
	}
}

// renewLease sets the lease's renewTime to now, creating the lease when
// missing. cur is the last lease written, or nil to read it first; on
// error the returned lease is nil so the next attempt reads it again.
func (a *Agent) renewLease(ctx context.Context, client kubernetes.Interface, cur *coordinationv1.Lease, node *corev1.Node) (*coordinationv1.Lease, error) {
	leases := client.CoordinationV1().Leases(corev1.NamespaceNodeLease)
	now := metav1.NewMicroTime(a.clock.Now())
	if cur == nil {
		got, err := leases.Get(ctx, node.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			created, err := leases.Create(ctx, a.newLease(node, now), metav1.CreateOptions{})
			if err != nil {
				return nil, fmt.Errorf("create lease %s/%s: %w", corev1.NamespaceNodeLease, node.Name, err)
			}
			return created, nil
		}
		if err != nil {
			return nil, fmt.Errorf("get lease %s/%s: %w", corev1.NamespaceNodeLease, node.Name, err)
		}
		cur = got
	}
	next := cur.DeepCopy()
	want := a.newLease(node, now)
	next.Spec.HolderIdentity = want.Spec.HolderIdentity
	next.Spec.LeaseDurationSeconds = want.Spec.LeaseDurationSeconds
	next.Spec.RenewTime = want.Spec.RenewTime
	if len(next.OwnerReferences) == 0 {
		next.OwnerReferences = want.OwnerReferences
	}
	updated, err := leases.Update(ctx, next, metav1.UpdateOptions{})
	if err != nil {
		return nil, fmt.Errorf("renew lease %s/%s: %w", corev1.NamespaceNodeLease, node.Name, err)
	}
	return updated, nil
}

// newLease is the node's Lease renewed at now, owned by the Node so it is
// garbage-collected with it.
func (a *Agent) newLease(node *corev1.Node, now metav1.MicroTime) *coordinationv1.Lease {
	return &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{
			Name:      node.Name,
			Namespace: corev1.NamespaceNodeLease,
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: corev1.SchemeGroupVersion.String(),
				Kind:       "Node",
				Name:       node.Name,
				UID:        node.UID,
			}},
		},
		Spec: coordinationv1.LeaseSpec{
			HolderIdentity:       ptr.To(node.Name),
			LeaseDurationSeconds: ptr.To(int32(a.tuning.LeaseDuration / time.Second)),
			RenewTime:            &now,
		},
	}
}
