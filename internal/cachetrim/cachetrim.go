package cachetrim

import (
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// LastAppliedAnnotation is kubectl's copy of the applied object.
const LastAppliedAnnotation = corev1.LastAppliedConfigAnnotation

// Transform trims obj in place (see the package doc) and returns it. It is
// idempotent, as an informer's transform must be; objects that are not
// Kubernetes objects (a DeletedFinalStateUnknown tombstone) pass unchanged.
// obj must be the informer's, freshly decoded: a pod's pieces are shared
// with other pods once Transform returns, and must not be written to.
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

// Pod trims a pod in place, then replaces the pieces it has in common
// with other pods (labels, owner, containers, tolerations, affinity...)
// by one shared, read-only copy. p must be freshly decoded: not yet in any
// cache, and read-only once Pod returns.
func Pod(p *corev1.Pod) {
	trimMeta(p)
	trimSpec(&p.Spec)
	trimStatus(&p.Status)
	shared.pod(p)
}

// trimSpec keeps what the simulator compiles, what scale-down and drains
// read (owners, local volumes, grace period) and the node name.
func trimSpec(s *corev1.PodSpec) {
	for i := range s.InitContainers {
		trimContainer(&s.InitContainers[i])
	}
	for i := range s.Containers {
		trimContainer(&s.Containers[i])
	}
	s.EphemeralContainers = nil
	s.Volumes = slices.DeleteFunc(s.Volumes, func(v corev1.Volume) bool {
		return v.PersistentVolumeClaim == nil && v.Ephemeral == nil && v.HostPath == nil && v.EmptyDir == nil
	})
	if len(s.Volumes) == 0 {
		s.Volumes = nil
	}
	s.ServiceAccountName, s.DeprecatedServiceAccount, s.AutomountServiceAccountToken = "", "", nil
	s.SchedulerName, s.DNSPolicy, s.DNSConfig, s.EnableServiceLinks = "", "", nil, nil
	s.Hostname, s.Subdomain, s.HostAliases, s.ImagePullSecrets = "", "", nil, nil
	s.SecurityContext, s.ReadinessGates, s.ActiveDeadlineSeconds = nil, nil, nil
}

// trimContainer keeps what the scheduler reads of a container: its name,
// image, resources, ports, restart policy and resize policy.
func trimContainer(c *corev1.Container) {
	c.Command, c.Args, c.WorkingDir = nil, nil, ""
	c.Env, c.EnvFrom = nil, nil
	c.VolumeMounts, c.VolumeDevices = nil, nil
	c.LivenessProbe, c.ReadinessProbe, c.StartupProbe, c.Lifecycle = nil, nil, nil, nil
	c.TerminationMessagePath, c.TerminationMessagePolicy = "", ""
	c.SecurityContext, c.ImagePullPolicy = nil, ""
	c.Stdin, c.StdinOnce, c.TTY = false, false, false
}

// trimStatus keeps the phase, the PodScheduled condition (how kelp tells
// an unschedulable pod), the reason and message and the nominated node.
func trimStatus(s *corev1.PodStatus) {
	s.ContainerStatuses, s.InitContainerStatuses, s.EphemeralContainerStatuses = nil, nil, nil
	s.PodIP, s.PodIPs, s.HostIP, s.HostIPs = "", nil, "", nil
	s.StartTime, s.QOSClass, s.Resize, s.ResourceClaimStatuses = nil, "", "", nil
	s.Conditions = slices.DeleteFunc(s.Conditions, func(c corev1.PodCondition) bool { return c.Type != corev1.PodScheduled })
	if len(s.Conditions) == 0 {
		s.Conditions = nil
	}
}

// Node trims a node in place: what the kubelet reports for humans and the
// attach/detach controller (images, addresses, system info, volumes,
// runtime handlers, features, config) goes.
func Node(n *corev1.Node) {
	trimMeta(n)
	s := &n.Status
	s.Images, s.Addresses, s.NodeInfo, s.DaemonEndpoints = nil, nil, corev1.NodeSystemInfo{}, corev1.NodeDaemonEndpoints{}
	s.VolumesInUse, s.VolumesAttached, s.RuntimeHandlers, s.Features, s.Config = nil, nil, nil, nil, nil
}

func trimMeta(o metav1.Object) {
	o.SetManagedFields(nil)
	delete(o.GetAnnotations(), LastAppliedAnnotation)
}
