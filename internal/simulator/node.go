package simulator

import (
	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	corev1helpers "k8s.io/component-helpers/scheduling/corev1"
)

// matchesNodeAffinity reports whether the node satisfies the pod's
// nodeSelector and required node affinity (any term), with
// k8s.io/component-helpers' RequiredNodeAffinity as the NodeAffinity
// filter uses it: a term whose requirements do not parse matches no node,
// empty terms are dropped, matchFields apply to metadata.name.
func (s *podSpec) matchesNodeAffinity(node *corev1.Node) bool {
	ok, _ := s.nodeAffinity.Match(node) // the filter ignores parse errors too
	return ok
}

// noScheduleOrExecute selects the taints the TaintToleration filter
// checks.
func noScheduleOrExecute(t *corev1.Taint) bool {
	return t.Effect == corev1.TaintEffectNoSchedule || t.Effect == corev1.TaintEffectNoExecute
}

// toleratesNode reports whether the tolerations tolerate every NoSchedule
// and NoExecute taint of the node (PreferNoSchedule is ignored), as the
// TaintToleration filter does with component-helpers. Lt/Gt tolerations
// never match: TaintTolerationComparisonOperators is alpha and off by
// default in Kubernetes 1.37.
//
// It is corev1helpers.FindMatchingUntoleratedTaint with that filter,
// without the filtered copy of the taints it allocates on every call.
func toleratesNode(tolerations []corev1.Toleration, taints []corev1.Taint) bool {
	for i := range taints {
		if noScheduleOrExecute(&taints[i]) && !tolerates(tolerations, &taints[i]) {
			return false
		}
	}
	return true
}

func tolerates(tolerations []corev1.Toleration, taint *corev1.Taint) bool {
	return corev1helpers.TolerationsTolerateTaint(logr.Discard(), tolerations, taint, false)
}

var unschedulableTaint = corev1.Taint{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule}

// staticFit evaluates the predicates that depend only on the node object and
// the pod spec, in the scheduler's plugin order: NodeUnschedulable,
// NodeName, TaintToleration, NodeAffinity, then VolumeZone.
func (s *podSpec) staticFit(node *corev1.Node) Reason {
	if node.Spec.Unschedulable && !tolerates(s.tolerations, &unschedulableTaint) {
		return ReasonUnschedulable
	}
	if s.nodeName != "" && s.nodeName != node.Name {
		return ReasonNodeName
	}
	if !toleratesNode(s.tolerations, node.Spec.Taints) {
		return ReasonTaint
	}
	if !s.matchesNodeAffinity(node) {
		return ReasonNodeAffinity
	}
	if s.zones != nil && !s.zones.Has(nodeZone(node)) {
		return ReasonVolumeZone
	}
	return ReasonNone
}

// nodeZone returns the node's zone label (GA, else the beta label), or "".
func nodeZone(node *corev1.Node) string {
	if z, ok := node.Labels[LabelZone]; ok {
		return z
	}
	return node.Labels[labelZoneBeta]
}
