package autoscaler

import (
	"cmp"
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/kelp-dev/kelp/internal/cloud"
)

// LaunchableTemplate is g as a plan may count on it. When the cloud picks
// which of g's instance types a new instance gets
// (cloud.NodeTemplate.CloudPicksType) and they differ in size, raising the
// group's size cannot ask for a larger one: a plan that counts on an
// m5.xlarge may get an m5.large, its pods stay pending, and the next
// cycle would raise the group again, up to its max. So such a group is
// planned as its floor: the smallest type (by cpu, then memory), with
// each resource the least any of its types has. As cluster-autoscaler
// asks of a MixedInstancesPolicy, a pool's types should be of one size;
// then nothing is lost. g is not modified.
func LaunchableTemplate(g cloud.NodeGroup) cloud.NodeGroup {
	ts := g.Template.InstanceTypes
	if !g.Template.CloudPicksType || len(ts) < 2 || oneSize(ts) {
		return g
	}
	out := g.Clone()
	floor := floorType(out.Template.InstanceTypes)
	out.Template.InstanceTypes = []cloud.InstanceType{floor}
	out.Template.Capacity, out.Template.Allocatable = floor.Capacity.DeepCopy(), floor.Allocatable.DeepCopy()
	if out.Template.Labels != nil {
		out.Template.Labels[corev1.LabelInstanceTypeStable] = floor.Name
	}
	return out
}

// oneSize says whether every type has the same allocatable resources.
func oneSize(ts []cloud.InstanceType) bool {
	for _, it := range ts[1:] {
		if !sameResources(ts[0].Allocatable, it.Allocatable) {
			return false
		}
	}
	return true
}

func sameResources(a, b corev1.ResourceList) bool {
	if len(a) != len(b) {
		return false
	}
	for name, q := range a {
		if o, ok := b[name]; !ok || q.Cmp(o) != 0 {
			return false
		}
	}
	return true
}

// floorType is the smallest of ts by cpu, then memory, then name, with
// each resource of its capacity and allocatable lowered to the least any
// type of ts has (a resource some type lacks is dropped).
func floorType(ts []cloud.InstanceType) cloud.InstanceType {
	base := slices.MinFunc(ts, func(a, b cloud.InstanceType) int {
		return cmp.Or(a.Allocatable.Cpu().Cmp(*b.Allocatable.Cpu()), a.Allocatable.Memory().Cmp(*b.Allocatable.Memory()),
			cmp.Compare(a.Name, b.Name))
	})
	base.Capacity = leastOf(ts, func(it cloud.InstanceType) corev1.ResourceList { return it.Capacity })
	base.Allocatable = leastOf(ts, func(it cloud.InstanceType) corev1.ResourceList { return it.Allocatable })
	return base
}

// leastOf is, for each resource every type has, the least quantity.
func leastOf(ts []cloud.InstanceType, list func(cloud.InstanceType) corev1.ResourceList) corev1.ResourceList {
	out := corev1.ResourceList{}
	for _, name := range slices.Sorted(maps.Keys(list(ts[0]))) {
		var least *resource.Quantity
		for _, it := range ts {
			q, ok := list(it)[name]
			if !ok {
				least = nil
				break
			}
			if least == nil || q.Cmp(*least) < 0 {
				least = &q
			}
		}
		if least != nil {
			out[name] = least.DeepCopy()
		}
	}
	return out
}
