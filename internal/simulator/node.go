package simulator

import (
	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
)

// nodeTerm is a compiled NodeSelectorTerm. A term whose requirements do not
// parse never matches (the scheduler's lazy-error node selector).
type nodeTerm struct {
	labels  labels.Selector // nil: no matchExpressions
	fields  []fieldReq
	invalid bool
}

// fieldReq is a matchFields requirement: key In/NotIn a single value.
type fieldReq struct {
	key   string
	value string
	in    bool
}

var nodeSelectorOps = map[corev1.NodeSelectorOperator]selection.Operator{
	corev1.NodeSelectorOpIn:           selection.In,
	corev1.NodeSelectorOpNotIn:        selection.NotIn,
	corev1.NodeSelectorOpExists:       selection.Exists,
	corev1.NodeSelectorOpDoesNotExist: selection.DoesNotExist,
	corev1.NodeSelectorOpGt:           selection.GreaterThan,
	corev1.NodeSelectorOpLt:           selection.LessThan,
}

// compileNodeSelector compiles a required node affinity. Empty terms select
// nothing and are dropped, as in component-helpers' nodeaffinity; a selector
// left with no terms matches no node.
func compileNodeSelector(ns *corev1.NodeSelector) []nodeTerm {
	out := make([]nodeTerm, 0, len(ns.NodeSelectorTerms))
	for i := range ns.NodeSelectorTerms {
		t := &ns.NodeSelectorTerms[i]
		if len(t.MatchExpressions) == 0 && len(t.MatchFields) == 0 {
			continue
		}
		out = append(out, compileNodeTerm(t))
	}
	return out
}

func compileNodeTerm(t *corev1.NodeSelectorTerm) nodeTerm {
	var nt nodeTerm
	if len(t.MatchExpressions) > 0 {
		sel := labels.NewSelector()
		for _, e := range t.MatchExpressions {
			op, ok := nodeSelectorOps[e.Operator]
			if !ok {
				return nodeTerm{invalid: true}
			}
			r, err := labels.NewRequirement(e.Key, op, e.Values)
			if err != nil {
				return nodeTerm{invalid: true}
			}
			sel = sel.Add(*r)
		}
		nt.labels = sel
	}
	for _, e := range t.MatchFields {
		if len(e.Values) != 1 || (e.Operator != corev1.NodeSelectorOpIn && e.Operator != corev1.NodeSelectorOpNotIn) {
			return nodeTerm{invalid: true}
		}
		nt.fields = append(nt.fields, fieldReq{key: e.Key, value: e.Values[0], in: e.Operator == corev1.NodeSelectorOpIn})
	}
	return nt
}

func (t *nodeTerm) matches(node *corev1.Node) bool {
	if t.invalid {
		return false
	}
	if t.labels != nil && !t.labels.Matches(labels.Set(node.Labels)) {
		return false
	}
	if node.Name == "" {
		return true // component-helpers skips matchFields without node fields
	}
	for _, f := range t.fields {
		v := ""
		if f.key == "metadata.name" {
			v = node.Name
		}
		if (v == f.value) != f.in {
			return false
		}
	}
	return true
}

// matchesNodeAffinity reports whether the node satisfies the pod's
// nodeSelector and required node affinity (any term).
func (s *podSpec) matchesNodeAffinity(node *corev1.Node) bool {
	if s.nodeSelector != nil && !s.nodeSelector.Matches(labels.Set(node.Labels)) {
		return false
	}
	if s.nodeAffinity == nil {
		return true
	}
	for i := range s.nodeAffinity {
		if s.nodeAffinity[i].matches(node) {
			return true
		}
	}
	return false
}

// toleratesNode reports whether the tolerations tolerate every NoSchedule
// and NoExecute taint of the node (PreferNoSchedule is ignored). Lt/Gt
// tolerations never match: TaintTolerationComparisonOperators is alpha and
// off by default in Kubernetes 1.37.
func toleratesNode(tolerations []corev1.Toleration, taints []corev1.Taint) bool {
	for i := range taints {
		t := &taints[i]
		if t.Effect != corev1.TaintEffectNoSchedule && t.Effect != corev1.TaintEffectNoExecute {
			continue
		}
		if !tolerates(tolerations, t) {
			return false
		}
	}
	return true
}

func tolerates(tolerations []corev1.Toleration, taint *corev1.Taint) bool {
	for i := range tolerations {
		if tolerations[i].ToleratesTaint(logr.Discard(), taint, false) {
			return true
		}
	}
	return false
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
