package autoscaler

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// IgnoredByScaleDown reports whether a pod neither blocks nor needs to
// move when its node goes: DaemonSet pods (their controller recreates them
// where they belong), mirror pods (the kubelet's static pods die with the
// node), pods in a terminal phase and pods already being deleted. The
// drain actuator uses the same rule, minus the last two (it waits for
// those to be gone).
func IgnoredByScaleDown(pod *corev1.Pod) bool {
	return IsDaemonOrMirrorPod(pod) || gone(pod)
}

// gone reports whether pod is in a terminal phase or being deleted.
func gone(pod *corev1.Pod) bool {
	return pod.DeletionTimestamp != nil || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
}

// isDaemonSetPod reports whether pod's controller is a DaemonSet (and it
// is not a mirror pod).
func isDaemonSetPod(pod *corev1.Pod) bool {
	_, mirror := pod.Annotations[AnnotationMirrorPod]
	return !mirror && IsDaemonOrMirrorPod(pod)
}

// IsDaemonOrMirrorPod reports whether pod is a DaemonSet pod (its
// controller is a DaemonSet) or a static pod's mirror.
func IsDaemonOrMirrorPod(pod *corev1.Pod) bool {
	if _, ok := pod.Annotations[AnnotationMirrorPod]; ok {
		return true
	}
	// As metav1.GetControllerOf, without its copy: this runs for every pod
	// of every node each cycle.
	for i := range pod.OwnerReferences {
		if r := &pod.OwnerReferences[i]; r.Controller != nil && *r.Controller {
			return r.Kind == "DaemonSet"
		}
	}
	return false
}

// pdbState is one PDB compiled for matching, with the disruptions left in
// the round.
type pdbState struct {
	key       string
	namespace string
	selector  labels.Selector
	allowed   int32
}

func compilePDBs(pdbs []*policyv1.PodDisruptionBudget) []*pdbState {
	out := make([]*pdbState, 0, len(pdbs))
	for _, b := range pdbs {
		if b == nil {
			continue
		}
		// As the disruption controller: a nil selector matches nothing, an
		// empty one every pod of the namespace; an invalid one nothing.
		sel, err := metav1.LabelSelectorAsSelector(b.Spec.Selector)
		if err != nil {
			sel = labels.Nothing()
		}
		out = append(out, &pdbState{key: b.Namespace + "/" + b.Name, namespace: b.Namespace, selector: sel, allowed: b.Status.DisruptionsAllowed})
	}
	return out
}

// matchingPDBs returns the PDBs that cover pod.
func matchingPDBs(pdbs []*pdbState, pod *corev1.Pod) []*pdbState {
	var out []*pdbState
	for _, b := range pdbs {
		if b.namespace == pod.Namespace && b.selector.Matches(labels.Set(pod.Labels)) {
			out = append(out, b)
		}
	}
	return out
}

// podBlocker returns why pod (neither ignored nor DaemonSet) keeps its
// node, or nil when it may be evicted as far as the pod alone goes (PDB
// budgets are counted per node by pdbBlocker).
func podBlocker(pod *corev1.Pod, pdbs []*pdbState, o ScaleDownOptions) *Blocker {
	key := pod.Namespace + "/" + pod.Name
	switch {
	case pod.Annotations[AnnotationSafeToEvict] == "false":
		return &Blocker{BlockedNotSafeToEvict, "pod " + key}
	case pod.Annotations[AnnotationDoNotDisrupt] == "true":
		return &Blocker{BlockedDoNotDisrupt, "pod " + key}
	}
	covering := matchingPDBs(pdbs, pod)
	if len(covering) > 1 {
		names := make([]string, len(covering))
		for i, b := range covering {
			names[i] = b.key
		}
		return &Blocker{BlockedPDB, fmt.Sprintf("pod %s is covered by more than one PDB (%s): the Eviction API refuses it", key, strings.Join(names, ", "))}
	}
	if pod.Annotations[AnnotationSafeToEvict] == "true" {
		return nil
	}
	switch {
	case metav1.GetControllerOf(pod) == nil:
		return &Blocker{BlockedNotReplicated, "pod " + key + " has no controller"}
	case o.SkipNodesWithSystemPods && pod.Namespace == metav1.NamespaceSystem && len(covering) == 0:
		return &Blocker{BlockedKubeSystemPod, "pod " + key + " has no PDB"}
	case o.SkipNodesWithLocalStorage:
		if v := localVolume(pod); v != "" {
			return &Blocker{BlockedLocalStorage, fmt.Sprintf("pod %s volume %q", key, v)}
		}
	}
	return nil
}

// localVolume returns the name of the first hostPath or disk-backed
// emptyDir volume of pod not listed in its safe-to-evict-local-volumes
// annotation, "" when there is none. Memory-backed emptyDirs hold nothing
// a restart elsewhere would miss that a restart in place would keep, as
// cluster-autoscaler decides.
func localVolume(pod *corev1.Pod) string {
	allowed := strings.Split(pod.Annotations[AnnotationSafeToEvictLocalVolumes], ",")
	for i := range allowed {
		allowed[i] = strings.TrimSpace(allowed[i])
	}
	for _, v := range pod.Spec.Volumes {
		local := v.HostPath != nil || (v.EmptyDir != nil && v.EmptyDir.Medium != corev1.StorageMediumMemory)
		if local && !slices.Contains(allowed, v.Name) {
			return v.Name
		}
	}
	return ""
}

// pdbBlocker returns why evicting pods at once would exceed a PDB's
// disruptions allowed minus those spent already this round (spent may be
// nil), nil when every PDB allows it. It also returns, per PDB, how many of
// the pods it covers.
func pdbBlocker(pods []*corev1.Pod, pdbs []*pdbState, spent map[*pdbState]int32) (*Blocker, map[*pdbState]int32) {
	used := map[*pdbState]int32{}
	for _, pod := range pods {
		for _, b := range matchingPDBs(pdbs, pod) {
			used[b]++
		}
	}
	for _, b := range pdbs { // in input order, for a stable detail
		if n, left := used[b], b.allowed-spent[b]; n > 0 && n > left {
			return &Blocker{BlockedPDB, fmt.Sprintf("%s allows %d more disruption(s), the node has %d of its pods", b.key, max(left, 0), n)}, used
		}
	}
	return nil, used
}
