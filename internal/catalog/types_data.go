package catalog

// Region is the AWS region the prices in the table apply to.
const Region = "us-east-1"

// PricesAsOf is the date of the price data. OnDemandPrice is from the public
// AWS price list (Linux, shared tenancy, no pre-installed software). SpotPrice
// is an approximate, representative spot price for Region around that date:
// real spot prices vary by Availability Zone and over time.
const PricesAsOf = "2025-06-01"

// Short names keep the table rows narrow.
const (
	x86   = ArchitectureX8664
	arm64 = ArchitectureARM64
)

func nvidia(count int, model string, memoryMiB int64) GPUInfo {
	return GPUInfo{Count: count, Manufacturer: ManufacturerNVIDIA, Model: model, MemoryMiB: memoryMiB}
}

// table is the catalog, one entry per instance type, in any order (mustIndex
// sorts it). Shapes and ENI limits are from EC2 DescribeInstanceTypes; max
// pods is derived from the ENI limits, never stored.
var table = []InstanceType{
	// General purpose.
	{Name: "m5.large", Family: "m5", Category: CategoryGeneralPurpose, VCPUs: 2, MemoryMiB: 8192, Architecture: x86,
		MaxENIs: 3, IPv4PerENI: 10, OnDemandPrice: 0.096, SpotPrice: 0.038},
	{Name: "m5.xlarge", Family: "m5", Category: CategoryGeneralPurpose, VCPUs: 4, MemoryMiB: 16384, Architecture: x86,
		MaxENIs: 4, IPv4PerENI: 15, OnDemandPrice: 0.192, SpotPrice: 0.076},
	{Name: "m5.2xlarge", Family: "m5", Category: CategoryGeneralPurpose, VCPUs: 8, MemoryMiB: 32768, Architecture: x86,
		MaxENIs: 4, IPv4PerENI: 15, OnDemandPrice: 0.384, SpotPrice: 0.153},
	{Name: "m5.4xlarge", Family: "m5", Category: CategoryGeneralPurpose, VCPUs: 16, MemoryMiB: 65536, Architecture: x86,
		MaxENIs: 8, IPv4PerENI: 30, OnDemandPrice: 0.768, SpotPrice: 0.31},
	{Name: "m6g.large", Family: "m6g", Category: CategoryGeneralPurpose, VCPUs: 2, MemoryMiB: 8192, Architecture: arm64,
		MaxENIs: 3, IPv4PerENI: 10, OnDemandPrice: 0.077, SpotPrice: 0.032},
	{Name: "m6g.xlarge", Family: "m6g", Category: CategoryGeneralPurpose, VCPUs: 4, MemoryMiB: 16384, Architecture: arm64,
		MaxENIs: 4, IPv4PerENI: 15, OnDemandPrice: 0.154, SpotPrice: 0.064},
	{Name: "m6i.large", Family: "m6i", Category: CategoryGeneralPurpose, VCPUs: 2, MemoryMiB: 8192, Architecture: x86,
		MaxENIs: 3, IPv4PerENI: 10, OnDemandPrice: 0.096, SpotPrice: 0.039},
	{Name: "m6i.xlarge", Family: "m6i", Category: CategoryGeneralPurpose, VCPUs: 4, MemoryMiB: 16384, Architecture: x86,
		MaxENIs: 4, IPv4PerENI: 15, OnDemandPrice: 0.192, SpotPrice: 0.078},
	{Name: "m6i.2xlarge", Family: "m6i", Category: CategoryGeneralPurpose, VCPUs: 8, MemoryMiB: 32768, Architecture: x86,
		MaxENIs: 4, IPv4PerENI: 15, OnDemandPrice: 0.384, SpotPrice: 0.156},
	{Name: "m7i.large", Family: "m7i", Category: CategoryGeneralPurpose, VCPUs: 2, MemoryMiB: 8192, Architecture: x86,
		MaxENIs: 3, IPv4PerENI: 10, OnDemandPrice: 0.1008, SpotPrice: 0.042},
	{Name: "m7i.xlarge", Family: "m7i", Category: CategoryGeneralPurpose, VCPUs: 4, MemoryMiB: 16384, Architecture: x86,
		MaxENIs: 4, IPv4PerENI: 15, OnDemandPrice: 0.2016, SpotPrice: 0.085},
	// Compute optimized.
	{Name: "c5.large", Family: "c5", Category: CategoryComputeOptimized, VCPUs: 2, MemoryMiB: 4096, Architecture: x86,
		MaxENIs: 3, IPv4PerENI: 10, OnDemandPrice: 0.085, SpotPrice: 0.034},
	{Name: "c5.xlarge", Family: "c5", Category: CategoryComputeOptimized, VCPUs: 4, MemoryMiB: 8192, Architecture: x86,
		MaxENIs: 4, IPv4PerENI: 15, OnDemandPrice: 0.17, SpotPrice: 0.069},
	{Name: "c5.2xlarge", Family: "c5", Category: CategoryComputeOptimized, VCPUs: 8, MemoryMiB: 16384, Architecture: x86,
		MaxENIs: 4, IPv4PerENI: 15, OnDemandPrice: 0.34, SpotPrice: 0.139},
	{Name: "c6g.large", Family: "c6g", Category: CategoryComputeOptimized, VCPUs: 2, MemoryMiB: 4096, Architecture: arm64,
		MaxENIs: 3, IPv4PerENI: 10, OnDemandPrice: 0.068, SpotPrice: 0.029},
	{Name: "c6i.large", Family: "c6i", Category: CategoryComputeOptimized, VCPUs: 2, MemoryMiB: 4096, Architecture: x86,
		MaxENIs: 3, IPv4PerENI: 10, OnDemandPrice: 0.085, SpotPrice: 0.035},
	{Name: "c6i.xlarge", Family: "c6i", Category: CategoryComputeOptimized, VCPUs: 4, MemoryMiB: 8192, Architecture: x86,
		MaxENIs: 4, IPv4PerENI: 15, OnDemandPrice: 0.17, SpotPrice: 0.07},
	{Name: "c7i.large", Family: "c7i", Category: CategoryComputeOptimized, VCPUs: 2, MemoryMiB: 4096, Architecture: x86,
		MaxENIs: 3, IPv4PerENI: 10, OnDemandPrice: 0.08925, SpotPrice: 0.038},
	{Name: "c7i.xlarge", Family: "c7i", Category: CategoryComputeOptimized, VCPUs: 4, MemoryMiB: 8192, Architecture: x86,
		MaxENIs: 4, IPv4PerENI: 15, OnDemandPrice: 0.1785, SpotPrice: 0.076},
	// Memory optimized.
	{Name: "r5.large", Family: "r5", Category: CategoryMemoryOptimized, VCPUs: 2, MemoryMiB: 16384, Architecture: x86,
		MaxENIs: 3, IPv4PerENI: 10, OnDemandPrice: 0.126, SpotPrice: 0.046},
	{Name: "r5.xlarge", Family: "r5", Category: CategoryMemoryOptimized, VCPUs: 4, MemoryMiB: 32768, Architecture: x86,
		MaxENIs: 4, IPv4PerENI: 15, OnDemandPrice: 0.252, SpotPrice: 0.092},
	{Name: "r5.2xlarge", Family: "r5", Category: CategoryMemoryOptimized, VCPUs: 8, MemoryMiB: 65536, Architecture: x86,
		MaxENIs: 4, IPv4PerENI: 15, OnDemandPrice: 0.504, SpotPrice: 0.185},
	{Name: "r6g.large", Family: "r6g", Category: CategoryMemoryOptimized, VCPUs: 2, MemoryMiB: 16384, Architecture: arm64,
		MaxENIs: 3, IPv4PerENI: 10, OnDemandPrice: 0.1008, SpotPrice: 0.04},
	{Name: "r6i.large", Family: "r6i", Category: CategoryMemoryOptimized, VCPUs: 2, MemoryMiB: 16384, Architecture: x86,
		MaxENIs: 3, IPv4PerENI: 10, OnDemandPrice: 0.126, SpotPrice: 0.048},
	{Name: "r6i.xlarge", Family: "r6i", Category: CategoryMemoryOptimized, VCPUs: 4, MemoryMiB: 32768, Architecture: x86,
		MaxENIs: 4, IPv4PerENI: 15, OnDemandPrice: 0.252, SpotPrice: 0.096},
	// Burstable.
	{Name: "t3.micro", Family: "t3", Category: CategoryBurstable, VCPUs: 2, MemoryMiB: 1024, Architecture: x86,
		MaxENIs: 2, IPv4PerENI: 2, OnDemandPrice: 0.0104, SpotPrice: 0.0031},
	{Name: "t3.small", Family: "t3", Category: CategoryBurstable, VCPUs: 2, MemoryMiB: 2048, Architecture: x86,
		MaxENIs: 3, IPv4PerENI: 4, OnDemandPrice: 0.0208, SpotPrice: 0.0062},
	{Name: "t3.medium", Family: "t3", Category: CategoryBurstable, VCPUs: 2, MemoryMiB: 4096, Architecture: x86,
		MaxENIs: 3, IPv4PerENI: 6, OnDemandPrice: 0.0416, SpotPrice: 0.0125},
	{Name: "t3.large", Family: "t3", Category: CategoryBurstable, VCPUs: 2, MemoryMiB: 8192, Architecture: x86,
		MaxENIs: 3, IPv4PerENI: 12, OnDemandPrice: 0.0832, SpotPrice: 0.025},
	{Name: "t3.xlarge", Family: "t3", Category: CategoryBurstable, VCPUs: 4, MemoryMiB: 16384, Architecture: x86,
		MaxENIs: 4, IPv4PerENI: 15, OnDemandPrice: 0.1664, SpotPrice: 0.05},
	{Name: "t3a.medium", Family: "t3a", Category: CategoryBurstable, VCPUs: 2, MemoryMiB: 4096, Architecture: x86,
		MaxENIs: 3, IPv4PerENI: 6, OnDemandPrice: 0.0376, SpotPrice: 0.0113},
	// Accelerated computing (NVIDIA GPUs).
	{Name: "g4dn.xlarge", Family: "g4dn", Category: CategoryAcceleratedComputing, VCPUs: 4, MemoryMiB: 16384, Architecture: x86,
		GPU: nvidia(1, "T4", 16384), MaxENIs: 3, IPv4PerENI: 10, OnDemandPrice: 0.526, SpotPrice: 0.21},
	{Name: "g4dn.2xlarge", Family: "g4dn", Category: CategoryAcceleratedComputing, VCPUs: 8, MemoryMiB: 32768, Architecture: x86,
		GPU: nvidia(1, "T4", 16384), MaxENIs: 3, IPv4PerENI: 10, OnDemandPrice: 0.752, SpotPrice: 0.3},
	{Name: "g5.xlarge", Family: "g5", Category: CategoryAcceleratedComputing, VCPUs: 4, MemoryMiB: 16384, Architecture: x86,
		GPU: nvidia(1, "A10G", 24576), MaxENIs: 4, IPv4PerENI: 15, OnDemandPrice: 1.006, SpotPrice: 0.4},
	{Name: "g5.2xlarge", Family: "g5", Category: CategoryAcceleratedComputing, VCPUs: 8, MemoryMiB: 32768, Architecture: x86,
		GPU: nvidia(1, "A10G", 24576), MaxENIs: 4, IPv4PerENI: 15, OnDemandPrice: 1.212, SpotPrice: 0.485},
	{Name: "p3.2xlarge", Family: "p3", Category: CategoryAcceleratedComputing, VCPUs: 8, MemoryMiB: 62464, Architecture: x86,
		GPU: nvidia(1, "V100", 16384), MaxENIs: 4, IPv4PerENI: 15, OnDemandPrice: 3.06, SpotPrice: 0.918},
}
