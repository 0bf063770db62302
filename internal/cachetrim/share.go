package cachetrim

import (
	"encoding/binary"
	"fmt"
	"slices"
	"sort"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// tableLimit bounds each table's generation: a table holds at most twice
// that many values, so the values of templates gone from the cluster cost
// little and are let go as new ones arrive.
const tableLimit = 4096

// table shares equal values of one kind: the first value stored under a
// key is returned for every later value with that key, so the pods of one
// template hold one copy of its pieces. When the current generation is
// full it becomes the previous one, and a value found there moves back to
// the current one: values still in use stay shared, the others go.
// A table is safe for concurrent use.
type table[T any] struct {
	mu        sync.Mutex
	cur, prev map[string]T
}

// share returns the value stored under key, storing v when there is none.
func (t *table[T]) share(key []byte, v T) T {
	t.mu.Lock()
	defer t.mu.Unlock()
	if s, ok := t.cur[string(key)]; ok {
		return s
	}
	if s, ok := t.prev[string(key)]; ok {
		v = s
	}
	if t.cur == nil || len(t.cur) >= tableLimit {
		t.prev, t.cur = t.cur, make(map[string]T)
	}
	t.cur[string(key)] = v
	return v
}

// size returns how many values the table holds.
func (t *table[T]) size() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.cur) + len(t.prev)
}

// marshaler is an API type's protobuf encoding: deterministic (map keys
// sorted) and complete, so equal encodings are equal values.
type marshaler[T any] interface {
	*T
	Marshal() ([]byte, error)
}

// shareSlice returns the shared copy of xs (nil and empty slices are
// kept as they are). The shared slice is clipped: appending to it copies.
func shareSlice[T any, P marshaler[T]](t *table[[]T], xs []T) []T {
	if len(xs) == 0 {
		return xs
	}
	var key []byte
	for i := range xs {
		b, err := P(&xs[i]).Marshal()
		if err != nil {
			return xs
		}
		key = binary.AppendUvarint(key, uint64(len(b)))
		key = append(key, b...)
	}
	return t.share(key, slices.Clip(xs))
}

// sharePtr returns the shared copy of *v (nil stays nil).
func sharePtr[T any, P marshaler[T]](t *table[P], v P) P {
	if v == nil {
		return v
	}
	b, err := v.Marshal()
	if err != nil {
		return v
	}
	return t.share(b, v)
}

// shareMap returns the shared copy of m (nil and empty maps are kept).
func shareMap(t *table[map[string]string], m map[string]string) map[string]string {
	if len(m) == 0 {
		return m
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var key []byte
	for _, k := range keys {
		key = binary.AppendUvarint(key, uint64(len(k)))
		key = append(key, k...)
		key = binary.AppendUvarint(key, uint64(len(m[k])))
		key = append(key, m[k]...)
	}
	return t.share(key, m)
}

// shareString returns the shared copy of s.
func shareString[S ~string](t *table[string], s S) S {
	if s == "" {
		return s
	}
	return S(t.share([]byte(s), string(s)))
}

// shareScalar returns the shared copy of *v (nil stays nil).
func shareScalar[T ~int32 | ~int64 | ~string](t *table[*T], v *T) *T {
	if v == nil {
		return v
	}
	return t.share(fmt.Appendf(nil, "%v", *v), v)
}

// sharer holds the tables of the pieces pods of one template have in
// common. Every piece it hands out is read-only: readers of the cache
// never write to cached objects.
type sharer struct {
	strings                        table[string]
	labels, annotations, selectors table[map[string]string]
	owners                         table[[]metav1.OwnerReference]
	containers, initContainers     table[[]corev1.Container]
	volumes                        table[[]corev1.Volume]
	tolerations                    table[[]corev1.Toleration]
	spread                         table[[]corev1.TopologySpreadConstraint]
	affinity                       table[*corev1.Affinity]
	conditions                     table[[]corev1.PodCondition]
	podResources                   table[*corev1.ResourceRequirements]
	gracePeriods                   table[*int64]
	priorities                     table[*int32]
	preemptionPolicies             table[*corev1.PreemptionPolicy]
}

// shared is the process's sharer: every informer's transform uses it.
var shared sharer

// pod replaces p's pieces by their shared copies. p must be trimmed and
// not yet in any cache.
func (s *sharer) pod(p *corev1.Pod) {
	p.Namespace = shareString(&s.strings, p.Namespace)
	p.GenerateName = shareString(&s.strings, p.GenerateName)
	p.Labels = shareMap(&s.labels, p.Labels)
	p.Annotations = shareMap(&s.annotations, p.Annotations)
	p.OwnerReferences = shareSlice(&s.owners, p.OwnerReferences)
	spec := &p.Spec
	spec.Containers = shareSlice(&s.containers, spec.Containers)
	spec.InitContainers = shareSlice(&s.initContainers, spec.InitContainers)
	spec.Volumes = shareSlice(&s.volumes, spec.Volumes)
	spec.Tolerations = shareSlice(&s.tolerations, spec.Tolerations)
	spec.TopologySpreadConstraints = shareSlice(&s.spread, spec.TopologySpreadConstraints)
	spec.Affinity = sharePtr(&s.affinity, spec.Affinity)
	spec.NodeSelector = shareMap(&s.selectors, spec.NodeSelector)
	spec.Resources = sharePtr(&s.podResources, spec.Resources)
	spec.NodeName = shareString(&s.strings, spec.NodeName)
	spec.RestartPolicy = shareString(&s.strings, spec.RestartPolicy)
	spec.PriorityClassName = shareString(&s.strings, spec.PriorityClassName)
	spec.TerminationGracePeriodSeconds = shareScalar(&s.gracePeriods, spec.TerminationGracePeriodSeconds)
	spec.Priority = shareScalar(&s.priorities, spec.Priority)
	spec.PreemptionPolicy = shareScalar(&s.preemptionPolicies, spec.PreemptionPolicy)
	st := &p.Status
	st.Phase = shareString(&s.strings, st.Phase)
	st.Conditions = shareSlice(&s.conditions, st.Conditions)
}
