package localcloud

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kelp-dev/kelp/internal/catalog"
)

type instanceTypeXML struct {
	InstanceType                 string        `xml:"instanceType"`
	CurrentGeneration            bool          `xml:"currentGeneration"`
	FreeTierEligible             bool          `xml:"freeTierEligible"`
	SupportedUsageClasses        items[string] `xml:"supportedUsageClasses"`
	SupportedRootDeviceTypes     items[string] `xml:"supportedRootDeviceTypes"`
	SupportedVirtualizationTypes items[string] `xml:"supportedVirtualizationTypes"`
	BareMetal                    bool          `xml:"bareMetal"`
	Hypervisor                   string        `xml:"hypervisor"`
	Architectures                items[string] `xml:"processorInfo>supportedArchitectures"`
	DefaultVCPUs                 int           `xml:"vCpuInfo>defaultVCpus"`
	DefaultCores                 int           `xml:"vCpuInfo>defaultCores"`
	DefaultThreadsPerCore        int           `xml:"vCpuInfo>defaultThreadsPerCore"`
	MemoryMiB                    int64         `xml:"memoryInfo>sizeInMiB"`
	InstanceStorageSupported     bool          `xml:"instanceStorageSupported"`
	EbsOptimizedSupport          string        `xml:"ebsInfo>ebsOptimizedSupport"`
	EbsEncryptionSupport         string        `xml:"ebsInfo>encryptionSupport"`
	EbsNvmeSupport               string        `xml:"ebsInfo>nvmeSupport"`
	Network                      networkXML    `xml:"networkInfo"`
	GPU                          *gpuInfoXML   `xml:"gpuInfo,omitempty"`
	PlacementStrategies          items[string] `xml:"placementGroupInfo>supportedStrategies"`
	HibernationSupported         bool          `xml:"hibernationSupported"`
	BurstablePerformance         bool          `xml:"burstablePerformanceSupported"`
	DedicatedHostsSupported      bool          `xml:"dedicatedHostsSupported"`
	AutoRecoverySupported        bool          `xml:"autoRecoverySupported"`
	SupportedBootModes           items[string] `xml:"supportedBootModes"`
}

type networkXML struct {
	Performance         string `xml:"networkPerformance"`
	MaxInterfaces       int    `xml:"maximumNetworkInterfaces"`
	MaxCards            int    `xml:"maximumNetworkCards"`
	DefaultCardIndex    int    `xml:"defaultNetworkCardIndex"`
	IPv4PerInterface    int    `xml:"ipv4AddressesPerInterface"`
	IPv6PerInterface    int    `xml:"ipv6AddressesPerInterface"`
	IPv6Supported       bool   `xml:"ipv6Supported"`
	EnaSupport          string `xml:"enaSupport"`
	EfaSupported        bool   `xml:"efaSupported"`
	EncryptionInTransit bool   `xml:"encryptionInTransitSupported"`
}

type gpuInfoXML struct {
	GPUs        items[gpuXML] `xml:"gpus"`
	TotalMemory int64         `xml:"totalGpuMemoryInMiB"`
}

type gpuXML struct {
	Name         string `xml:"name"`
	Manufacturer string `xml:"manufacturer"`
	Count        int    `xml:"count"`
	MemoryMiB    int64  `xml:"memoryInfo>sizeInMiB"`
}

type describeInstanceTypesResponse struct {
	ec2Meta
	Types     items[instanceTypeXML] `xml:"instanceTypeSet"`
	NextToken string                 `xml:"nextToken,omitempty"`
}

// networkPerformance approximates EC2's network performance label.
func networkPerformance(vcpus int) string {
	switch {
	case vcpus >= 48:
		return "25 Gigabit"
	case vcpus >= 32:
		return "10 Gigabit"
	}
	return "Up to 10 Gigabit"
}

func instanceTypeToXML(t catalog.InstanceType) instanceTypeXML {
	threads, bootModes := 2, items[string]{"legacy-bios", "uefi"}
	if t.Architecture == catalog.ArchitectureARM64 {
		threads, bootModes = 1, items[string]{"uefi"}
	}
	x := instanceTypeXML{InstanceType: t.Name, CurrentGeneration: true, SupportedUsageClasses: items[string]{"on-demand", "spot"},
		SupportedRootDeviceTypes: items[string]{"ebs"}, SupportedVirtualizationTypes: items[string]{"hvm"},
		Hypervisor: "nitro", Architectures: items[string]{string(t.Architecture)}, DefaultVCPUs: t.VCPUs,
		DefaultCores: max(1, t.VCPUs/threads), DefaultThreadsPerCore: threads, MemoryMiB: t.MemoryMiB,
		EbsOptimizedSupport: "default", EbsEncryptionSupport: "supported", EbsNvmeSupport: "required",
		Network: networkXML{Performance: networkPerformance(t.VCPUs), MaxInterfaces: t.MaxENIs, MaxCards: 1,
			IPv4PerInterface: t.IPv4PerENI, IPv6PerInterface: t.IPv4PerENI, IPv6Supported: true, EnaSupport: "required",
			EncryptionInTransit: true},
		PlacementStrategies: items[string]{"cluster", "partition", "spread"}, BurstablePerformance: t.Category == catalog.CategoryBurstable,
		DedicatedHostsSupported: true, AutoRecoverySupported: true, SupportedBootModes: bootModes}
	if t.GPU.Count > 0 {
		x.GPU = &gpuInfoXML{GPUs: items[gpuXML]{{Name: t.GPU.Model, Manufacturer: t.GPU.Manufacturer, Count: t.GPU.Count,
			MemoryMiB: t.GPU.MemoryMiB}}, TotalMemory: t.GPU.TotalMemoryMiB()}
	}
	return x
}

func instanceTypeFilter(t catalog.InstanceType, f filter) (bool, bool) {
	var v string
	switch f.Name {
	case "instance-type":
		v = t.Name
	case "processor-info.supported-architecture":
		v = string(t.Architecture)
	case "current-generation", "instance-storage-supported", "bare-metal":
		v = strconv.FormatBool(f.Name == "current-generation")
	case "burstable-performance-supported":
		v = strconv.FormatBool(t.Category == catalog.CategoryBurstable)
	case "vcpu-info.default-vcpus":
		v = strconv.Itoa(t.VCPUs)
	case "memory-info.size-in-mib":
		v = strconv.FormatInt(t.MemoryMiB, 10)
	case "hypervisor":
		v = "nitro"
	case "supported-usage-class":
		return anyGlob(f.Values, "on-demand") || anyGlob(f.Values, "spot"), true
	default:
		return false, false
	}
	return anyGlob(f.Values, v), true
}

func (c *Cloud) describeInstanceTypes(p params) (ec2Response, error) {
	names := p.list("InstanceType")
	return describe(&c.mu, p, describeOp[catalog.InstanceType, ec2Response]{
		page:  pageLimits{param: "MaxResults", def: 100, lo: 5, hi: 100},
		match: ec2Match(instanceTypeFilter),
		check: func([]filter) error {
			var missing []string
			for _, n := range names {
				if _, err := catalog.Lookup(n); err != nil {
					missing = append(missing, n)
				}
			}
			if len(missing) > 0 {
				return errf(codeInvalidInstanceType, "The following supplied instance types do not exist: [%s]", strings.Join(missing, ", "))
			}
			return nil
		},
		list: func() ([]catalog.InstanceType, error) {
			return slices.DeleteFunc(catalog.All(), func(t catalog.InstanceType) bool {
				return len(names) > 0 && !slices.Contains(names, t.Name)
			}), nil
		},
		key: func(t catalog.InstanceType) string { return t.Name },
		encode: func(page []catalog.InstanceType, next string) ec2Response {
			resp := &describeInstanceTypesResponse{Types: items[instanceTypeXML]{}, NextToken: next}
			for _, t := range page {
				resp.Types = append(resp.Types, instanceTypeToXML(t))
			}
			return resp
		},
	})
}

type spotPriceXML struct {
	AvailabilityZone   string  `xml:"availabilityZone"`
	AvailabilityZoneID string  `xml:"availabilityZoneId"`
	InstanceType       string  `xml:"instanceType"`
	ProductDescription string  `xml:"productDescription"`
	SpotPrice          string  `xml:"spotPrice"`
	Timestamp          xmlTime `xml:"timestamp"`
}

type describeSpotPriceHistoryResponse struct {
	ec2Meta
	NextToken string              `xml:"nextToken,omitempty"`
	Prices    items[spotPriceXML] `xml:"spotPriceHistorySet"`
}

// spotProduct is the only product the local cloud prices.
const spotProduct = "Linux/UNIX"

func (c *Cloud) describeSpotPriceHistory(p params) (ec2Response, error) {
	types, products, zone := p.list("InstanceType"), p.list("ProductDescription"), p.str("AvailabilityZone")
	stamp := c.clock.Now().UTC().Truncate(time.Hour)
	if end, err := time.Parse(time.RFC3339, p.str("EndTime")); err == nil && end.Before(stamp) {
		stamp = end.UTC()
	}
	return describe(&c.mu, p, describeOp[spotPriceXML, ec2Response]{
		page:  pageLimits{param: "MaxResults", def: 1000, lo: 1, hi: 1000},
		match: ec2Match(spotPriceFilter),
		list: func() ([]spotPriceXML, error) {
			var all []spotPriceXML
			for _, t := range catalog.All() {
				for _, z := range c.region.Zones {
					switch {
					case len(types) > 0 && !slices.Contains(types, t.Name),
						len(products) > 0 && !slices.ContainsFunc(products, func(s string) bool { return strings.HasPrefix(s, spotProduct) }),
						zone != "" && zone != z.Name:
						continue
					}
					all = append(all, spotPriceXML{AvailabilityZone: z.Name, AvailabilityZoneID: z.ID, InstanceType: t.Name,
						ProductDescription: spotProduct, Timestamp: xmlTime(stamp),
						SpotPrice: fmt.Sprintf("%.6f", spotPrice(t.SpotPrice, t.Name, z.Name))})
				}
			}
			return all, nil
		},
		key: func(x spotPriceXML) string { return x.InstanceType + "/" + x.AvailabilityZone },
		encode: func(page []spotPriceXML, next string) ec2Response {
			return &describeSpotPriceHistoryResponse{Prices: append(items[spotPriceXML]{}, page...), NextToken: next}
		},
	})
}

func spotPriceFilter(x spotPriceXML, f filter) (bool, bool) {
	switch f.Name {
	case "availability-zone":
		return anyGlob(f.Values, x.AvailabilityZone), true
	case "instance-type":
		return anyGlob(f.Values, x.InstanceType), true
	case "product-description":
		return anyGlob(f.Values, x.ProductDescription), true
	case "spot-price":
		return anyGlob(f.Values, x.SpotPrice), true
	}
	return false, false
}
