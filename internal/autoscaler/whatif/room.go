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
// the allocatable of the pool's primary instance type less the requests
// of the DaemonSet pods that would run there, for each resource the pod
// requests.
type Room struct {
	InstanceType string            `json:"instanceType"`
	Requests     map[string]string `json:"requests"`
	Free         map[string]string `json:"free"`
}

// roomOf is pod's Room on a new node of g, nil when g has no template.
func roomOf(g cloud.NodeGroup, pod *corev1.Pod, daemonSets []*appsv1.DaemonSet) *Room {
	t := g.Template
	if len(t.InstanceTypes) == 0 || len(t.Allocatable) == 0 {
		return nil
	}
	node := &corev1.Node{}
	node.Name, node.Labels, node.Spec.Taints = g.ID+"-template", t.Labels, t.Taints
	node.Status.Allocatable, node.Status.Capacity = t.Allocatable, t.Capacity
	free := simulator.ResourcesFromList(t.Allocatable)
	free.Sub(simulator.DaemonSetOverhead(node, daemonSets))
	req := simulator.PodRequests(pod)
	r := &Room{InstanceType: t.InstanceTypes[0].Name, Requests: map[string]string{}, Free: map[string]string{}}
	put := func(name string, want, have int64, format func(int64) string) {
		if want > 0 {
			r.Requests[name], r.Free[name] = format(want), format(have)
		}
	}
	put("cpu", req.MilliCPU, free.MilliCPU, func(v int64) string { return resource.NewMilliQuantity(v, resource.DecimalSI).String() })
	put("memory", req.Memory, free.Memory, binary)
	put("ephemeral-storage", req.EphemeralStorage, free.EphemeralStorage, binary)
	for name, v := range req.Scalar {
		put(string(name), v, free.Scalar[name], func(v int64) string { return fmt.Sprint(v) })
	}
	r.Free["pods"] = fmt.Sprint(free.Pods)
	return r
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
// new m5.large has cpu 1930m, memory 6.9Gi, pods 27 free".
func (r Room) String() string {
	names := slices.Sorted(maps.Keys(r.Requests))
	var need, have []string
	for _, n := range names {
		need = append(need, n+" "+r.Requests[n])
		have = append(have, n+" "+r.Free[n])
	}
	have = append(have, "pods "+r.Free["pods"])
	return fmt.Sprintf("needs %s; a new %s has %s free", strings.Join(need, ", "), r.InstanceType, strings.Join(have, ", "))
}
