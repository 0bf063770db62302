package simulator

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// daemonTolerations are the tolerations the DaemonSet controller adds to
// every daemon pod (pkg/controller/daemon/util.AddOrUpdateDaemonPodTolerations).
var daemonTolerations = []corev1.Toleration{
	{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute},
	{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute},
	{Key: corev1.TaintNodeDiskPressure, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
	{Key: corev1.TaintNodeMemoryPressure, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
	{Key: corev1.TaintNodePIDPressure, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
	{Key: corev1.TaintNodeUnschedulable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
}

var hostNetworkToleration = corev1.Toleration{
	Key: corev1.TaintNodeNetworkUnavailable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule,
}

// DaemonSetPods returns the daemon pods that the DaemonSet controller would
// create on node, compiled, one per DaemonSet whose pod template tolerates
// the node's taints (with the controller's default tolerations added) and
// whose node selector and required node affinity match the node. Pods are
// named "<daemonset>-<node>" in the DaemonSet's namespace and carry the
// template's labels and a controller reference to the DaemonSet. Resources
// are not checked here; [Snapshot.AddTemplateNode] places only those that
// fit. nil DaemonSets are skipped.
func DaemonSetPods(node *corev1.Node, daemonSets []*appsv1.DaemonSet) []*Pod {
	if node == nil {
		return nil
	}
	var out []*Pod
	for _, ds := range daemonSets {
		if ds == nil {
			continue
		}
		p := NewPod(PodInfo{Pod: daemonPod(ds, node.Name), VolumesResolved: true})
		if p.unsupported != ReasonNone || p.staticFit(node) != ReasonNone {
			continue
		}
		out = append(out, p)
	}
	return out
}

// DaemonSetOverhead returns the summed requests of [DaemonSetPods] for node:
// what a new node of that template loses to DaemonSets before any workload
// pod lands. Pods counts the daemon pods.
func DaemonSetOverhead(node *corev1.Node, daemonSets []*appsv1.DaemonSet) Resources {
	var sum Resources
	for _, p := range DaemonSetPods(node, daemonSets) {
		sum.Add(p.requests)
	}
	return sum
}

func daemonPod(ds *appsv1.DaemonSet, nodeName string) *corev1.Pod {
	spec := *ds.Spec.Template.Spec.DeepCopy()
	spec.Tolerations = append(spec.Tolerations, daemonTolerations...)
	if spec.HostNetwork {
		spec.Tolerations = append(spec.Tolerations, hostNetworkToleration)
	}
	isController := true
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:      ds.Name + "-" + nodeName,
			Namespace: ds.Namespace,
			Labels:    ds.Spec.Template.Labels,
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "apps/v1", Kind: "DaemonSet", Name: ds.Name, UID: ds.UID, Controller: &isController,
			}},
		},
		Spec: spec,
	}
}
