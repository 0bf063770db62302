package simulator

import (
	"encoding/hex"
	"encoding/json"
	"hash/fnv"
	"maps"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// perPodLabels differ between replicas of one owner and are left out of the
// equivalence key.
var perPodLabels = []string{
	"statefulset.kubernetes.io/pod-name",
	"apps.kubernetes.io/pod-index",
}

// EquivalenceKey returns a key equal for pods that the simulator treats
// identically: same namespace, controlling owner, labels (other than
// per-replica ones), requests, overhead, node selector and affinity,
// tolerations, topology spread, host ports, node name, persistent volume
// claims and resource claims. Pods of one ReplicaSet, Job or DaemonSet revision normally share
// a key, so a planner evaluates 10,000 replicas like one. Resolved volume
// zones are not part of the pod and thus not of the key: StatefulSet
// replicas with distinct claims get distinct keys through their volumes.
func EquivalenceKey(pod *corev1.Pod) string {
	if pod == nil {
		return ""
	}
	l := maps.Clone(pod.Labels)
	for _, k := range perPodLabels {
		delete(l, k)
	}
	shape := struct {
		NS          string
		Owner       *metav1.OwnerReference
		Labels      map[string]string
		Containers  []containerShape
		Init        []containerShape
		Overhead    corev1.ResourceList
		PodRes      *corev1.ResourceRequirements
		NodeName    string
		NodeSel     map[string]string
		Affinity    *corev1.Affinity
		Tolerations []corev1.Toleration
		Spread      []corev1.TopologySpreadConstraint
		Claims      []string
		DRA         []corev1.PodResourceClaim
	}{
		NS: pod.Namespace, Owner: metav1.GetControllerOfNoCopy(pod), Labels: l,
		Containers: shapes(pod.Spec.Containers), Init: shapes(pod.Spec.InitContainers),
		Overhead: pod.Spec.Overhead, PodRes: pod.Spec.Resources, NodeName: pod.Spec.NodeName,
		NodeSel: pod.Spec.NodeSelector, Affinity: pod.Spec.Affinity, Tolerations: pod.Spec.Tolerations,
		Spread: pod.Spec.TopologySpreadConstraints, Claims: claimNames(pod), DRA: pod.Spec.ResourceClaims,
	}
	b, err := json.Marshal(shape)
	if err != nil {
		// Not reachable for API types; fall back to a key unique to the pod.
		return "pod:" + string(pod.UID) + "/" + pod.Namespace + "/" + pod.Name
	}
	h := fnv.New128a()
	_, _ = h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

type containerShape struct {
	Requests      corev1.ResourceList
	Ports         []corev1.ContainerPort
	RestartPolicy *corev1.ContainerRestartPolicy
}

func shapes(cs []corev1.Container) []containerShape {
	out := make([]containerShape, len(cs))
	for i := range cs {
		out[i] = containerShape{Requests: cs[i].Resources.Requests, Ports: cs[i].Ports, RestartPolicy: cs[i].RestartPolicy}
	}
	return out
}

// claimNames lists the pod's PersistentVolumeClaim names and generic
// ephemeral volume names; other volumes (projected tokens with per-pod
// names, configMaps, ...) do not affect scheduling.
func claimNames(pod *corev1.Pod) []string {
	var out []string
	for _, v := range pod.Spec.Volumes {
		switch {
		case v.PersistentVolumeClaim != nil:
			out = append(out, "pvc:"+v.PersistentVolumeClaim.ClaimName)
		case v.Ephemeral != nil:
			out = append(out, "ephemeral:"+v.Name)
		}
	}
	return out
}
