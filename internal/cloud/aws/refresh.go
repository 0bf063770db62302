package aws

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/pool"
)

// Refresh implements cloud.GroupLister. Per refresh it calls
// DescribeAutoScalingGroups (per name chunk and per discovery spec),
// DescribeSubnets for subnets of the groups it has not seen before,
// DescribeInstances for the groups' instances, and per group
// DescribeScalingActivities and, for $Latest/$Default templates,
// DescribeLaunchTemplateVersions; instance types and spot prices come from
// caches.
func (p *Provider) Refresh(ctx context.Context) error {
	p.refreshMu.Lock()
	defer p.refreshMu.Unlock()
	start := p.clock.Now()
	p.mu.Lock()
	marks, seq := maps.Clone(p.watermarks), p.editSeq
	p.mu.Unlock()

	groups, err := p.discover(ctx)
	if err != nil {
		return fmt.Errorf("refresh node groups: %w", err)
	}
	vpcs, err := p.groupVPCs(ctx, groups)
	if err != nil {
		return fmt.Errorf("refresh node groups: %w", err)
	}
	details, err := p.groupInstanceDetails(ctx, groups)
	if err != nil {
		return fmt.Errorf("refresh node groups: %w", err)
	}
	out := make([]cloud.NodeGroup, 0, len(groups))
	next := make(map[string]watermark, len(groups))
	var all []cloud.Instance
	for _, g := range groups {
		name := sdkaws.ToString(g.AutoScalingGroupName)
		ng, mark, err := p.refreshGroup(ctx, g, details, marks[name], start)
		if err != nil {
			return fmt.Errorf("refresh node group %s: %w", name, err)
		}
		out, next[name] = append(out, ng), mark
		for _, inst := range ng.Instances {
			if _, described := details[inst.ID]; described { // cache only complete instances
				all = append(all, inst)
			}
		}
	}
	p.mu.Lock()
	p.groups, p.refreshed, p.watermarks = out, true, next
	vpcsChanged := !slices.Equal(p.vpcs, vpcs)
	p.vpcs = vpcs
	p.reapplyEditsLocked(seq)
	p.mu.Unlock()
	if vpcsChanged { // name lookups answered for other VPCs
		p.instances.forgetDNS()
	}
	p.instances.expire()
	p.instances.putIDs(all)
	p.log.Debug("node groups refreshed", "groups", len(out), "instances", len(all), "duration", p.clock.Since(start))
	return nil
}

// ensureRefreshed refreshes once when the provider never refreshed.
func (p *Provider) ensureRefreshed(ctx context.Context) error {
	p.mu.Lock()
	refreshed := p.refreshed
	p.mu.Unlock()
	if refreshed {
		return nil
	}
	return p.Refresh(ctx)
}

// NodeGroups implements cloud.GroupLister.
func (p *Provider) NodeGroups(ctx context.Context) ([]cloud.NodeGroup, error) {
	if err := p.ensureRefreshed(ctx); err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]cloud.NodeGroup, len(p.groups))
	for i, g := range p.groups {
		out[i] = g.Clone()
	}
	return out, nil
}

// maxIDsPerFilter bounds the values of one DescribeInstances filter.
const maxIDsPerFilter = 200

// groupInstanceDetails describes the EC2 side of every instance of groups,
// by ID. Instances EC2 no longer reports are absent.
func (p *Provider) groupInstanceDetails(ctx context.Context, groups []astypes.AutoScalingGroup) (map[string]cloud.Instance, error) {
	var ids []string
	for _, g := range groups {
		for _, i := range g.Instances {
			ids = append(ids, sdkaws.ToString(i.InstanceId))
		}
	}
	out := make(map[string]cloud.Instance, len(ids))
	for chunk := range slices.Chunk(ids, maxIDsPerFilter) {
		insts, err := p.describeEC2Instances(ctx, &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{
			{Name: sdkaws.String("instance-id"), Values: chunk},
		}})
		if err != nil {
			return nil, fmt.Errorf("describe group instances: %w", err)
		}
		for _, inst := range insts {
			out[inst.ID] = inst
		}
	}
	return out, nil
}

// refreshGroup builds one group's snapshot and its next activity watermark.
func (p *Provider) refreshGroup(ctx context.Context, g astypes.AutoScalingGroup, details map[string]cloud.Instance,
	mark watermark, now time.Time) (cloud.NodeGroup, watermark, error) {
	name, tags := sdkaws.ToString(g.AutoScalingGroupName), tagMap(g.Tags)
	ng := p.groupSizes(g)
	ng.Pool = tags[pool.PoolTag]
	for _, gi := range g.Instances {
		ng.Instances = append(ng.Instances, groupInstance(gi, name, ng.Pool, details))
	}
	slices.SortFunc(ng.Instances, func(a, b cloud.Instance) int { return strings.Compare(a.ID, b.ID) })
	tmpl, problems, err := p.groupTemplate(ctx, g)
	if err != nil {
		return cloud.NodeGroup{}, watermark{}, err
	}
	ng.Template = tmpl
	errs, leaving, next, err := p.groupActivities(ctx, name, mark, now)
	if err != nil {
		return cloud.NodeGroup{}, watermark{}, err
	}
	for i := range ng.Instances {
		if ng.Instances[i].State == cloud.InstanceStateTerminating {
			ng.Instances[i].LeaveCause = leaving[ng.Instances[i].ID]
		}
	}
	for _, pr := range problems {
		errs = append(errs, cloud.GroupError{Err: cloud.ErrInvalidGroup, Group: name, Message: pr.Error(), Time: now})
		p.log.Warn("node group template problem", "group", name, "problem", pr)
	}
	ng.Errors = errs
	return ng, next, nil
}

// groupInstance merges a group member's Auto Scaling view with its EC2
// details: EC2's shutting-down or terminated wins, else the group's
// lifecycle state decides.
func groupInstance(gi astypes.Instance, group, poolName string, details map[string]cloud.Instance) cloud.Instance {
	id := sdkaws.ToString(gi.InstanceId)
	inst, ok := details[id]
	if !ok {
		inst = cloud.Instance{ID: id, AvailabilityZone: sdkaws.ToString(gi.AvailabilityZone), InstanceType: sdkaws.ToString(gi.InstanceType)}
		inst.ProviderID = cloud.ProviderID(inst.AvailabilityZone, id)
	}
	inst.GroupName = group
	if inst.Pool == "" {
		inst.Pool = poolName
	}
	if !inst.State.Gone() {
		inst.State, inst.CloudState = stateFromGroup(string(gi.LifecycleState)), string(gi.LifecycleState)
	}
	return inst
}
