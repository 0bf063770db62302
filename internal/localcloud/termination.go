package localcloud

import (
	"cmp"
	"slices"
	"strings"
	"time"
)

// This file is the pure core of scale-in: which instances a group
// terminates, by its termination policies. No state, no clock, no IO.

// Termination policies, as AWS spells them.
const (
	policyDefault                   = "Default"
	policyAllocationStrategy        = "AllocationStrategy"
	policyOldestInstance            = "OldestInstance"
	policyNewestInstance            = "NewestInstance"
	policyOldestLaunchConfiguration = "OldestLaunchConfiguration"
	policyOldestLaunchTemplate      = "OldestLaunchTemplate"
	policyClosestToNextInstanceHour = "ClosestToNextInstanceHour"
)

var terminationPolicies = []string{policyDefault, policyAllocationStrategy, policyOldestInstance, policyNewestInstance,
	policyOldestLaunchConfiguration, policyOldestLaunchTemplate, policyClosestToNextInstanceHour}

// checkTerminationPolicies validates a group's TerminationPolicies.
func checkTerminationPolicies(policies []string) error {
	for _, p := range policies {
		if strings.HasPrefix(p, "arn:aws:lambda:") {
			return validationf("Custom termination policies (Lambda function %s) are not supported by the local cloud; use %v.",
				p, terminationPolicies)
		}
		if !slices.Contains(terminationPolicies, p) {
			return validationf("Termination policy '%s' is not valid; valid policies are %v or a Lambda function ARN.",
				p, terminationPolicies)
		}
	}
	return nil
}

// victim is an instance a scale-in may terminate.
type victim struct {
	ID         string
	Zone       string
	Spot       bool
	Protected  bool  // ProtectedFromScaleIn
	Current    bool  // launched from the group's current template version
	Version    int64 // the launch template version it was launched from
	LaunchTime time.Time
}

// scaleInRule is how a group picks the instances a scale-in terminates.
type scaleInRule struct {
	Zones []string // the group's zones, in the order given
	// ExcessOnDemand and ExcessSpot are how many instances of each
	// capacity type the group runs above its MixedInstancesPolicy's target.
	ExcessOnDemand, ExcessSpot int
	Policies                   []string // TerminationPolicies; empty means Default
	Now                        time.Time
}

// chooseVictims picks n instances to terminate as Auto Scaling does:
// whatever the policies, from the zone with the most instances (ties: the
// zone listed last) and the capacity type above its target first (excess
// on-demand, then excess spot); then each termination policy in order
// narrows the candidates, and Default decides what they leave tied
// (instances of an older launch template first, then the oldest, which
// stands for "closest to the next billing hour" since billing is per
// second). Protected instances are never chosen; fewer than n come back
// when too few are unprotected.
func chooseVictims(insts []victim, n int, r scaleInRule) []string {
	left := slices.Clone(insts)
	exOD, exSpot := r.ExcessOnDemand, r.ExcessSpot
	var out []string
	for len(out) < n {
		counts := map[string]int{}
		for _, v := range left {
			counts[v.Zone]++
		}
		var pool []victim
		for _, z := range zonesByCountDesc(r.Zones, counts) {
			pool = slices.DeleteFunc(filterZone(left, z), func(v victim) bool { return v.Protected })
			if len(pool) > 0 {
				break
			}
		}
		if len(pool) == 0 {
			break
		}
		pool = preferCapacityType(pool, &exOD, &exSpot)
		for _, p := range r.Policies {
			pool = applyPolicy(p, pool, r.Now)
		}
		pick := slices.MinFunc(applyPolicy(policyDefault, pool, r.Now), func(a, b victim) int { return cmp.Compare(a.ID, b.ID) })
		out = append(out, pick.ID)
		left = slices.DeleteFunc(left, func(v victim) bool { return v.ID == pick.ID })
	}
	return out
}

// applyPolicy keeps the candidates a termination policy prefers (never
// none of a non-empty pool).
func applyPolicy(policy string, pool []victim, now time.Time) []victim {
	switch policy {
	case policyOldestInstance:
		return keepBest(pool, func(a, b victim) int { return a.LaunchTime.Compare(b.LaunchTime) })
	case policyNewestInstance:
		return keepBest(pool, func(a, b victim) int { return b.LaunchTime.Compare(a.LaunchTime) })
	case policyOldestLaunchTemplate, policyOldestLaunchConfiguration:
		return keepBest(pool, func(a, b victim) int { return cmp.Or(boolCmp(a.Current, b.Current), cmp.Compare(a.Version, b.Version)) })
	case policyClosestToNextInstanceHour:
		return keepBest(pool, func(a, b victim) int { return cmp.Compare(hourRemainder(b, now), hourRemainder(a, now)) })
	case policyDefault, policyAllocationStrategy:
		pool = applyPolicy(policyOldestLaunchTemplate, pool, now)
		return applyPolicy(policyOldestInstance, pool, now)
	}
	return pool
}

// hourRemainder is how far into its current billing hour an instance is.
func hourRemainder(v victim, now time.Time) time.Duration {
	return now.Sub(v.LaunchTime) % time.Hour
}

// keepBest returns the elements of pool that order first by cmpFn (all
// of them on a tie).
func keepBest(pool []victim, cmpFn func(a, b victim) int) []victim {
	if len(pool) == 0 {
		return pool
	}
	best := slices.MinFunc(pool, cmpFn)
	return slices.DeleteFunc(slices.Clone(pool), func(v victim) bool { return cmpFn(v, best) != 0 })
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
