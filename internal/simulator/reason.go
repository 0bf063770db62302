package simulator

import corev1 "k8s.io/api/core/v1"

// Reason says why a pod does not fit a node, or why the simulator cannot
// model a pod. Values are stable strings meant for events and status; the
// ones that mirror a kube-scheduler filter use the scheduler's wording.
type Reason string

// Reasons a pod does not fit a node.
const (
	ReasonNone          Reason = ""
	ReasonNodeNotFound  Reason = "node(s) not found in snapshot"
	ReasonUnschedulable Reason = "node(s) were unschedulable"
	ReasonNodeName      Reason = "node(s) didn't match the requested node name"
	ReasonTaint         Reason = "node(s) had untolerated taint"
	ReasonNodeAffinity  Reason = "node(s) didn't match Pod's node affinity/selector"
	ReasonHostPorts     Reason = "node(s) didn't have free ports for the requested pod ports"
	ReasonTooManyPods   Reason = "Too many pods"
	ReasonVolumeZone    Reason = "node(s) had volume node affinity conflict"
	// ReasonMaxVolumeCount: kube-scheduler's NodeVolumeLimits (see
	// [VolumeLimitPrefix]).
	ReasonMaxVolumeCount       Reason = "node(s) exceed max volume count"
	ReasonSpreadMissingLabel   Reason = "node(s) didn't match pod topology spread constraints (missing required label)"
	ReasonSpread               Reason = "node(s) didn't match pod topology spread constraints"
	ReasonPodAffinity          Reason = "node(s) didn't match pod affinity rules"
	ReasonPodAntiAffinity      Reason = "node(s) didn't match pod anti-affinity rules"
	ReasonExistingAntiAffinity Reason = "node(s) didn't satisfy existing pods anti-affinity rules"
)

// Reasons a pod is not modelled by the simulator (see [Pod.Unsupported]).
const (
	UnsupportedTopologyKey    Reason = "unsupported: pod affinity or topology spread on a topology key other than kubernetes.io/hostname or topology.kubernetes.io/zone"
	UnsupportedResourceClaims Reason = "unsupported: pod uses dynamic resource claims"
	UnsupportedVolumes        Reason = "unsupported: pod has persistent volume claims the caller did not resolve"
	UnsupportedSelector       Reason = "unsupported: pod has an invalid label or node selector"
	UnsupportedNilPod         Reason = "unsupported: no pod"
)

// InsufficientResource returns the reason for a node without enough of a
// resource, as the scheduler words it ("Insufficient cpu").
func InsufficientResource(name corev1.ResourceName) Reason {
	return Reason("Insufficient " + string(name))
}

// String returns the reason text.
func (r Reason) String() string { return string(r) }
