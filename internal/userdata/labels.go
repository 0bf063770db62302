package userdata

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/validate/content"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// kubeletLabels are the kubernetes.io labels a kubelet may set on its own
// Node (k8s.io/kubelet/pkg/apis.KubeletLabels).
var kubeletLabels = []string{
	corev1.LabelHostname,
	corev1.LabelArchStable,
	corev1.LabelOSStable,
	"beta.kubernetes.io/arch",
	"beta.kubernetes.io/os",
	corev1.LabelInstanceType,
	corev1.LabelInstanceTypeStable,
	corev1.LabelFailureDomainBetaRegion,
	corev1.LabelFailureDomainBetaZone,
	corev1.LabelTopologyRegion,
	corev1.LabelTopologyZone,
}

// kubeletLabelNamespaces are label namespaces (and their subdomains) a
// kubelet may set on its own Node.
var kubeletLabelNamespaces = []string{
	corev1.LabelNamespaceSuffixKubelet,
	corev1.LabelNamespaceSuffixNode,
}

// IsKubeletLabel reports whether a node may set label key on itself under
// the NodeRestriction admission plugin: any key outside the kubernetes.io
// and k8s.io namespaces (and their subdomains), or one of the kubelet's own
// labels and namespaces (kubelet.kubernetes.io, node.kubernetes.io). It
// mirrors NodeRestriction and k8s.io/kubelet's IsKubeletLabel.
func IsKubeletLabel(key string) bool {
	ns, _, ok := strings.Cut(key, "/")
	if !ok {
		return true
	}
	if ns == corev1.LabelNamespaceNodeRestriction || strings.HasSuffix(ns, "."+corev1.LabelNamespaceNodeRestriction) {
		return false
	}
	if !inNamespace(ns, "kubernetes.io") && !inNamespace(ns, "k8s.io") {
		return true
	}
	if slices.Contains(kubeletLabels, key) {
		return true
	}
	return slices.ContainsFunc(kubeletLabelNamespaces, func(allowed string) bool { return inNamespace(ns, allowed) })
}

// inNamespace reports whether ns is domain or one of its subdomains.
func inNamespace(ns, domain string) bool {
	return ns == domain || strings.HasSuffix(ns, "."+domain)
}

// validateNodeLabels checks labels are valid, settable by a node, and agree
// with the pool on PoolLabel.
func validateNodeLabels(p *field.Path, labels map[string]string, pool string) field.ErrorList {
	var errs field.ErrorList
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		for _, msg := range content.IsLabelKey(k) {
			errs = append(errs, field.Invalid(p.Key(k), k, "key: "+msg))
		}
		for _, msg := range content.IsLabelValue(labels[k]) {
			errs = append(errs, field.Invalid(p.Key(k), labels[k], msg))
		}
		if !IsKubeletLabel(k) {
			errs = append(errs, field.Forbidden(p.Key(k), "the NodeRestriction admission plugin forbids a node to set labels under "+
				"kubernetes.io/ or k8s.io/ other than the kubelet's own (kubelet.kubernetes.io/, node.kubernetes.io/, "+
				"topology and instance-type labels); use your own prefix, e.g. kelp.dev/ or example.com/"))
		}
	}
	if v, ok := labels[PoolLabel]; ok && v != pool {
		errs = append(errs, field.Invalid(p.Key(PoolLabel), v, fmt.Sprintf("must be the pool name %q (it is set automatically)", pool)))
	}
	return errs
}

var taintEffects = []corev1.TaintEffect{
	corev1.TaintEffectNoSchedule,
	corev1.TaintEffectPreferNoSchedule,
	corev1.TaintEffectNoExecute,
}

// validateTaints checks each taint's key, value and effect, and that no
// key/effect pair repeats.
func validateTaints(p *field.Path, taints []corev1.Taint) field.ErrorList {
	var errs field.ErrorList
	seen := map[string]bool{}
	for i, t := range taints {
		ip := p.Index(i)
		for _, msg := range content.IsLabelKey(t.Key) {
			errs = append(errs, field.Invalid(ip.Child("key"), t.Key, msg))
		}
		for _, msg := range content.IsLabelValue(t.Value) {
			errs = append(errs, field.Invalid(ip.Child("value"), t.Value, msg))
		}
		if !slices.Contains(taintEffects, t.Effect) {
			errs = append(errs, field.NotSupported(ip.Child("effect"), t.Effect, taintEffects))
		}
		if t.TimeAdded != nil {
			errs = append(errs, field.Forbidden(ip.Child("timeAdded"), "set by the API server, not at registration"))
		}
		id := t.Key + ":" + string(t.Effect)
		if seen[id] {
			errs = append(errs, field.Duplicate(ip, id))
		}
		seen[id] = true
	}
	return errs
}

// nodeLabels returns in.Labels plus PoolLabel.
func nodeLabels(in Input) map[string]string {
	out := maps.Clone(in.Labels)
	if out == nil {
		out = map[string]string{}
	}
	out[PoolLabel] = in.Pool
	return out
}

// labelsFlag formats labels as the kubelet's --node-labels value,
// "k1=v1,k2=v2", sorted by key.
func labelsFlag(labels map[string]string) string {
	parts := make([]string, 0, len(labels))
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		parts = append(parts, k+"="+labels[k])
	}
	return strings.Join(parts, ",")
}
