package aws

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"

	"github.com/kelp-dev/kelp/internal/cloud"
)

// GroupBounds are kelp's own bounds for scaling one named group
// (cluster-autoscaler's --nodes=MIN:MAX:NAME). They apply within the
// group's own MinSize and MaxSize, which AWS enforces: kelp's minimum is
// max(Min, MinSize) and its maximum min(Max, MaxSize), each kept within
// [MinSize, MaxSize]. kelp grows the group up to its maximum and removes
// nodes down to its minimum; it does not raise a group that is below Min
// by itself (cluster-autoscaler does not either, without
// --enforce-node-group-min-size), though scale-up may take it there.
type GroupBounds struct {
	Min, Max int
}

// nodesSpecPattern is MIN:MAX:NAME; boundedPrefix starts what is meant
// to be one.
var (
	nodesSpecPattern = regexp.MustCompile(`^(\d+):(\d+):(.+)$`)
	boundedPrefix    = regexp.MustCompile(`^\d+:`)
)

// ParseNodesSpec parses a --nodes value: NAME, or cluster-autoscaler's
// MIN:MAX:NAME (bounds is nil for a bare NAME). A value starting with a
// number and a colon is taken for MIN:MAX:NAME and must be one.
func ParseNodesSpec(s string) (name string, bounds *GroupBounds, err error) {
	m := nodesSpecPattern.FindStringSubmatch(s)
	if m == nil {
		if boundedPrefix.MatchString(s) {
			return "", nil, fmt.Errorf("--nodes %q: want MIN:MAX:NAME (or a bare NAME)", s)
		}
		return s, nil, nil
	}
	lo, err1 := strconv.Atoi(m[1])
	hi, err2 := strconv.Atoi(m[2])
	switch {
	case err1 != nil || err2 != nil:
		return "", nil, fmt.Errorf("--nodes %q: bounds out of range", s)
	case lo > hi:
		return "", nil, fmt.Errorf("--nodes %q: minimum %d is above maximum %d", s, lo, hi)
	}
	return m[3], &GroupBounds{Min: lo, Max: hi}, nil
}

// validateBounds checks that every bounded group is named and every
// bound is in order.
func validateBounds(c Config) []error {
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(c.GroupBounds)) {
		b := c.GroupBounds[name]
		switch {
		case !slices.Contains(c.GroupNames, name):
			errs = append(errs, fmt.Errorf("GroupBounds[%s]: the group is not in GroupNames", name))
		case b.Min < 0 || b.Max < b.Min:
			errs = append(errs, fmt.Errorf("GroupBounds[%s]: [%d, %d]: want 0 <= min <= max", name, b.Min, b.Max))
		}
	}
	return errs
}

// groupSizes is g's name and sizes as a cloud.NodeGroup, for its bounds
// check (cloud.NodeGroup.CheckSize), with kelp's own bounds of the group
// (Config.GroupBounds) applied within the group's. The cloud keeps
// DesiredCapacity within [MinSize, MaxSize], so a check of a smaller size
// fails only below kelp's minimum.
func (p *Provider) groupSizes(g astypes.AutoScalingGroup) cloud.NodeGroup {
	ng := cloud.NodeGroup{ID: sdkaws.ToString(g.AutoScalingGroupName), MinSize: int(sdkaws.ToInt32(g.MinSize)),
		MaxSize: int(sdkaws.ToInt32(g.MaxSize)), TargetSize: int(sdkaws.ToInt32(g.DesiredCapacity))}
	if b, ok := p.cfg.GroupBounds[ng.ID]; ok {
		ng.MinSize, ng.MaxSize = b.within(ng.MinSize, ng.MaxSize)
	}
	return ng
}

// within returns b's bounds kept within [lo, hi], the group's own.
func (b GroupBounds) within(lo, hi int) (minSize, maxSize int) {
	clamp := func(v int) int { return min(max(v, lo), hi) }
	return clamp(b.Min), clamp(b.Max)
}
