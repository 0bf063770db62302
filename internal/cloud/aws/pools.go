package aws

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/pool"
)

// This file is the pool provisioner's side of the adapter: groups and
// launch templates as internal/pool's values, every call through call (the
// provider's timeout, throttle rounds and error mapping).

var _ pool.Cloud = (*Provider)(nil)

// DescribeGroups implements pool.CloudReader: every group matching f, in
// the cloud's order.
func (p *Provider) DescribeGroups(ctx context.Context, f pool.GroupFilter) ([]pool.GroupInfo, error) {
	var filters []astypes.Filter
	for _, k := range slices.Sorted(maps.Keys(f.Tags)) {
		filters = append(filters, astypes.Filter{Name: sdkaws.String("tag:" + k), Values: []string{f.Tags[k]}})
	}
	for _, k := range f.TagKeys {
		filters = append(filters, astypes.Filter{Name: sdkaws.String("tag-key"), Values: []string{k}})
	}
	groups, err := p.describeGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: f.Names, Filters: filters})
	if err != nil {
		return nil, err
	}
	out := make([]pool.GroupInfo, 0, len(groups))
	for _, g := range groups {
		out = append(out, groupInfo(g))
	}
	return out, nil
}

func groupInfo(g astypes.AutoScalingGroup) pool.GroupInfo {
	info := pool.GroupInfo{
		Name:      sdkaws.ToString(g.AutoScalingGroupName),
		MinSize:   sdkaws.ToInt32(g.MinSize),
		MaxSize:   sdkaws.ToInt32(g.MaxSize),
		Desired:   sdkaws.ToInt32(g.DesiredCapacity),
		Instances: len(g.Instances),
		Tags:      tagMap(g.Tags),
	}
	if spec := groupTemplateSpec(g); spec != nil {
		info.LaunchTemplate = sdkaws.ToString(spec.LaunchTemplateName)
		info.LaunchTemplateVersion = sdkaws.ToString(spec.Version)
	}
	if m := g.MixedInstancesPolicy; m != nil && m.LaunchTemplate != nil {
		for _, o := range m.LaunchTemplate.Overrides {
			info.InstanceTypes = append(info.InstanceTypes, sdkaws.ToString(o.InstanceType))
		}
	}
	for _, i := range g.Instances {
		m := pool.Member{ID: sdkaws.ToString(i.InstanceId), InstanceType: sdkaws.ToString(i.InstanceType),
			LifecycleState: string(i.LifecycleState)}
		if lt := i.LaunchTemplate; lt != nil {
			m.Template = &pool.TemplateRef{ID: sdkaws.ToString(lt.LaunchTemplateId), Name: sdkaws.ToString(lt.LaunchTemplateName),
				Version: sdkaws.ToString(lt.Version)}
		}
		info.Members = append(info.Members, m)
	}
	return info
}

// CreateGroup implements pool.CloudWriter. A name that is taken wraps
// pool.ErrExists.
func (p *Provider) CreateGroup(ctx context.Context, g pool.Group) error {
	in := &autoscaling.CreateAutoScalingGroupInput{
		AutoScalingGroupName: sdkaws.String(g.Name),
		MinSize:              sdkaws.Int32(g.MinSize),
		MaxSize:              sdkaws.Int32(g.MaxSize),
		DesiredCapacity:      sdkaws.Int32(g.DesiredCapacity),
		VPCZoneIdentifier:    sdkaws.String(strings.Join(g.Subnets, ",")),
	}
	lt := latestTemplate(g.LaunchTemplate)
	if g.Mixed != nil {
		onDemandPct := int32(100)
		if g.Mixed.Spot {
			onDemandPct = 0
		}
		in.MixedInstancesPolicy = &astypes.MixedInstancesPolicy{
			LaunchTemplate: &astypes.LaunchTemplate{LaunchTemplateSpecification: lt, Overrides: overrides(g.Mixed.InstanceTypes)},
			InstancesDistribution: &astypes.InstancesDistribution{
				OnDemandBaseCapacity:                sdkaws.Int32(0),
				OnDemandPercentageAboveBaseCapacity: sdkaws.Int32(onDemandPct),
				SpotAllocationStrategy:              sdkaws.String("price-capacity-optimized"),
			},
		}
	} else {
		in.LaunchTemplate = lt
	}
	for _, t := range g.Tags {
		in.Tags = append(in.Tags, astypes.Tag{
			Key: sdkaws.String(t.Key), Value: sdkaws.String(t.Value), PropagateAtLaunch: sdkaws.Bool(t.Propagate),
			ResourceId: sdkaws.String(g.Name), ResourceType: sdkaws.String("auto-scaling-group"),
		})
	}
	_, err := call(ctx, p, "CreateAutoScalingGroup", func(ctx context.Context) (*autoscaling.CreateAutoScalingGroupOutput, error) {
		return p.as.CreateAutoScalingGroup(ctx, in)
	})
	return err
}

func latestTemplate(name string) *astypes.LaunchTemplateSpecification {
	return &astypes.LaunchTemplateSpecification{LaunchTemplateName: sdkaws.String(name), Version: sdkaws.String("$Latest")}
}

func overrides(types []string) []astypes.LaunchTemplateOverrides {
	out := make([]astypes.LaunchTemplateOverrides, 0, len(types))
	for _, t := range types {
		out = append(out, astypes.LaunchTemplateOverrides{InstanceType: sdkaws.String(t)})
	}
	return out
}

// UpdateGroup implements pool.CloudWriter.
func (p *Provider) UpdateGroup(ctx context.Context, c pool.GroupChange) error {
	in := &autoscaling.UpdateAutoScalingGroupInput{AutoScalingGroupName: sdkaws.String(c.Name), MinSize: c.MinSize, MaxSize: c.MaxSize,
		DesiredCapacity: c.Desired}
	if len(c.InstanceTypes) > 0 {
		in.MixedInstancesPolicy = &astypes.MixedInstancesPolicy{LaunchTemplate: &astypes.LaunchTemplate{
			LaunchTemplateSpecification: latestTemplate(c.LaunchTemplate), Overrides: overrides(c.InstanceTypes),
		}}
	}
	_, err := call(ctx, p, "UpdateAutoScalingGroup", func(ctx context.Context) (*autoscaling.UpdateAutoScalingGroupOutput, error) {
		return p.as.UpdateAutoScalingGroup(ctx, in)
	})
	return err
}

// DeleteGroup implements pool.CloudWriter.
func (p *Provider) DeleteGroup(ctx context.Context, name string, force bool) error {
	_, err := call(ctx, p, "DeleteAutoScalingGroup", func(ctx context.Context) (*autoscaling.DeleteAutoScalingGroupOutput, error) {
		return p.as.DeleteAutoScalingGroup(ctx, &autoscaling.DeleteAutoScalingGroupInput{
			AutoScalingGroupName: sdkaws.String(name), ForceDelete: sdkaws.Bool(force)})
	})
	return err
}

// CheckImage implements pool.CloudReader.
func (p *Provider) CheckImage(ctx context.Context, imageID string) error {
	out, err := call(ctx, p, "DescribeImages", func(ctx context.Context) (*ec2.DescribeImagesOutput, error) {
		return p.ec2.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{imageID}})
	})
	if err != nil {
		return err
	}
	if len(out.Images) == 0 {
		return fmt.Errorf("image %s: %w", imageID, cloud.ErrNotFound)
	}
	return nil
}

// LocalNodeImage is the name of the local cloud's node image.
const LocalNodeImage = "kelp-local-node"

// FindOwnImage returns the id of the account's own image of that name
// ("" when there is none): on kelp's local cloud, LocalNodeImage is there
// from the start, so commands can default to it.
func FindOwnImage(ctx context.Context, cfg sdkaws.Config, name string) (string, error) {
	out, err := ec2.NewFromConfig(cfg).DescribeImages(ctx, &ec2.DescribeImagesInput{Owners: []string{"self"},
		Filters: []ec2types.Filter{{Name: sdkaws.String("name"), Values: []string{name}}}})
	if err != nil {
		return "", fmt.Errorf("describe images named %s: %w", name, classify(err))
	}
	for _, img := range out.Images {
		if sdkaws.ToString(img.Name) == name {
			return sdkaws.ToString(img.ImageId), nil
		}
	}
	return "", nil
}

// DefaultSubnets implements pool.CloudReader.
func (p *Provider) DefaultSubnets(ctx context.Context) ([]string, error) {
	in := &ec2.DescribeSubnetsInput{Filters: []ec2types.Filter{{Name: sdkaws.String("default-for-az"), Values: []string{"true"}}}}
	var ids []string
	for {
		page, err := call(ctx, p, "DescribeSubnets", func(ctx context.Context) (*ec2.DescribeSubnetsOutput, error) {
			return p.ec2.DescribeSubnets(ctx, in)
		})
		if err != nil {
			return nil, err
		}
		for _, s := range page.Subnets {
			ids = append(ids, sdkaws.ToString(s.SubnetId))
		}
		if sdkaws.ToString(page.NextToken) == "" {
			return ids, nil
		}
		next := *in
		next.NextToken = page.NextToken
		in = &next
	}
}
