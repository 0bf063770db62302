package pool

import (
	"context"
	"fmt"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"

	"github.com/kelp-dev/kelp/internal/catalog"
)

// List returns the cluster's pools: groups tagged kelp.dev/pool and owned
// by the cluster, sorted by name.
func (m *Manager) List(ctx context.Context) ([]Pool, error) {
	return m.describe(ctx, []astypes.Filter{
		{Name: aws.String("tag-key"), Values: []string{PoolTag}},
		{Name: aws.String("tag:" + ClusterTagPrefix + m.Cluster), Values: []string{ownedValue}},
	})
}

// Get returns one pool, or an error wrapping ErrNotFound.
func (m *Manager) Get(ctx context.Context, name string) (Pool, error) {
	pools, err := m.describe(ctx, []astypes.Filter{
		{Name: aws.String("tag:" + PoolTag), Values: []string{name}},
		{Name: aws.String("tag:" + ClusterTagPrefix + m.Cluster), Values: []string{ownedValue}},
	})
	if err != nil {
		return Pool{}, err
	}
	if len(pools) == 0 {
		return Pool{}, fmt.Errorf("pool %q of cluster %s: %w", name, m.Cluster, ErrNotFound)
	}
	return pools[0], nil
}

func (m *Manager) describe(ctx context.Context, filters []astypes.Filter) ([]Pool, error) {
	var pools []Pool
	p := autoscaling.NewDescribeAutoScalingGroupsPaginator(m.AutoScaling, &autoscaling.DescribeAutoScalingGroupsInput{Filters: filters})
	for p.HasMorePages() {
		cctx, cancel := m.call(ctx)
		page, err := p.NextPage(cctx)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("describe auto scaling groups: %w", err)
		}
		for _, g := range page.AutoScalingGroups {
			pools = append(pools, poolOf(g))
		}
	}
	sort.Slice(pools, func(i, j int) bool { return pools[i].Name < pools[j].Name })
	return pools, nil
}

func poolOf(g astypes.AutoScalingGroup) Pool {
	p := Pool{
		GroupName: aws.ToString(g.AutoScalingGroupName),
		MinSize:   aws.ToInt32(g.MinSize),
		MaxSize:   aws.ToInt32(g.MaxSize),
		Desired:   aws.ToInt32(g.DesiredCapacity),
		Instances: len(g.Instances),
	}
	for _, t := range g.Tags {
		switch aws.ToString(t.Key) {
		case PoolTag:
			p.Name = aws.ToString(t.Value)
		case NodeTemplateLabelTag + CapacityTypeLabel:
			p.CapacityType = catalog.CapacityType(aws.ToString(t.Value))
		}
	}
	switch {
	case g.MixedInstancesPolicy != nil && g.MixedInstancesPolicy.LaunchTemplate != nil:
		lt := g.MixedInstancesPolicy.LaunchTemplate
		if lt.LaunchTemplateSpecification != nil {
			p.LaunchTemplate = aws.ToString(lt.LaunchTemplateSpecification.LaunchTemplateName)
		}
		for _, o := range lt.Overrides {
			p.InstanceTypes = append(p.InstanceTypes, aws.ToString(o.InstanceType))
		}
	case g.LaunchTemplate != nil:
		p.LaunchTemplate = aws.ToString(g.LaunchTemplate.LaunchTemplateName)
	}
	return p
}

// Delete removes the pool's group (terminating its instances when force is
// set; otherwise a group with instances is refused by the cloud) and then
// its launch template.
func (m *Manager) Delete(ctx context.Context, name string, force bool) error {
	p, err := m.Get(ctx, name)
	if err != nil {
		return fmt.Errorf("delete pool: %w", err)
	}
	cctx, cancel := m.call(ctx)
	defer cancel()
	if _, err := m.AutoScaling.DeleteAutoScalingGroup(cctx, &autoscaling.DeleteAutoScalingGroupInput{
		AutoScalingGroupName: aws.String(p.GroupName), ForceDelete: aws.Bool(force),
	}); err != nil {
		return fmt.Errorf("delete pool %s: delete auto scaling group %s: %w", name, p.GroupName, err)
	}
	if p.LaunchTemplate != "" {
		if err := m.deleteLaunchTemplate(ctx, p.LaunchTemplate); err != nil {
			return fmt.Errorf("delete pool %s: %w", name, err)
		}
	}
	return nil
}
