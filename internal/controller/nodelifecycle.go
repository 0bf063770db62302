package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/record"
)

// InstanceStatus is what node lifecycle knows of a Node's instance.
type InstanceStatus int

const (
	// InstanceAlive: the instance exists and is not terminated.
	InstanceAlive InstanceStatus = iota
	// InstanceTerminated: the cloud reports it terminated (or terminating).
	InstanceTerminated
	// InstanceGone: the cloud answered and does not know the id.
	InstanceGone
)

// InstanceStatuses is the cloud side node lifecycle needs.
type InstanceStatuses interface {
	// InstanceStatus looks up the instance behind an aws:/// providerID.
	// An error means the cloud could not answer: nothing is decided.
	InstanceStatus(ctx context.Context, providerID string) (InstanceStatus, error)
}

// NodeAction is node lifecycle's decision for one Node.
type NodeAction struct {
	Delete bool
	// Reason is a CamelCase reason: InstanceTerminated, InstanceGone,
	// NotInCloud (no aws providerID: left alone and reported).
	Reason string
}

// DecideNode is node lifecycle's pure core: a Node whose instance is
// terminated or unknown to the cloud is deleted; a Node the cloud never
// saw (no aws providerID) is left alone and reported.
func DecideNode(node *corev1.Node, status InstanceStatus, known bool) NodeAction {
	if !known {
		return NodeAction{Reason: "NotInCloud"}
	}
	switch status {
	case InstanceTerminated:
		return NodeAction{Delete: true, Reason: "InstanceTerminated"}
	case InstanceGone:
		return NodeAction{Delete: true, Reason: "InstanceGone"}
	}
	return NodeAction{}
}

// IsCloudProviderID reports whether a providerID names an AWS instance.
func IsCloudProviderID(id string) bool {
	return strings.HasPrefix(id, "aws:///") && strings.Count(id, "/") == 4
}

// NodeLifecycle deletes the Node objects of instances that are gone.
type NodeLifecycle struct {
	Client    kubernetes.Interface
	Nodes     corelisters.NodeLister
	Instances InstanceStatuses
	Recorder  record.EventRecorder
	Logger    *slog.Logger
	Metrics   *Metrics
	// Period between refreshes: a terminated instance's Node is deleted
	// within one.
	Period time.Duration

	reported map[types.UID]bool // Nodes already reported as not in the cloud
}

// Run refreshes every Period until ctx ends.
func (n *NodeLifecycle) Run(ctx context.Context) {
	t := time.NewTicker(n.Period)
	defer t.Stop()
	for {
		if err := n.Refresh(ctx); err != nil && ctx.Err() == nil {
			n.Logger.Warn("node lifecycle refresh failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Refresh looks at every Node once.
func (n *NodeLifecycle) Refresh(ctx context.Context) error {
	if r, ok := n.Instances.(refresher); ok {
		if err := r.Refresh(ctx); err != nil {
			return fmt.Errorf("refresh cloud: %w", err)
		}
	}
	nodes, err := n.Nodes.List(labels.Everything())
	if err != nil {
		return fmt.Errorf("list nodes: %w", err)
	}
	var errs []error
	notInCloud := 0
	for _, node := range nodes {
		known := IsCloudProviderID(node.Spec.ProviderID)
		var status InstanceStatus
		if known {
			if status, err = n.Instances.InstanceStatus(ctx, node.Spec.ProviderID); err != nil {
				errs = append(errs, fmt.Errorf("node %s: %w", node.Name, err))
				continue
			}
		}
		action := DecideNode(node, status, known)
		if !known {
			notInCloud++
			n.reportNotInCloud(node)
			continue
		}
		if action.Delete {
			if err := n.deleteNode(ctx, node, action.Reason); err != nil {
				errs = append(errs, err)
			}
		}
	}
	n.Metrics.NodesNotInCloud.Set(float64(notInCloud))
	n.forgetReported(nodes)
	return errors.Join(errs...)
}

// reportNotInCloud says once per Node, with an Event and a log line, that
// node lifecycle leaves it alone.
func (n *NodeLifecycle) reportNotInCloud(node *corev1.Node) {
	if n.reported == nil {
		n.reported = map[types.UID]bool{}
	}
	if n.reported[node.UID] {
		return
	}
	n.reported[node.UID] = true
	msg := fmt.Sprintf("node %s has no aws:/// providerID (%q): kelp never deletes it", node.Name, node.Spec.ProviderID)
	n.Recorder.Event(node, corev1.EventTypeNormal, "NotInCloud", msg)
	n.Logger.Info("node not in the cloud; left alone", "node", node.Name, "providerID", node.Spec.ProviderID)
}

// forgetReported drops report marks of Nodes that no longer exist.
func (n *NodeLifecycle) forgetReported(nodes []*corev1.Node) {
	present := make(map[types.UID]bool, len(nodes))
	for _, node := range nodes {
		present[node.UID] = true
	}
	for uid := range n.reported {
		if !present[uid] {
			delete(n.reported, uid)
		}
	}
}

func (n *NodeLifecycle) deleteNode(ctx context.Context, node *corev1.Node, reason string) error {
	msg := fmt.Sprintf("deleting node %s: its instance %s is %s", node.Name, node.Spec.ProviderID, map[string]string{
		"InstanceTerminated": "terminated", "InstanceGone": "unknown to the cloud",
	}[reason])
	n.Recorder.Event(node, corev1.EventTypeNormal, "DeletingNode", msg)
	uid := node.UID
	err := n.Client.CoreV1().Nodes().Delete(ctx, node.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil // gone already, or replaced by a new Node of that name
	}
	if err != nil {
		return fmt.Errorf("delete node %s: %w", node.Name, err)
	}
	n.Metrics.NodeDeletions.With(prometheus.Labels{"reason": reason}).Inc()
	n.Logger.Info("deleted node of a gone instance", "node", node.Name, "providerID", node.Spec.ProviderID, "reason", reason)
	return nil
}
