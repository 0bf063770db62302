package catalog

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ErrUnknownInstanceType is returned (wrapped) by [Lookup] and [Price] when the
// catalog holds no instance type of the requested name. Test with errors.Is.
var ErrUnknownInstanceType = errors.New("unknown instance type")

// ErrUnknownCapacityType is returned (wrapped) by [Price] and
// [InstanceType.Price] for a capacity type other than [CapacityTypeOnDemand]
// and [CapacityTypeSpot].
var ErrUnknownCapacityType = errors.New("unknown capacity type")

// CapacityType is how an instance is bought. The values match the
// karpenter.sh/capacity-type and eks.amazonaws.com/capacityType label values
// (lower case).
type CapacityType string

// Capacity types.
const (
	CapacityTypeOnDemand CapacityType = "on-demand"
	CapacityTypeSpot     CapacityType = "spot"
)

// Category is an EC2 instance family category.
type Category string

// Categories.
const (
	CategoryGeneralPurpose       Category = "general-purpose"
	CategoryComputeOptimized     Category = "compute-optimized"
	CategoryMemoryOptimized      Category = "memory-optimized"
	CategoryBurstable            Category = "burstable"
	CategoryAcceleratedComputing Category = "accelerated-computing"
)

// Architecture is a processor architecture as EC2 names it.
type Architecture string

// Architectures.
const (
	ArchitectureX8664 Architecture = "x86_64"
	ArchitectureARM64 Architecture = "arm64"
)

// KubernetesArch returns the architecture as the kubernetes.io/arch node
// label spells it ("amd64" for x86_64, "arm64" for arm64).
func (a Architecture) KubernetesArch() string {
	if a == ArchitectureX8664 {
		return "amd64"
	}
	return string(a)
}

// ManufacturerNVIDIA is the GPU manufacturer of every GPU type in the catalog.
const ManufacturerNVIDIA = "NVIDIA"

// GPUInfo describes the GPUs of an instance type. The zero value means none.
type GPUInfo struct {
	Count        int    // number of GPUs; 0 for none
	Manufacturer string // e.g. ManufacturerNVIDIA
	Model        string // e.g. "T4", "A10G", "V100"
	MemoryMiB    int64  // memory of one GPU
}

// TotalMemoryMiB returns the memory of all GPUs together.
func (g GPUInfo) TotalMemoryMiB() int64 { return int64(g.Count) * g.MemoryMiB }

// InstanceType is one EC2 instance type. It is a plain value with no
// references: copies share nothing with the catalog.
type InstanceType struct {
	Name         string   // e.g. "m5.large"
	Family       string   // e.g. "m5"
	Category     Category // e.g. CategoryGeneralPurpose
	VCPUs        int
	MemoryMiB    int64
	Architecture Architecture
	GPU          GPUInfo
	MaxENIs      int // maximum network interfaces
	IPv4PerENI   int // IPv4 addresses per network interface

	// OnDemandPrice is the Linux on-demand price in USD per hour in Region,
	// as of PricesAsOf.
	OnDemandPrice float64
	// SpotPrice is a representative Linux spot price in USD per hour in
	// Region, as of PricesAsOf.
	SpotPrice float64
}

// MaxPods returns the ENI-based pod limit: MaxENIs×(IPv4PerENI−1)+2.
func (t InstanceType) MaxPods() int { return ENIMaxPods(t.MaxENIs, t.IPv4PerENI) }

// Price returns the price in USD per hour for the capacity type.
func (t InstanceType) Price(ct CapacityType) (float64, error) {
	switch ct {
	case CapacityTypeOnDemand:
		return t.OnDemandPrice, nil
	case CapacityTypeSpot:
		return t.SpotPrice, nil
	default:
		return 0, fmt.Errorf("price %s: %w %q (want %q or %q)",
			t.Name, ErrUnknownCapacityType, ct, CapacityTypeOnDemand, CapacityTypeSpot)
	}
}

// ENIMaxPods returns the EKS eni-max-pods value for an instance with enis
// network interfaces of ipv4PerENI addresses each: enis×(ipv4PerENI−1)+2.
// One address per ENI is the ENI's own; the +2 covers the host-network pods
// (aws-node, kube-proxy).
func ENIMaxPods(enis, ipv4PerENI int) int { return enis*(ipv4PerENI-1) + 2 }

// sorted is the table sorted by name; index maps a name to its position.
var sorted, index = mustIndex(table)

// mustIndex sorts a copy of types by name and indexes it. It panics on an
// empty or duplicate name: the table is static data and such an entry is a
// programming error.
func mustIndex(types []InstanceType) ([]InstanceType, map[string]int) {
	s := slices.Clone(types)
	slices.SortFunc(s, func(a, b InstanceType) int { return strings.Compare(a.Name, b.Name) })
	idx := make(map[string]int, len(s))
	for i, t := range s {
		if t.Name == "" {
			panic("catalog: instance type with empty name")
		}
		if _, dup := idx[t.Name]; dup {
			panic("catalog: duplicate instance type " + t.Name)
		}
		idx[t.Name] = i
	}
	return s, idx
}

// Lookup returns the instance type called name (exact, case-sensitive, as EC2
// spells it). For an unknown name the error names it and wraps
// ErrUnknownInstanceType.
func Lookup(name string) (InstanceType, error) {
	i, ok := index[name]
	if !ok {
		return InstanceType{}, fmt.Errorf("lookup instance type %q: %w", name, ErrUnknownInstanceType)
	}
	return sorted[i], nil
}

// All returns every instance type, sorted by name. The slice is a fresh copy
// owned by the caller.
func All() []InstanceType { return slices.Clone(sorted) }

// Names returns the name of every instance type, sorted. The slice is owned
// by the caller.
func Names() []string {
	names := make([]string, len(sorted))
	for i, t := range sorted {
		names[i] = t.Name
	}
	return names
}

// Price returns the price in USD per hour of the instance type called name
// for the capacity type, in Region as of PricesAsOf.
func Price(name string, ct CapacityType) (float64, error) {
	t, err := Lookup(name)
	if err != nil {
		return 0, err
	}
	return t.Price(ct)
}
