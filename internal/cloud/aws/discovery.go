package aws

import (
	"context"
	"fmt"
	"maps"
	"slices"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"

	"github.com/kelp-dev/kelp/internal/cloud"
)

// maxNamesPerCall bounds AutoScalingGroupNames in one request.
const maxNamesPerCall = 50

// deletingStatus is the Status of a group being deleted.
const deletingStatus = "Delete in progress"

// discover returns the managed groups, sorted by name: those named in
// GroupNames and those matching a discovery spec. Groups being deleted are
// left out. A named group that does not exist is logged, not an error.
func (p *Provider) discover(ctx context.Context) ([]astypes.AutoScalingGroup, error) {
	found := map[string]astypes.AutoScalingGroup{}
	for chunk := range slices.Chunk(p.cfg.GroupNames, maxNamesPerCall) {
		groups, err := p.describeGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: chunk})
		if err != nil {
			return nil, fmt.Errorf("discover groups by name: %w", err)
		}
		for _, g := range groups {
			found[sdkaws.ToString(g.AutoScalingGroupName)] = g
		}
	}
	for _, name := range p.cfg.GroupNames {
		if _, ok := found[name]; !ok {
			p.log.Warn("configured auto scaling group does not exist", "group", name)
		}
	}
	for _, spec := range p.discovery {
		groups, err := p.describeGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{Filters: spec.filters()})
		if err != nil {
			return nil, fmt.Errorf("discover groups by tags %s: %w", spec, err)
		}
		for _, g := range groups {
			if spec.Matches(tagMap(g.Tags)) {
				found[sdkaws.ToString(g.AutoScalingGroupName)] = g
			}
		}
	}
	out := make([]astypes.AutoScalingGroup, 0, len(found))
	for _, name := range slices.Sorted(maps.Keys(found)) {
		g := found[name]
		if sdkaws.ToString(g.Status) == deletingStatus {
			p.log.Debug("skipping auto scaling group being deleted", "group", name)
			continue
		}
		out = append(out, g)
	}
	return out, nil
}

// describeGroups pages through DescribeAutoScalingGroups.
func (p *Provider) describeGroups(ctx context.Context, in *autoscaling.DescribeAutoScalingGroupsInput) ([]astypes.AutoScalingGroup, error) {
	var out []astypes.AutoScalingGroup
	in.MaxRecords = sdkaws.Int32(100)
	for {
		page, err := call(ctx, p, "DescribeAutoScalingGroups", func(ctx context.Context) (*autoscaling.DescribeAutoScalingGroupsOutput, error) {
			return p.as.DescribeAutoScalingGroups(ctx, in)
		})
		if err != nil {
			return nil, err
		}
		out = append(out, page.AutoScalingGroups...)
		if sdkaws.ToString(page.NextToken) == "" {
			return out, nil
		}
		next := *in
		next.NextToken = page.NextToken
		in = &next
	}
}

// managed reports whether the provider manages the group.
func (p *Provider) managed(g astypes.AutoScalingGroup) bool {
	if slices.Contains(p.cfg.GroupNames, sdkaws.ToString(g.AutoScalingGroupName)) {
		return true
	}
	tags := tagMap(g.Tags)
	return slices.ContainsFunc(p.discovery, func(s DiscoverySpec) bool { return s.Matches(tags) })
}

// describeManagedGroup reads one group afresh. A group that does not exist,
// is being deleted or is not managed is cloud.ErrNotFound.
func (p *Provider) describeManagedGroup(ctx context.Context, name string) (astypes.AutoScalingGroup, error) {
	groups, err := p.describeGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{name}})
	if err != nil {
		return astypes.AutoScalingGroup{}, fmt.Errorf("describe auto scaling group %s: %w", name, err)
	}
	for _, g := range groups {
		if sdkaws.ToString(g.AutoScalingGroupName) != name {
			continue
		}
		switch {
		case sdkaws.ToString(g.Status) == deletingStatus:
			return g, fmt.Errorf("auto scaling group %s is being deleted: %w", name, cloud.ErrNotFound)
		case !p.managed(g):
			return g, fmt.Errorf("auto scaling group %s is not managed by kelp (not in GroupNames, matches no discovery spec): %w",
				name, cloud.ErrNotFound)
		}
		return g, nil
	}
	return astypes.AutoScalingGroup{}, fmt.Errorf("auto scaling group %s: %w", name, cloud.ErrNotFound)
}

// tagMap returns a group's tags by key.
func tagMap(tags []astypes.TagDescription) map[string]string {
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		m[sdkaws.ToString(t.Key)] = sdkaws.ToString(t.Value)
	}
	return m
}

// groupZones returns the group's zones, sorted.
func groupZones(g astypes.AutoScalingGroup) []string {
	zones := slices.Clone(g.AvailabilityZones)
	slices.Sort(zones)
	return slices.Compact(zones)
}
