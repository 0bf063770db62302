package cachetrim

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// LastAppliedAnnotation is kubectl's copy of the applied object.
const LastAppliedAnnotation = corev1.LastAppliedConfigAnnotation

// Transform trims obj in place (see the package doc) and returns it. It is
// idempotent, as an informer's transform must be; objects that are not
// Kubernetes objects (a DeletedFinalStateUnknown tombstone) pass unchanged.
func Transform(obj any) (any, error) {
	switch o := obj.(type) {
	case *corev1.Pod:
		Pod(o)
	case *corev1.Node:
		Node(o)
	case metav1.Object:
		trimMeta(o)
	}
	return obj, nil
}

// Pod trims a pod in place.
func Pod(p *corev1.Pod) {
	trimMeta(p)
	for i := range p.Spec.InitContainers {
		trimContainer(&p.Spec.InitContainers[i])
	}
	for i := range p.Spec.Containers {
		trimContainer(&p.Spec.Containers[i])
	}
	p.Spec.EphemeralContainers = nil
	s := &p.Status
	s.ContainerStatuses, s.InitContainerStatuses, s.EphemeralContainerStatuses = nil, nil, nil
	s.PodIP, s.PodIPs, s.HostIP, s.HostIPs = "", nil, "", nil
}

// trimContainer keeps what the scheduler reads of a container: its name,
// image, resources, ports, restart policy and resize policy.
func trimContainer(c *corev1.Container) {
	c.Command, c.Args, c.WorkingDir = nil, nil, ""
	c.Env, c.EnvFrom = nil, nil
	c.VolumeMounts, c.VolumeDevices = nil, nil
	c.LivenessProbe, c.ReadinessProbe, c.StartupProbe, c.Lifecycle = nil, nil, nil, nil
	c.TerminationMessagePath, c.TerminationMessagePolicy = "", ""
}

// Node trims a node in place.
func Node(n *corev1.Node) {
	trimMeta(n)
	n.Status.Images = nil
}

func trimMeta(o metav1.Object) {
	o.SetManagedFields(nil)
	delete(o.GetAnnotations(), LastAppliedAnnotation)
}
