package pool

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/kelp-dev/kelp/internal/catalog"
	"github.com/kelp-dev/kelp/internal/cloud"
)

// List returns the cluster's pools: groups tagged kelp.dev/pool and owned
// by the cluster, sorted by name, each with its Outdated members.
func (p *Provisioner) List(ctx context.Context) ([]Pool, error) {
	pools, err := p.describe(ctx, GroupFilter{
		Tags:    map[string]string{ClusterTagPrefix + p.cluster: ownedValue},
		TagKeys: []string{PoolTag},
	})
	if err != nil {
		return nil, err
	}
	for i := range pools {
		if pools[i].Outdated, err = p.outdated(ctx, pools[i]); err != nil {
			return nil, err
		}
	}
	return pools, nil
}

// Get returns one pool, or an error wrapping cloud.ErrNotFound.
func (p *Provisioner) Get(ctx context.Context, name string) (Pool, error) {
	pools, err := p.describe(ctx, GroupFilter{Tags: map[string]string{PoolTag: name, ClusterTagPrefix + p.cluster: ownedValue}})
	if err != nil {
		return Pool{}, err
	}
	if len(pools) == 0 {
		return Pool{}, fmt.Errorf("pool %q of cluster %s: %w", name, p.cluster, cloud.ErrNotFound)
	}
	return pools[0], nil
}

// Describe is Get with what only the launch template tells: the instance
// profile of its latest version.
func (p *Provisioner) Describe(ctx context.Context, name string) (Pool, error) {
	pl, err := p.Get(ctx, name)
	if err != nil {
		return Pool{}, err
	}
	t, err := p.cloud.DescribeLaunchTemplate(ctx, pl.LaunchTemplate)
	if err != nil {
		return Pool{}, fmt.Errorf("describe pool %s: describe launch template %s: %w", name, pl.LaunchTemplate, err)
	}
	pl.InstanceProfile = t.InstanceProfile
	return pl, nil
}

func (p *Provisioner) describe(ctx context.Context, f GroupFilter) ([]Pool, error) {
	groups, err := p.cloud.DescribeGroups(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("describe auto scaling groups: %w", err)
	}
	pools := make([]Pool, 0, len(groups))
	for _, g := range groups {
		pl := poolOf(g)
		hooks, err := p.cloud.DescribeLifecycleHooks(ctx, g.Name)
		if errors.Is(err, cloud.ErrUnsupported) {
			err = fmt.Errorf("%w: %w", errHooksUnsupported, err)
		}
		if err != nil {
			return nil, err // the cloud's error names the call and group
		}
		pl.DrainHook = drainHookOf(hooks)
		pools = append(pools, pl)
	}
	sort.Slice(pools, func(i, j int) bool { return pools[i].Name < pools[j].Name })
	return pools, nil
}

func poolOf(g GroupInfo) Pool {
	return Pool{
		Name:           g.Tags[PoolTag],
		GroupName:      g.Name,
		LaunchTemplate: g.LaunchTemplate,
		InstanceTypes:  g.InstanceTypes,
		CapacityType:   catalog.CapacityType(g.Tags[NodeTemplateLabelTag+CapacityTypeLabel]),
		MinSize:        g.MinSize,
		MaxSize:        g.MaxSize,
		Desired:        g.Desired,
		Instances:      g.Instances,
		Members:        g.Members,
		Join:           JoinMode(g.Tags[JoinTag]).OrDefault(),

		LaunchTemplateVersion: g.LaunchTemplateVersion,
	}
}
