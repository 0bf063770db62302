package loop

import (
	"context"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ClusterAutoscalerPriorityConfigMap is cluster-autoscaler's priority
// expander ConfigMap, in the same format: kelp reads it when its own
// default (DefaultPriorityConfigMap) does not exist, so a cluster moving
// from cluster-autoscaler keeps its priorities.
const ClusterAutoscalerPriorityConfigMap = "kube-system/cluster-autoscaler-priority-expander"

// priorityConfigMap reads the priority expander's ConfigMap: the one
// --priority-configmap names or, when that is kelp's default and does not
// exist, cluster-autoscaler's. It returns the namespace/name it read (or
// last tried, with a NotFound error).
func (a *Autoscaler) priorityConfigMap(ctx context.Context) (*corev1.ConfigMap, string, error) {
	names := []string{a.o.PriorityConfigMap}
	if a.o.PriorityConfigMap == DefaultPriorityConfigMap {
		names = append(names, ClusterAutoscalerPriorityConfigMap)
	}
	var err error
	for _, name := range names {
		ns, n, _ := strings.Cut(name, "/")
		var cm *corev1.ConfigMap
		if a.sim != nil {
			cm, err = a.sim.configMap(ns, n)
		} else {
			cm, err = a.d.Client.CoreV1().ConfigMaps(ns).Get(ctx, n, metav1.GetOptions{})
		}
		if !apierrors.IsNotFound(err) {
			return cm, name, err
		}
	}
	return nil, names[len(names)-1], err
}
