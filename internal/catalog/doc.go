// Package catalog owns kelp's table of EC2 instance types: their shape
// (vCPUs, memory, architecture, GPUs, ENI limits), the node capacity and
// allocatable resources a kubelet on them reports, and dated on-demand and
// spot prices for one region (see [Region] and [PricesAsOf]).
//
// The package is pure data and arithmetic: no IO, no clock, no AWS calls.
// The local cloud, the AWS provider and the scheduling simulator all read it,
// so a node template built from it matches what a real EKS-style node
// reports.
//
// # Max pods
//
// Max pods follows the EKS AMI's eni-max-pods table (AWS VPC CNI without
// prefix delegation):
//
//	maxPods = ENIs × (IPv4 addresses per ENI − 1) + 2
//
// # Capacity
//
//	cpu               = vCPUs
//	memory            = memory MiB (nominal, as published by EC2)
//	pods              = maxPods
//	ephemeral-storage = root volume size (default 20 GiB)
//	nvidia.com/gpu    = GPU count (only when the type has NVIDIA GPUs)
//
// # Allocatable
//
// Allocatable is capacity minus kube-reserved (the EKS AMI formula, see
// [KubeReserved]) minus the kubelet's hard eviction thresholds:
//
//	cpu    = vCPUs×1000m − cpuReserved
//	         cpuReserved = 6% of the 1st core + 1% of the 2nd core
//	                     + 0.5% of each of cores 3–4 + 0.25% of each core above 4,
//	         in millicores, each range truncated to a whole millicore
//	         (1 vCPU → 60m, 2 → 70m, 4 → 80m, 8 → 90m, 48 → 190m, 96 → 310m)
//	memory = memory MiB − (255 MiB + 11 MiB × maxPods) − 100 MiB
//	         (kube-reserved, then the memory.available<100Mi eviction threshold)
//	ephemeral-storage = root volume − 10% of it, rounded up to a byte
//	         (the nodefs.available<10% eviction threshold; nothing else reserved)
//	pods, nvidia.com/gpu = capacity
//
// For example m5.large (2 vCPUs, 8192 MiB, 29 pods) has allocatable cpu 1930m,
// memory 8192 − 574 − 100 = 7518Mi and 29 pods.
//
// # Prices
//
// OnDemandPrice is the public Linux on-demand price in USD per hour for
// [Region], taken from the AWS price list as of [PricesAsOf]. SpotPrice is a
// representative spot price for the same region and date; real spot prices
// move and differ between Availability Zones, so treat it as an estimate for
// comparing pools, not a quote.
package catalog
