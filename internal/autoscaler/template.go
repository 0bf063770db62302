package autoscaler

import (
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/kelp-dev/kelp/internal/cloud"
)

// nodeSpecificLabels are a real node's labels that say which node it is,
// not what a new node of its group would carry; the template's own values
// stay.
var nodeSpecificLabels = []string{
	corev1.LabelHostname, corev1.LabelTopologyZone, corev1.LabelTopologyRegion,
	corev1.LabelFailureDomainBetaZone, corev1.LabelFailureDomainBetaRegion,
	corev1.LabelInstanceTypeStable, corev1.LabelInstanceType,
}

// TransientTaint reports whether a node taint says something about the
// node's current state (not ready, unreachable, being deleted) rather than
// what the group's nodes carry, so a template built from the node must not
// copy it.
func TransientTaint(t corev1.Taint) bool {
	return strings.HasPrefix(t.Key, "node.kubernetes.io/") || strings.HasPrefix(t.Key, "node.cloudprovider.kubernetes.io/") ||
		t.Key == ToBeDeletedTaint || t.Key == CAToBeDeletedTaint ||
		t.Key == DeletionCandidateTaint
}

// Taints on a node being removed (both NoSchedule): kelp's own, and
// cluster-autoscaler's for tools that read it.
const (
	ToBeDeletedTaint   = "kelp.dev/to-be-deleted"
	CAToBeDeletedTaint = "ToBeDeletedByClusterAutoscaler"
)

// TemplateFromNodes returns g with its template refined by Ready nodes of
// the group, as cluster-autoscaler does: a real node shows what the
// kubelet actually reserves and the labels and taints it really carries,
// which a template computed from the cloud can only estimate. For each
// instance type with a node among ready (the first by name), that type's
// capacity and allocatable become the node's; the first node of the
// primary type (else the first node) gives the labels (without the
// node-specific ones) and taints (without the transient ones). Nodes of
// types the group does not launch are ignored. g is not modified.
func TemplateFromNodes(g cloud.NodeGroup, ready []*corev1.Node) cloud.NodeGroup {
	nodes := slices.SortedFunc(slices.Values(ready), func(a, b *corev1.Node) int { return strings.Compare(a.Name, b.Name) })
	out := g.Clone()
	t := &out.Template
	var model *corev1.Node
	for i := range t.InstanceTypes {
		it := &t.InstanceTypes[i]
		j := slices.IndexFunc(nodes, func(n *corev1.Node) bool { return n.Labels[corev1.LabelInstanceTypeStable] == it.Name })
		if j < 0 || len(nodes[j].Status.Allocatable) == 0 {
			continue
		}
		n := nodes[j]
		it.Allocatable = n.Status.Allocatable.DeepCopy()
		if len(n.Status.Capacity) > 0 {
			it.Capacity = n.Status.Capacity.DeepCopy()
		}
		if i == 0 {
			t.Capacity, t.Allocatable = it.Capacity.DeepCopy(), it.Allocatable.DeepCopy()
		}
		if model == nil {
			model = n
		}
	}
	if model == nil {
		return out
	}
	labels := maps.Clone(model.Labels)
	for _, k := range nodeSpecificLabels {
		delete(labels, k)
		if v, ok := g.Template.Labels[k]; ok {
			labels[k] = v
		}
	}
	t.Labels = labels
	t.Taints = slices.DeleteFunc(slices.Clone(model.Spec.Taints), TransientTaint)
	return out
}
