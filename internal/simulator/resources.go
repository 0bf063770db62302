package simulator

import (
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	resourcehelper "k8s.io/component-helpers/resource"
)

// Resources is a resource vector in the units the kube-scheduler compares:
// millicores for cpu, bytes for memory and ephemeral-storage, a count for
// pods, and integer units for scalar resources (extended resources such as
// nvidia.com/gpu, hugepages-*, and kubernetes.io/-prefixed resources).
// Resources with other names (e.g. "storage") are ignored, as the scheduler
// ignores them.
type Resources struct {
	MilliCPU         int64
	Memory           int64
	EphemeralStorage int64
	Pods             int64
	// Scalar holds scalar resources; nil when there are none. Zero entries
	// are never stored.
	Scalar map[corev1.ResourceName]int64
}

// ResourcesFromList converts a ResourceList (allocatable, or a request).
func ResourcesFromList(rl corev1.ResourceList) Resources {
	var r Resources
	for name, q := range rl {
		switch name {
		case corev1.ResourceCPU:
			r.MilliCPU = q.MilliValue()
		case corev1.ResourceMemory:
			r.Memory = q.Value()
		case corev1.ResourceEphemeralStorage:
			r.EphemeralStorage = q.Value()
		case corev1.ResourcePods:
			r.Pods = q.Value()
		default:
			if isScalar(name) {
				r.setScalar(name, q.Value())
			}
		}
	}
	return r
}

// isScalar reports whether the scheduler tracks name as a scalar resource:
// hugepages, extended resources and kubernetes.io/-prefixed resources (every
// name with a slash).
func isScalar(name corev1.ResourceName) bool {
	return strings.HasPrefix(string(name), corev1.ResourceHugePagesPrefix) || strings.Contains(string(name), "/")
}

func (r *Resources) setScalar(name corev1.ResourceName, v int64) {
	if v == 0 {
		delete(r.Scalar, name)
		return
	}
	if r.Scalar == nil {
		r.Scalar = make(map[corev1.ResourceName]int64, 1)
	}
	r.Scalar[name] = v
}

// Add adds o to r in place.
func (r *Resources) Add(o Resources) { r.addScaled(o, 1) }

// Sub subtracts o from r in place.
func (r *Resources) Sub(o Resources) { r.addScaled(o, -1) }

func (r *Resources) addScaled(o Resources, sign int64) {
	r.MilliCPU += sign * o.MilliCPU
	r.Memory += sign * o.Memory
	r.EphemeralStorage += sign * o.EphemeralStorage
	r.Pods += sign * o.Pods
	for name, v := range o.Scalar {
		r.setScalar(name, r.Scalar[name]+sign*v)
	}
}

// Clone returns a copy that shares nothing with r.
func (r Resources) Clone() Resources {
	r.Scalar = maps.Clone(r.Scalar)
	return r
}

// Equal reports whether r and o hold the same amounts.
func (r Resources) Equal(o Resources) bool {
	return r.MilliCPU == o.MilliCPU && r.Memory == o.Memory &&
		r.EphemeralStorage == o.EphemeralStorage && r.Pods == o.Pods &&
		maps.Equal(r.Scalar, o.Scalar)
}

// isZeroRequest reports whether no resource other than the pod count is
// requested (the scheduler then checks only the pod count).
func (r Resources) isZeroRequest() bool {
	return r.MilliCPU == 0 && r.Memory == 0 && r.EphemeralStorage == 0 && len(r.Scalar) == 0
}

// insufficient returns the first resource of req (in the order cpu, memory,
// ephemeral-storage, then scalar names sorted) that free cannot hold, with
// the scheduler's meaning: free = allocatable − requested on the node.
func insufficient(free, req Resources) (corev1.ResourceName, bool) {
	switch {
	case req.MilliCPU > free.MilliCPU && req.MilliCPU > 0:
		return corev1.ResourceCPU, true
	case req.Memory > free.Memory && req.Memory > 0:
		return corev1.ResourceMemory, true
	case req.EphemeralStorage > free.EphemeralStorage && req.EphemeralStorage > 0:
		return corev1.ResourceEphemeralStorage, true
	}
	if len(req.Scalar) == 0 {
		return "", false
	}
	for _, name := range slices.Sorted(maps.Keys(req.Scalar)) {
		if v := req.Scalar[name]; v > 0 && v > free.Scalar[name] {
			return name, true
		}
	}
	return "", false
}

// PodRequests returns what the kube-scheduler counts as the pod's requests:
// k8s.io/component-helpers resource.PodRequests with the PodLevelResources
// feature on (the larger of the sum of the regular and restartable init
// (sidecar) containers and, for each init container, its requests plus
// those of the sidecars started before it; then pod-level requests replace
// cpu, memory and hugepages when set; then the pod overhead is added).
// Pods is always 1. Requests of containers' status (in-place resize) are
// not considered: pending pods have none.
func PodRequests(pod *corev1.Pod) Resources {
	r := ResourcesFromList(resourcehelper.PodRequests(pod, resourcehelper.PodResourcesOptions{}))
	r.Pods = 1
	return r
}
