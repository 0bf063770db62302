package scenario

import (
	"fmt"
	"math/rand/v2"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kelp-dev/kelp/internal/autoscaler"
	"github.com/kelp-dev/kelp/internal/catalog"
	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/simulator"
)

// DiverseTypes is the number of synthetic instance types each group of a
// diverse scenario offers.
const DiverseTypes = 400

// DiverseSpec describes a diverse scenario: many small classes whose
// constraints count pods of other classes, on an empty cluster of three
// groups (one per zone) offering DiverseTypes synthetic instance types
// each. The same DiverseSpec always generates the same input.
type DiverseSpec struct {
	Seed uint64
	// Pods is the number of pending pods (5..MaxPendingPods).
	Pods int
}

// String names the spec, e.g. "diverse/pods=1000/seed=1".
func (s DiverseSpec) String() string { return fmt.Sprintf("diverse/pods=%d/seed=%d", s.Pods, s.Seed) }

// The diverse workload's shapes and label values (Karpenter's scheduling
// benchmark draws from the same).
var (
	diverseMilliCPU = []int64{100, 250, 500, 1000, 1500}
	diverseMemMiB   = []int64{100, 256, 512, 1024, 2048, 4096}
	diverseValues   = []string{"a", "b", "c", "d", "e", "f", "g"}
)

// Labels of the diverse workload's pods.
const (
	DiverseLabel         = "my-label"    // plain and spread pods: a value drawn per pod
	DiverseAffinityLabel = "my-affinity" // self-affinity pods: a value drawn per pod
	DiverseAntiLabel     = "app"         // anti-affinity pods: all "anti", mutually exclusive
)

// GenerateDiverse builds a diverse scenario's input. The pending pods come
// in fifths (the remainder plain), each pod with cpu and memory drawn
// independently from diverseMilliCPU and diverseMemMiB:
//
//  1. plain: label my-label=v (v drawn from a..g);
//  2. zone spread: label my-label=v, one topology spread constraint on the
//     zone, maxSkew 1, DoNotSchedule, selecting my-label=w with w drawn
//     independently of v (so it counts pods of other classes);
//  3. the same on kubernetes.io/hostname;
//  4. zone self-affinity: label my-affinity=v, required pod affinity on
//     the zone selecting my-affinity=v;
//  5. hostname anti-affinity: label app=anti, required anti-affinity on
//     kubernetes.io/hostname selecting app=anti (one such pod per node).
//
// Pods have no owner, so pods with the same labels, shape and constraints
// form one equivalence class: about 650 classes per 1,000 pods. The
// cluster is empty, with no DaemonSet; the three groups (one per zone of
// Zones) offer the same DiverseTypes synthetic types (see diverseTypes),
// MaxSize Pods each.
func GenerateDiverse(s DiverseSpec) (autoscaler.Input, error) {
	if s.Pods < 5 || s.Pods > MaxPendingPods {
		return autoscaler.Input{}, fmt.Errorf("scenario spec %s: pods %d: want 5..%d", s, s.Pods, MaxPendingPods)
	}
	r := rand.New(rand.NewPCG(s.Seed, 0x646976)) // "div"
	in := autoscaler.Input{Snapshot: simulator.NewSnapshot()}
	fifth := s.Pods / 5
	kinds := []int{s.Pods - 4*fifth, fifth, fifth, fifth, fifth}
	seq := 0
	for kind, n := range kinds {
		for range n {
			in.Pending = append(in.Pending, simulator.PodInfo{Pod: diversePod(r, kind, seq)})
			seq++
		}
	}
	types := diverseTypes(r)
	for i, z := range Zones {
		id := fmt.Sprintf("pool-%d", i)
		t := cloud.NodeTemplate{CapacityType: catalog.CapacityTypeOnDemand, Zones: []string{z}, InstanceTypes: types}
		t.Labels = map[string]string{corev1.LabelTopologyZone: z, "kelp.dev/pool": id, corev1.LabelOSStable: "linux",
			corev1.LabelInstanceTypeStable: types[0].Name, corev1.LabelArchStable: types[0].Architecture}
		t.Capacity, t.Allocatable = types[0].Capacity, types[0].Allocatable
		in.Groups = append(in.Groups, cloud.NodeGroup{ID: id, Pool: id, Template: t, MaxSize: s.Pods})
	}
	return in, nil
}

// diversePod draws pod seq of the given kind (0 plain, 1 zone spread, 2
// hostname spread, 3 zone self-affinity, 4 hostname anti-affinity).
func diversePod(r *rand.Rand, kind, seq int) *corev1.Pod {
	req := corev1.ResourceList{
		corev1.ResourceCPU:    *resource.NewMilliQuantity(pick(r, diverseMilliCPU), resource.DecimalSI),
		corev1.ResourceMemory: *resource.NewQuantity(pick(r, diverseMemMiB)<<20, resource.BinarySI),
	}
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("diverse-%06d", seq), Namespace: Namespace},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Resources: corev1.ResourceRequirements{Requests: req}}}},
	}
	switch kind {
	case 0:
		p.Labels = map[string]string{DiverseLabel: pick(r, diverseValues)}
	case 1, 2:
		key := corev1.LabelTopologyZone
		if kind == 2 {
			key = corev1.LabelHostname
		}
		p.Labels = map[string]string{DiverseLabel: pick(r, diverseValues)}
		p.Spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: key,
			WhenUnsatisfiable: corev1.DoNotSchedule,
			LabelSelector:     &metav1.LabelSelector{MatchLabels: map[string]string{DiverseLabel: pick(r, diverseValues)}}}}
	case 3:
		p.Labels = map[string]string{DiverseAffinityLabel: pick(r, diverseValues)}
		p.Spec.Affinity = &corev1.Affinity{PodAffinity: &corev1.PodAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{TopologyKey: corev1.LabelTopologyZone,
				LabelSelector: &metav1.LabelSelector{MatchLabels: p.Labels}}}}}
	default:
		p.Labels = map[string]string{DiverseAntiLabel: "anti"}
		p.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{TopologyKey: corev1.LabelHostname,
				LabelSelector: &metav1.LabelSelector{MatchLabels: p.Labels}}}}}
	}
	return p
}

// diverseTypes synthesizes DiverseTypes instance types, amd64: type i has
// 1 + i/4 vCPUs and 1, 2, 4 or 8 GiB per vCPU (by i mod 4), max pods
// min(110, 10 × vCPUs + 2), allocatable by the catalog's formula
// (kube-reserved, 100Mi eviction threshold), and an on-demand price of
// $0.0316 per vCPU-hour plus $0.0042 per GiB-hour, times a factor drawn
// from [0.85, 1.15) per type.
func diverseTypes(r *rand.Rand) []cloud.InstanceType {
	out := make([]cloud.InstanceType, DiverseTypes)
	for i := range out {
		vcpus := 1 + i/4
		memMiB := int64(vcpus) << 10 << (i % 4)
		pods := min(110, 10*vcpus+2)
		cpuRes, memRes := catalog.KubeReserved(vcpus, pods)
		list := func(milliCPU, memMiB int64) corev1.ResourceList {
			return corev1.ResourceList{
				corev1.ResourceCPU:    *resource.NewMilliQuantity(milliCPU, resource.DecimalSI),
				corev1.ResourceMemory: *resource.NewQuantity(memMiB<<20, resource.BinarySI),
				corev1.ResourcePods:   *resource.NewQuantity(int64(pods), resource.DecimalSI),
			}
		}
		price := (0.0316*float64(vcpus) + 0.0042*float64(memMiB>>10)) * (0.85 + 0.3*r.Float64())
		out[i] = cloud.InstanceType{Name: fmt.Sprintf("synth-%03d", i), Architecture: "amd64", Price: price,
			Capacity:    list(int64(vcpus)*1000, memMiB),
			Allocatable: list(int64(vcpus)*1000-cpuRes, memMiB-memRes-catalog.MemoryEvictionMiB)}
	}
	return out
}
