package catalog_test

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"github.com/kelp-dev/kelp/internal/catalog"
)

func ExampleLookup() {
	it, err := catalog.Lookup("m5.large")
	if err != nil {
		fmt.Println(err)
		return
	}
	alloc := it.Allocatable() // default 20 GiB root volume
	cpu, mem, pods := alloc[corev1.ResourceCPU], alloc[corev1.ResourceMemory], alloc[corev1.ResourcePods]
	fmt.Printf("%s: %d vCPU, %d MiB, max pods %d\n", it.Name, it.VCPUs, it.MemoryMiB, it.MaxPods())
	fmt.Printf("allocatable cpu=%s memory=%s pods=%s\n", cpu.String(), mem.String(), pods.String())
	price, _ := it.Price(catalog.CapacityTypeOnDemand)
	fmt.Printf("on-demand $%.3f/h in %s as of %s\n", price, catalog.Region, catalog.PricesAsOf)

	_, err = catalog.Lookup("m9.huge")
	fmt.Println(err)
	// Output:
	// m5.large: 2 vCPU, 8192 MiB, max pods 29
	// allocatable cpu=1930m memory=7518Mi pods=29
	// on-demand $0.096/h in us-east-1 as of 2025-06-01
	// lookup instance type "m9.huge": unknown instance type
}
