package aws

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"k8s.io/utils/clock"

	"github.com/kelp-dev/kelp/internal/catalog"
	"github.com/kelp-dev/kelp/internal/cloud"
)

// typeCache holds instance types for the provider's lifetime: the
// catalog's, and the ones DescribeInstanceTypes described.
type typeCache struct {
	mu    sync.Mutex
	known map[string]catalog.InstanceType
}

// resolveTypes returns the instance types called names: from the catalog
// when it knows them, else from DescribeInstanceTypes (with the catalog's
// formulas applied to EC2's figures). A name EC2 does not know either is
// left out and reported in missing.
func (p *Provider) resolveTypes(ctx context.Context, names []string) (map[string]catalog.InstanceType, []string, error) {
	out := map[string]catalog.InstanceType{}
	var unknown []string
	p.types.mu.Lock()
	for _, n := range names {
		if it, ok := p.types.known[n]; ok {
			out[n] = it
		} else if it, err := catalog.Lookup(n); err == nil {
			p.types.known[n], out[n] = it, it
		} else {
			unknown = append(unknown, n)
		}
	}
	p.types.mu.Unlock()
	if len(unknown) == 0 {
		return out, nil, nil
	}
	described, err := p.describeTypes(ctx, unknown)
	if errors.Is(err, cloud.ErrNotFound) && len(unknown) > 1 {
		described, err = p.describeTypesOneByOne(ctx, unknown) // one bad name fails the whole call
	}
	if err != nil && !errors.Is(err, cloud.ErrNotFound) {
		return nil, nil, err
	}
	var missing []string
	p.types.mu.Lock()
	defer p.types.mu.Unlock()
	for _, n := range unknown {
		it, ok := described[n]
		if !ok {
			missing = append(missing, n)
			continue
		}
		p.types.known[n], out[n] = it, it
	}
	return out, missing, nil
}

func (p *Provider) describeTypesOneByOne(ctx context.Context, names []string) (map[string]catalog.InstanceType, error) {
	out := map[string]catalog.InstanceType{}
	for _, n := range names {
		m, err := p.describeTypes(ctx, []string{n})
		if err != nil && !errors.Is(err, cloud.ErrNotFound) {
			return nil, err
		}
		for k, v := range m {
			out[k] = v
		}
	}
	return out, nil
}

// describeTypes calls DescribeInstanceTypes for names.
func (p *Provider) describeTypes(ctx context.Context, names []string) (map[string]catalog.InstanceType, error) {
	in := &ec2.DescribeInstanceTypesInput{}
	for _, n := range names {
		in.InstanceTypes = append(in.InstanceTypes, ec2types.InstanceType(n))
	}
	out := map[string]catalog.InstanceType{}
	for {
		page, err := call(ctx, p, "DescribeInstanceTypes", func(ctx context.Context) (*ec2.DescribeInstanceTypesOutput, error) {
			return p.ec2.DescribeInstanceTypes(ctx, in)
		})
		if err != nil {
			return nil, fmt.Errorf("describe instance types %v: %w", names, err)
		}
		for _, info := range page.InstanceTypes {
			it, err := instanceTypeFromInfo(info)
			if err != nil {
				p.log.Warn("ignoring instance type", "error", err)
				continue
			}
			out[it.Name] = it
		}
		if sdkaws.ToString(page.NextToken) == "" {
			return out, nil
		}
		next := *in
		next.NextToken = page.NextToken
		in = &next
	}
}

// instanceTypeFromInfo converts EC2's description of a type into the
// catalog's form, so the catalog's capacity and allocatable formulas apply.
// Prices stay 0 (unknown).
func instanceTypeFromInfo(info ec2types.InstanceTypeInfo) (catalog.InstanceType, error) {
	it := catalog.InstanceType{Name: string(info.InstanceType)}
	if info.VCpuInfo != nil {
		it.VCPUs = int(sdkaws.ToInt32(info.VCpuInfo.DefaultVCpus))
	}
	if info.MemoryInfo != nil {
		it.MemoryMiB = sdkaws.ToInt64(info.MemoryInfo.SizeInMiB)
	}
	if info.NetworkInfo != nil {
		it.MaxENIs = int(sdkaws.ToInt32(info.NetworkInfo.MaximumNetworkInterfaces))
		it.IPv4PerENI = int(sdkaws.ToInt32(info.NetworkInfo.Ipv4AddressesPerInterface))
	}
	if info.ProcessorInfo != nil {
		for _, a := range info.ProcessorInfo.SupportedArchitectures {
			if a == ec2types.ArchitectureTypeX8664 || a == ec2types.ArchitectureTypeArm64 {
				it.Architecture = catalog.Architecture(a)
				break
			}
		}
	}
	if info.GpuInfo != nil {
		for _, g := range info.GpuInfo.Gpus {
			if sdkaws.ToString(g.Manufacturer) != catalog.ManufacturerNVIDIA {
				continue
			}
			it.GPU.Count += int(sdkaws.ToInt32(g.Count))
			it.GPU.Manufacturer, it.GPU.Model = catalog.ManufacturerNVIDIA, sdkaws.ToString(g.Name)
			if g.MemoryInfo != nil {
				it.GPU.MemoryMiB = int64(sdkaws.ToInt32(g.MemoryInfo.SizeInMiB))
			}
		}
	}
	if it.Name == "" || it.VCPUs <= 0 || it.MemoryMiB <= 0 || it.MaxENIs <= 0 || it.IPv4PerENI <= 0 || it.Architecture == "" {
		return catalog.InstanceType{}, fmt.Errorf("instance type %q: DescribeInstanceTypes lacks vCPUs, memory, "+
			"network limits or a supported architecture", it.Name)
	}
	return it, nil
}

// priceCache holds spot prices per instance type and zone for a TTL.
type priceCache struct {
	ttl   time.Duration
	clock clock.PassiveClock

	mu      sync.Mutex
	entries map[string]priceEntry // by instance type
}

type priceEntry struct {
	zones map[string]float64
	at    time.Time
}

// spotProduct is the product whose spot prices kelp reads.
const spotProduct = "Linux/UNIX"

// spotPrices returns, for each of types, the lowest current spot price in
// zones; a type without a price is absent. Prices are cached; a failure to
// fetch them is logged and leaves those types absent (callers fall back to
// the catalog's estimate), unless ctx ended.
func (p *Provider) spotPrices(ctx context.Context, types, zones []string) (map[string]float64, error) {
	var stale []string
	p.prices.mu.Lock()
	for _, t := range types {
		if e, ok := p.prices.entries[t]; !ok || p.prices.clock.Since(e.at) >= p.prices.ttl {
			stale = append(stale, t)
		}
	}
	p.prices.mu.Unlock()
	if len(stale) > 0 {
		fetched, err := p.describeSpotPrices(ctx, stale)
		switch {
		case ctx.Err() != nil:
			return nil, fmt.Errorf("describe spot prices: %w", ctx.Err())
		case err != nil:
			p.log.Warn("spot prices unavailable; using the catalog's estimates", "types", stale, "error", err)
		default:
			now := p.prices.clock.Now()
			p.prices.mu.Lock()
			for _, t := range stale {
				p.prices.entries[t] = priceEntry{zones: fetched[t], at: now}
			}
			p.prices.mu.Unlock()
		}
	}
	out := map[string]float64{}
	p.prices.mu.Lock()
	defer p.prices.mu.Unlock()
	for _, t := range types {
		for z, price := range p.prices.entries[t].zones {
			if len(zones) > 0 && !slices.Contains(zones, z) {
				continue
			}
			if cur, ok := out[t]; !ok || price < cur {
				out[t] = price
			}
		}
	}
	return out, nil
}

// describeSpotPrices returns the newest spot price per type and zone.
func (p *Provider) describeSpotPrices(ctx context.Context, types []string) (map[string]map[string]float64, error) {
	in := &ec2.DescribeSpotPriceHistoryInput{ProductDescriptions: []string{spotProduct},
		StartTime: sdkaws.Time(p.clock.Now()), MaxResults: sdkaws.Int32(1000)}
	for _, t := range types {
		in.InstanceTypes = append(in.InstanceTypes, ec2types.InstanceType(t))
	}
	out := map[string]map[string]float64{}
	stamps := map[[2]string]time.Time{}
	for {
		page, err := call(ctx, p, "DescribeSpotPriceHistory", func(ctx context.Context) (*ec2.DescribeSpotPriceHistoryOutput, error) {
			return p.ec2.DescribeSpotPriceHistory(ctx, in)
		})
		if err != nil {
			return nil, fmt.Errorf("describe spot price history: %w", err)
		}
		for _, sp := range page.SpotPriceHistory {
			t, z, at := string(sp.InstanceType), sdkaws.ToString(sp.AvailabilityZone), sdkaws.ToTime(sp.Timestamp)
			price, err := strconv.ParseFloat(sdkaws.ToString(sp.SpotPrice), 64)
			if err != nil || price <= 0 {
				continue
			}
			if prev, seen := stamps[[2]string{t, z}]; seen && !at.After(prev) {
				continue
			}
			stamps[[2]string{t, z}] = at
			if out[t] == nil {
				out[t] = map[string]float64{}
			}
			out[t][z] = price
		}
		if sdkaws.ToString(page.NextToken) == "" {
			return out, nil
		}
		next := *in
		next.NextToken = page.NextToken
		in = &next
	}
}
