package catalog

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// ResourceNVIDIAGPU is the extended resource the NVIDIA device plugin
// advertises, one unit per GPU.
const ResourceNVIDIAGPU corev1.ResourceName = "nvidia.com/gpu"

// Reservation and eviction constants of the allocatable formula (see the
// package documentation).
const (
	// DefaultRootVolumeGiB is the root volume size assumed when no
	// WithRootVolumeGiB option is given (the EKS managed node group default).
	DefaultRootVolumeGiB = 20

	// MemoryEvictionMiB is the kubelet's memory.available<100Mi hard
	// eviction threshold.
	MemoryEvictionMiB = 100

	// NodefsEvictionPercent is the kubelet's nodefs.available<10% hard
	// eviction threshold.
	NodefsEvictionPercent = 10

	kubeReservedBaseMiB   = 255
	kubeReservedPerPodMiB = 11
)

const mib = 1 << 20

// cpuReservedRanges are the EKS AMI kube-reserved CPU ranges: cores in
// [fromMillis, toMillis) reserve basisPoints/10000 of themselves. The last
// range is open-ended.
var cpuReservedRanges = []struct {
	fromMillis, toMillis, basisPoints int64
}{
	{0, 1000, 600},        // 6% of the first core
	{1000, 2000, 100},     // 1% of the second core
	{2000, 4000, 50},      // 0.5% of cores 3–4
	{4000, 1<<63 - 1, 25}, // 0.25% of every core above 4
}

// KubeReserved returns the kube-reserved CPU (millicores) and memory (MiB)
// that the EKS AMI bootstrap script sets for a node with vcpus vCPUs and a
// limit of maxPods pods:
//
//	cpu    = 6% of core 1 + 1% of core 2 + 0.5% of cores 3–4 + 0.25% of cores 5+,
//	         each range truncated to a whole millicore, as the script does
//	memory = 255 MiB + 11 MiB × maxPods
//
// Non-positive vcpus or maxPods count as zero.
func KubeReserved(vcpus int, maxPods int) (cpuMillis int64, memoryMiB int64) {
	total := int64(max(vcpus, 0)) * 1000
	for _, r := range cpuReservedRanges {
		if total <= r.fromMillis {
			break
		}
		cpuMillis += (min(total, r.toMillis) - r.fromMillis) * r.basisPoints / 10000
	}
	memoryMiB = kubeReservedBaseMiB + kubeReservedPerPodMiB*int64(max(maxPods, 0))
	return cpuMillis, memoryMiB
}

// Option adjusts how Capacity and Allocatable model a node.
type Option func(*nodeOptions)

type nodeOptions struct {
	rootVolumeBytes int64
}

// WithRootVolumeGiB sets the root volume size, which is the node's
// ephemeral-storage capacity. A size below 1 GiB leaves the default
// (DefaultRootVolumeGiB); callers validate user input before this point.
func WithRootVolumeGiB(gib int64) Option {
	return func(o *nodeOptions) {
		if gib >= 1 {
			o.rootVolumeBytes = gib << 30
		}
	}
}

func resolve(opts []Option) nodeOptions {
	o := nodeOptions{rootVolumeBytes: DefaultRootVolumeGiB << 30}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// Capacity returns the resources a kubelet on this instance type reports as
// capacity: cpu, memory, pods, ephemeral-storage and, when the type has
// NVIDIA GPUs, nvidia.com/gpu. The list is newly allocated and owned by the
// caller.
func (t InstanceType) Capacity(opts ...Option) corev1.ResourceList {
	o := resolve(opts)
	return t.resourceList(int64(t.VCPUs)*1000, t.MemoryMiB, o.rootVolumeBytes)
}

// Allocatable returns Capacity minus kube-reserved (see KubeReserved) and the
// kubelet's hard eviction thresholds, as documented in the package comment.
// No value goes below zero. The list is newly allocated and owned by the
// caller.
func (t InstanceType) Allocatable(opts ...Option) corev1.ResourceList {
	o := resolve(opts)
	cpuReserved, memReserved := KubeReserved(t.VCPUs, t.MaxPods())
	evictStorage := ceilDiv(o.rootVolumeBytes*NodefsEvictionPercent, 100)
	return t.resourceList(
		max(int64(t.VCPUs)*1000-cpuReserved, 0),
		max(t.MemoryMiB-memReserved-MemoryEvictionMiB, 0),
		max(o.rootVolumeBytes-evictStorage, 0),
	)
}

func (t InstanceType) resourceList(cpuMillis, memoryMiB, storageBytes int64) corev1.ResourceList {
	rl := corev1.ResourceList{
		corev1.ResourceCPU:              *resource.NewMilliQuantity(cpuMillis, resource.DecimalSI),
		corev1.ResourceMemory:           *resource.NewQuantity(memoryMiB*mib, resource.BinarySI),
		corev1.ResourcePods:             *resource.NewQuantity(int64(t.MaxPods()), resource.DecimalSI),
		corev1.ResourceEphemeralStorage: *resource.NewQuantity(storageBytes, resource.BinarySI),
	}
	if t.GPU.Count > 0 && t.GPU.Manufacturer == ManufacturerNVIDIA {
		rl[ResourceNVIDIAGPU] = *resource.NewQuantity(int64(t.GPU.Count), resource.DecimalSI)
	}
	return rl
}

func ceilDiv(a, b int64) int64 { return (a + b - 1) / b }
