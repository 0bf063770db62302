package aws

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"

	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/pool"
)

// maxNamesPerCall bounds AutoScalingGroupNames in one request.
const maxNamesPerCall = 50

// deletingStatus is the Status of a group being deleted.
const deletingStatus = "Delete in progress"

// discover returns the managed groups, sorted by name: those named in
// GroupNames and those matching a discovery spec, all owned by the cluster
// (ownedBy). Groups being deleted are left out. A named group that does not
// exist is logged; one that exists without the cluster tag is an error
// naming it (the configuration is wrong); a discovered one without it is
// skipped with a warning (see skip).
func (p *Provider) discover(ctx context.Context) ([]astypes.AutoScalingGroup, error) {
	found := map[string]astypes.AutoScalingGroup{}
	var notOwned []error
	for chunk := range slices.Chunk(p.cfg.GroupNames, maxNamesPerCall) {
		groups, err := p.describeGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: chunk})
		if err != nil {
			return nil, fmt.Errorf("discover groups by name: %w", err)
		}
		for _, g := range groups {
			name := sdkaws.ToString(g.AutoScalingGroupName)
			if !p.ownedBy(g) && sdkaws.ToString(g.Status) != deletingStatus {
				notOwned = append(notOwned, fmt.Errorf("auto scaling group %s (GroupNames, --nodes) lacks the tag %s=%s: "+
					"kelp manages only its own cluster's groups; tag it or stop naming it: %w", name, p.clusterTag(), ownedValue, cloud.ErrInvalidGroup))
				continue
			}
			found[name] = g
		}
	}
	if len(notOwned) > 0 {
		return nil, fmt.Errorf("discover groups by name: %w", errors.Join(notOwned...))
	}
	for _, name := range p.cfg.GroupNames {
		if _, ok := found[name]; !ok {
			p.log.Warn("configured auto scaling group does not exist", "group", name)
		}
	}
	skipped := map[string]bool{}
	for _, spec := range p.discovery {
		groups, err := p.describeGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{Filters: spec.filters()})
		if err != nil {
			return nil, fmt.Errorf("discover groups by tags %s: %w", spec, err)
		}
		for _, g := range groups {
			name := sdkaws.ToString(g.AutoScalingGroupName)
			switch {
			case !spec.Matches(tagMap(g.Tags)):
			case !p.ownedBy(g):
				skipped[name] = true
			default:
				found[name] = g
			}
		}
	}
	p.skip(skipped)
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

// skip records the groups a discovery spec matched that the cluster does
// not own, warning once for each newly skipped one.
func (p *Provider) skip(groups map[string]bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, name := range slices.Sorted(maps.Keys(groups)) {
		if !p.skipped[name] {
			p.log.Warn("auto scaling group matches a discovery spec but is not the cluster's: not managed",
				"group", name, "missingTag", p.clusterTag()+"="+ownedValue)
		}
	}
	p.skipped = groups
}

// SkippedGroups returns, sorted, the groups the last Refresh's discovery
// specs matched but left out because they lack the cluster tag
// kubernetes.io/cluster/<cluster>=owned: another cluster's, or a
// misconfigured one (say, for a metric).
func (p *Provider) SkippedGroups() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Sorted(maps.Keys(p.skipped))
}

// ownedValue is the value of the cluster tag on the groups a cluster owns.
const ownedValue = "owned"

// clusterTag is the cluster tag's key, kubernetes.io/cluster/<cluster>.
func (p *Provider) clusterTag() string { return pool.ClusterTagPrefix + p.cfg.ClusterName }

// ownedBy reports whether the group carries the cluster tag with the value
// owned: what every managed group must carry, however it is selected, so
// that one cluster never claims another's instances.
func (p *Provider) ownedBy(g astypes.AutoScalingGroup) bool {
	return tagMap(g.Tags)[p.clusterTag()] == ownedValue
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

// managed reports whether the provider manages the group: the cluster
// owns it, and GroupNames names it or a discovery spec matches it.
func (p *Provider) managed(g astypes.AutoScalingGroup) bool {
	if !p.ownedBy(g) {
		return false
	}
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
			return g, fmt.Errorf("auto scaling group %s is not managed by kelp (lacks %s=%s, or not in GroupNames "+
				"and matches no discovery spec): %w", name, p.clusterTag(), ownedValue, cloud.ErrNotFound)
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
