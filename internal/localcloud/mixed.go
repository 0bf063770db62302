package localcloud

import (
	"cmp"
	"hash/fnv"
	"math"
	"slices"
)

// This file is the pure core of Auto Scaling's choices: how many instances
// are on-demand, which pool (instance type in a zone) a launch uses
// (termination.go has which instances a scale-in terminates). No state, no clock, no IO.

// spotStrategies are the SpotAllocationStrategy values the cloud knows.
var spotStrategies = []string{"lowest-price", "price-capacity-optimized", "capacity-optimized", "capacity-optimized-prioritized"}

// onDemandTarget returns how many of total instances a distribution wants
// on-demand: the base first, then the percentage of the rest, rounded up in
// favour of on-demand (as AWS rounds).
func onDemandTarget(d distribution, total int) int {
	base := min(total, d.OnDemandBaseCapacity)
	above := total - base
	return base + (above*d.OnDemandPercentageAboveBaseCapacity+99)/100
}

// splitLaunches returns how many of n new instances are on-demand and how
// many spot, given the group's running on-demand and spot counts.
func splitLaunches(d distribution, onDemand, spot, n int) (od, sp int) {
	od = min(n, max(0, onDemandTarget(d, onDemand+spot+n)-onDemand))
	return od, n - od
}

// unlimited marks a spot pool without a capacity limit.
const unlimited = math.MaxInt32

// candidate is a pool a launch could use: an instance type in one zone.
type candidate struct {
	InstanceType string
	Priority     int     // position in the overrides; lower is preferred
	Price        float64 // on-demand or spot price in the zone
	Available    int     // spot instances the pool can still run (unlimited if no limit)
	Running      int     // the group's instances of this pool and capacity type
}

// choosePool picks the candidate a strategy launches into. pools is
// SpotInstancePools (lowest-price spot only). ok is false without
// candidates.
func choosePool(strategy string, spot bool, pools int, cands []candidate) (candidate, bool) {
	if len(cands) == 0 {
		return candidate{}, false
	}
	byPrice := func(a, b candidate) int {
		return cmp.Or(cmp.Compare(a.Price, b.Price), cmp.Compare(a.Priority, b.Priority))
	}
	c := slices.Clone(cands)
	switch {
	case !spot && strategy == "lowest-price":
		return slices.MinFunc(c, byPrice), true
	case !spot: // prioritized
		return slices.MinFunc(c, func(a, b candidate) int { return cmp.Compare(a.Priority, b.Priority) }), true
	case strategy == "price-capacity-optimized":
		return priceCapacityOptimized(c, byPrice), true
	case strategy == "capacity-optimized" || strategy == "capacity-optimized-prioritized":
		return slices.MinFunc(c, func(a, b candidate) int {
			return cmp.Or(cmp.Compare(b.Available, a.Available), cmp.Compare(a.Priority, b.Priority))
		}), true
	default: // lowest-price: spread over the cheapest pools
		slices.SortFunc(c, byPrice)
		c = c[:min(max(pools, 1), len(c))]
		return slices.MinFunc(c, func(a, b candidate) int {
			return cmp.Or(cmp.Compare(a.Running, b.Running), byPrice(a, b))
		}), true
	}
}

// priceCapacityOptimized keeps the pools with the most available capacity
// (at least half the deepest pool's) and takes the cheapest of them. When
// no pool has capacity left it returns the cheapest, whose launch fails.
func priceCapacityOptimized(c []candidate, byPrice func(a, b candidate) int) candidate {
	deepest := slices.MaxFunc(c, func(a, b candidate) int { return cmp.Compare(a.Available, b.Available) }).Available
	if deepest <= 0 {
		return slices.MinFunc(c, byPrice)
	}
	deep := slices.DeleteFunc(c, func(x candidate) bool { return x.Available*2 < deepest })
	return slices.MinFunc(deep, byPrice)
}

// spotPrice returns the simulated spot price of an instance type in a zone:
// the catalog's regional spot price moved by a fixed amount between -5%
// and +5% per (type, zone), so that zones differ as on EC2, rounded to
// 1/10000 of a dollar.
func spotPrice(regional float64, instanceType, zone string) float64 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(instanceType + "/" + zone))
	factor := 0.95 + float64(h.Sum32()%1001)/10000
	return math.Round(regional*factor*10000) / 10000
}

// zonesByCountDesc orders zones by instance count, most first; ties put the
// zone listed last first. Zones with instances but not listed come last.
func zonesByCountDesc(zones []string, counts map[string]int) []string {
	all := slices.Clone(zones)
	for z := range counts {
		if !slices.Contains(all, z) {
			all = append(all, z)
		}
	}
	pos := map[string]int{}
	for i, z := range all {
		pos[z] = i
	}
	slices.SortStableFunc(all, func(a, b string) int {
		return cmp.Or(cmp.Compare(counts[b], counts[a]), cmp.Compare(pos[b], pos[a]))
	})
	return all
}

// zonesByCountAsc orders zones by instance count, fewest first; ties keep
// the listed order.
func zonesByCountAsc(zones []string, counts map[string]int) []string {
	out := slices.Clone(zones)
	slices.SortStableFunc(out, func(a, b string) int { return cmp.Compare(counts[a], counts[b]) })
	return out
}

func boolCmp(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	}
	return 1
}
