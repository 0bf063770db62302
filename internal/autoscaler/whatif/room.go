package whatif

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/simulator"
)

// Room puts a pod's requests next to what a new node of a pool offers it:
// the allocatable of each instance type the pool may launch less the
// requests of the DaemonSet pods that would run there, for each resource
// the pod requests. InstanceType and Free are the primary type's, Others
// the other types' (the group may launch any of them).
type Room struct {
	InstanceType string            `json:"instanceType"`
	Requests     map[string]string `json:"requests"`
	Free         map[string]string `json:"free"`
	Others       []TypeRoom        `json:"otherTypes,omitempty"`
}

// TypeRoom is what a new node of one more instance type has free.
type TypeRoom struct {
	InstanceType string            `json:"instanceType"`
	Free         map[string]string `json:"free"`
}

// roomOf is pod's Room on a new node of g, nil when g has no template.
func roomOf(g cloud.NodeGroup, pod *corev1.Pod, daemonSets []*appsv1.DaemonSet) *Room {
	t := g.Template
	if len(t.InstanceTypes) == 0 || len(t.Allocatable) == 0 {
		return nil
	}
	req := simulator.PodRequests(pod)
	r := &Room{InstanceType: t.InstanceTypes[0].Name, Requests: map[string]string{}}
	for i, it := range t.InstanceTypes {
		alloc, capacity := it.Allocatable, it.Capacity
		if i == 0 || len(alloc) == 0 {
			alloc, capacity = t.Allocatable, t.Capacity
		}
		node := &corev1.Node{}
		node.Name, node.Labels, node.Spec.Taints = g.ID+"-template", t.Labels, t.Taints
		node.Status.Allocatable, node.Status.Capacity = alloc, capacity
		free := simulator.ResourcesFromList(alloc)
		free.Sub(simulator.DaemonSetOverhead(node, daemonSets))
		have := freeFor(req, free, r.Requests)
		if i == 0 {
			r.Free = have
			continue
		}
		r.Others = append(r.Others, TypeRoom{InstanceType: it.Name, Free: have})
	}
	return r
}

// freeFor renders free for each resource req asks for (and pods), and
// puts req's amounts into requests.
func freeFor(req, free simulator.Resources, requests map[string]string) map[string]string {
	out := map[string]string{}
	put := func(name string, want, have int64, format func(int64) string) {
		if want > 0 {
			requests[name], out[name] = format(want), format(have)
		}
	}
	put("cpu", req.MilliCPU, free.MilliCPU, func(v int64) string { return resource.NewMilliQuantity(v, resource.DecimalSI).String() })
	put("memory", req.Memory, free.Memory, binary)
	put("ephemeral-storage", req.EphemeralStorage, free.EphemeralStorage, binary)
	for name, v := range req.Scalar {
		put(string(name), v, free.Scalar[name], func(v int64) string { return fmt.Sprint(v) })
	}
	out["pods"] = fmt.Sprint(free.Pods)
	return out
}

// binary renders bytes in GiB (one decimal) from 1Gi, else in whole MiB.
func binary(v int64) string {
	switch {
	case v >= 1<<30:
		return fmt.Sprintf("%.1fGi", float64(v)/(1<<30))
	case v >= 1<<20:
		return fmt.Sprintf("%dMi", v>>20)
	}
	return resource.NewQuantity(v, resource.BinarySI).String()
}

// String renders the room for people: "needs cpu 500m, memory 30.0Gi; a
// new m5.large has cpu 1930m, memory 6.9Gi, pods 27 free", and with more
// instance types "...; a new m5.large has ... free (m5.xlarge: cpu 3920m,
// ...; c5.large: ...)".
func (r Room) String() string {
	names := slices.Sorted(maps.Keys(r.Requests))
	var need []string
	for _, n := range names {
		need = append(need, n+" "+r.Requests[n])
	}
	have := func(free map[string]string) string {
		var out []string
		for _, n := range names {
			out = append(out, n+" "+free[n])
		}
		return strings.Join(append(out, "pods "+free["pods"]), ", ")
	}
	s := fmt.Sprintf("needs %s; a new %s has %s free", strings.Join(need, ", "), r.InstanceType, have(r.Free))
	if len(r.Others) == 0 {
		return s
	}
	var others []string
	for _, o := range r.Others {
		others = append(others, o.InstanceType+": "+have(o.Free))
	}
	return s + " (" + strings.Join(others, "; ") + ")"
}
