package localcloud

import (
	"cmp"
	"hash/fnv"
	"math"
	"slices"
	"time"
)

// This file is the pure core of Auto Scaling's choices: how many instances
// are on-demand, which pool (instance type in a zone) a launch uses, and
// which instances a scale-in terminates. No state, no clock, no IO.

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

// victim is an instance a scale-in may terminate.
type victim struct {
	ID         string
	Zone       string
	Spot       bool
	Protected  bool // ProtectedFromScaleIn
	Current    bool // launched from the group's current template version
	LaunchTime time.Time
}

// chooseVictims picks n instances to terminate with AWS's default
// termination policy: from the zone with the most instances (ties: the
// zone listed last), the capacity type above its target first (excess
// on-demand, then excess spot), instances of an older launch template
// first, then the oldest. Protected instances are never chosen; fewer than
// n come back when too few are unprotected.
func chooseVictims(insts []victim, zones []string, n, excessOnDemand, excessSpot int) []string {
	left := slices.Clone(insts)
	var out []string
	for len(out) < n {
		counts := map[string]int{}
		for _, v := range left {
			counts[v.Zone]++
		}
		var pool []victim
		for _, z := range zonesByCountDesc(zones, counts) {
			pool = slices.DeleteFunc(filterZone(left, z), func(v victim) bool { return v.Protected })
			if len(pool) > 0 {
				break
			}
		}
		if len(pool) == 0 {
			break
		}
		pool = preferCapacityType(pool, &excessOnDemand, &excessSpot)
		pick := slices.MinFunc(pool, func(a, b victim) int {
			return cmp.Or(boolCmp(a.Current, b.Current), a.LaunchTime.Compare(b.LaunchTime), cmp.Compare(a.ID, b.ID))
		})
		out = append(out, pick.ID)
		left = slices.DeleteFunc(left, func(v victim) bool { return v.ID == pick.ID })
	}
	return out
}

func filterZone(vs []victim, zone string) []victim {
	var out []victim
	for _, v := range vs {
		if v.Zone == zone {
			out = append(out, v)
		}
	}
	return out
}

// preferCapacityType narrows pool to the capacity type in excess, if any,
// and counts the choice against that excess.
func preferCapacityType(pool []victim, excessOD, excessSpot *int) []victim {
	for _, want := range []struct {
		spot   bool
		excess *int
	}{{false, excessOD}, {true, excessSpot}} {
		if *want.excess <= 0 {
			continue
		}
		var of []victim
		for _, v := range pool {
			if v.Spot == want.spot {
				of = append(of, v)
			}
		}
		if len(of) > 0 {
			*want.excess--
			return of
		}
	}
	return pool
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
