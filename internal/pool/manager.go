package pool

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"

	"github.com/kelp-dev/kelp/internal/catalog"
)

// EC2API is the part of the EC2 client pools use.
type EC2API interface {
	CreateLaunchTemplate(context.Context, *ec2.CreateLaunchTemplateInput, ...func(*ec2.Options)) (*ec2.CreateLaunchTemplateOutput, error)
	DescribeLaunchTemplates(context.Context, *ec2.DescribeLaunchTemplatesInput, ...func(*ec2.Options)) (*ec2.DescribeLaunchTemplatesOutput, error)
	DeleteLaunchTemplate(context.Context, *ec2.DeleteLaunchTemplateInput, ...func(*ec2.Options)) (*ec2.DeleteLaunchTemplateOutput, error)
	DescribeSubnets(context.Context, *ec2.DescribeSubnetsInput, ...func(*ec2.Options)) (*ec2.DescribeSubnetsOutput, error)
	DescribeImages(context.Context, *ec2.DescribeImagesInput, ...func(*ec2.Options)) (*ec2.DescribeImagesOutput, error)
	CreateLaunchTemplateVersion(context.Context, *ec2.CreateLaunchTemplateVersionInput, ...func(*ec2.Options)) (*ec2.CreateLaunchTemplateVersionOutput, error)
	DescribeLaunchTemplateVersions(context.Context, *ec2.DescribeLaunchTemplateVersionsInput, ...func(*ec2.Options)) (*ec2.DescribeLaunchTemplateVersionsOutput, error)
}

// AutoScalingAPI is the part of the Auto Scaling client pools use.
type AutoScalingAPI interface {
	CreateAutoScalingGroup(context.Context, *autoscaling.CreateAutoScalingGroupInput, ...func(*autoscaling.Options)) (*autoscaling.CreateAutoScalingGroupOutput, error)
	DescribeAutoScalingGroups(context.Context, *autoscaling.DescribeAutoScalingGroupsInput, ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingGroupsOutput, error)
	DeleteAutoScalingGroup(context.Context, *autoscaling.DeleteAutoScalingGroupInput, ...func(*autoscaling.Options)) (*autoscaling.DeleteAutoScalingGroupOutput, error)
	SetDesiredCapacity(context.Context, *autoscaling.SetDesiredCapacityInput, ...func(*autoscaling.Options)) (*autoscaling.SetDesiredCapacityOutput, error)
	UpdateAutoScalingGroup(context.Context, *autoscaling.UpdateAutoScalingGroupInput, ...func(*autoscaling.Options)) (*autoscaling.UpdateAutoScalingGroupOutput, error)
}

var (
	_ EC2API         = (*ec2.Client)(nil)
	_ AutoScalingAPI = (*autoscaling.Client)(nil)
)

// ErrExists is wrapped when a pool's group already exists.
var ErrExists = errors.New("pool already exists")

// ErrNotFound is wrapped when no group carries the pool's tag.
var ErrNotFound = errors.New("pool not found")

// ErrImageNotFound is wrapped when a pool's AMI does not exist.
var ErrImageNotFound = errors.New("image not found")

// Manager creates, lists and deletes the pools of one cluster.
type Manager struct {
	EC2         EC2API
	AutoScaling AutoScalingAPI
	Cluster     string
	// CallTimeout bounds every API call; default 30 seconds.
	CallTimeout time.Duration
}

// Pool is a pool as the cloud reports it.
type Pool struct {
	Name           string
	GroupName      string
	LaunchTemplate string
	InstanceTypes  []string
	CapacityType   catalog.CapacityType
	MinSize        int32
	MaxSize        int32
	Desired        int32
	Instances      int
}

func (m *Manager) call(ctx context.Context) (context.Context, context.CancelFunc) {
	d := m.CallTimeout
	if d == 0 {
		d = 30 * time.Second
	}
	return context.WithTimeout(ctx, d)
}

// Create makes the pool's launch template (with userData, raw bytes) and
// its Auto Scaling group. A pool that exists is ErrExists. When the group
// cannot be created, the launch template made here is deleted again, so a
// failure leaves nothing behind.
func (m *Manager) Create(ctx context.Context, spec Spec, userData []byte) (Pool, error) {
	if err := spec.Validate(); err != nil {
		return Pool{}, fmt.Errorf("invalid pool: %w", err)
	}
	if spec.ImageID == "" {
		return Pool{}, fmt.Errorf("invalid pool: %s: imageID is required", spec.Name)
	}
	name := GroupName(m.Cluster, spec.Name)
	if _, err := m.Get(ctx, spec.Name); err == nil {
		return Pool{}, fmt.Errorf("create pool %s: group %s: %w", spec.Name, name, ErrExists)
	} else if !errors.Is(err, ErrNotFound) {
		return Pool{}, fmt.Errorf("create pool %s: %w", spec.Name, err)
	}
	if err := m.CheckImage(ctx, spec.ImageID); err != nil {
		return Pool{}, fmt.Errorf("create pool %s: %w", spec.Name, err)
	}
	subnets := spec.Subnets
	if len(subnets) == 0 {
		var err error
		if subnets, err = m.defaultSubnets(ctx); err != nil {
			return Pool{}, fmt.Errorf("create pool %s: %w", spec.Name, err)
		}
	}
	created, err := m.ensureLaunchTemplate(ctx, name, spec, userData)
	if err != nil {
		return Pool{}, fmt.Errorf("create pool %s: %w", spec.Name, err)
	}
	cctx, cancel := m.call(ctx)
	defer cancel()
	_, err = m.AutoScaling.CreateAutoScalingGroup(cctx, groupInput(m.Cluster, name, spec, subnets))
	if isCode(err, "AlreadyExists") {
		// Auto Scaling has no client token: an SDK retry of a create that
		// went through reports AlreadyExists. Ours, with our tags, is fine.
		if p, gerr := m.Get(ctx, spec.Name); gerr == nil && p.GroupName == name {
			return p, nil
		}
	}
	if err != nil {
		err = fmt.Errorf("create pool %s: create auto scaling group %s: %w", spec.Name, name, err)
		if created {
			if derr := m.deleteLaunchTemplate(ctx, name); derr != nil {
				err = errors.Join(err, fmt.Errorf("roll back launch template: %w", derr))
			}
		}
		return Pool{}, err
	}
	return m.Get(ctx, spec.Name)
}

// ensureLaunchTemplate creates the template, or reuses one of the same
// name that kelp made for this pool (left behind by an interrupted
// create). created reports whether it was made now.
func (m *Manager) ensureLaunchTemplate(ctx context.Context, name string, spec Spec, userData []byte) (created bool, err error) {
	cctx, cancel := m.call(ctx)
	defer cancel()
	out, err := m.EC2.DescribeLaunchTemplates(cctx, &ec2.DescribeLaunchTemplatesInput{LaunchTemplateNames: []string{name}})
	if err == nil && len(out.LaunchTemplates) == 1 {
		for _, t := range out.LaunchTemplates[0].Tags {
			if aws.ToString(t.Key) == PoolTag && aws.ToString(t.Value) == spec.Name {
				return false, nil
			}
		}
		return false, fmt.Errorf("launch template %s exists and is not kelp's for pool %s", name, spec.Name)
	}
	if err != nil && !isCode(err, "InvalidLaunchTemplateName.NotFoundException") {
		return false, fmt.Errorf("describe launch template %s: %w", name, err)
	}
	data := &ec2types.RequestLaunchTemplateData{
		ImageId:      aws.String(spec.ImageID),
		InstanceType: ec2types.InstanceType(spec.InstanceTypes[0]),
		UserData:     aws.String(base64.StdEncoding.EncodeToString(userData)),
	}
	if len(spec.SecurityGroupIDs) > 0 {
		data.SecurityGroupIds = spec.SecurityGroupIDs
	}
	if spec.KeyName != "" {
		data.KeyName = aws.String(spec.KeyName)
	}
	if spec.capacityType() == catalog.CapacityTypeSpot && len(spec.InstanceTypes) == 1 {
		data.InstanceMarketOptions = &ec2types.LaunchTemplateInstanceMarketOptionsRequest{MarketType: ec2types.MarketTypeSpot}
	}
	_, err = m.EC2.CreateLaunchTemplate(cctx, &ec2.CreateLaunchTemplateInput{
		LaunchTemplateName: aws.String(name),
		LaunchTemplateData: data,
		TagSpecifications: []ec2types.TagSpecification{{
			ResourceType: ec2types.ResourceTypeLaunchTemplate,
			Tags: []ec2types.Tag{
				{Key: aws.String(ClusterTagPrefix + m.Cluster), Value: aws.String(ownedValue)},
				{Key: aws.String(PoolTag), Value: aws.String(spec.Name)},
			},
		}},
	})
	if err != nil {
		return false, fmt.Errorf("create launch template %s: %w", name, err)
	}
	return true, nil
}

func groupInput(cluster, name string, spec Spec, subnets []string) *autoscaling.CreateAutoScalingGroupInput {
	desired := spec.MinSize
	if spec.DesiredCapacity != nil {
		desired = *spec.DesiredCapacity
	}
	in := &autoscaling.CreateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String(name),
		MinSize:              aws.Int32(spec.MinSize),
		MaxSize:              aws.Int32(spec.MaxSize),
		DesiredCapacity:      aws.Int32(desired),
		VPCZoneIdentifier:    aws.String(strings.Join(subnets, ",")),
	}
	lt := &astypes.LaunchTemplateSpecification{LaunchTemplateName: aws.String(name), Version: aws.String("$Latest")}
	if len(spec.InstanceTypes) > 1 {
		onDemandPct := int32(100)
		if spec.capacityType() == catalog.CapacityTypeSpot {
			onDemandPct = 0
		}
		overrides := make([]astypes.LaunchTemplateOverrides, 0, len(spec.InstanceTypes))
		for _, t := range spec.InstanceTypes {
			overrides = append(overrides, astypes.LaunchTemplateOverrides{InstanceType: aws.String(t)})
		}
		in.MixedInstancesPolicy = &astypes.MixedInstancesPolicy{
			LaunchTemplate: &astypes.LaunchTemplate{LaunchTemplateSpecification: lt, Overrides: overrides},
			InstancesDistribution: &astypes.InstancesDistribution{
				OnDemandBaseCapacity:                aws.Int32(0),
				OnDemandPercentageAboveBaseCapacity: aws.Int32(onDemandPct),
				SpotAllocationStrategy:              aws.String("price-capacity-optimized"),
			},
		}
	} else {
		in.LaunchTemplate = lt
	}
	for _, t := range GroupTags(cluster, spec) {
		in.Tags = append(in.Tags, astypes.Tag{
			Key: aws.String(t.Key), Value: aws.String(t.Value), PropagateAtLaunch: aws.Bool(t.Propagate),
			ResourceId: aws.String(name), ResourceType: aws.String("auto-scaling-group"),
		})
	}
	return in
}

// CheckImage makes sure the AMI exists before anything is created.
func (m *Manager) CheckImage(ctx context.Context, imageID string) error {
	cctx, cancel := m.call(ctx)
	defer cancel()
	out, err := m.EC2.DescribeImages(cctx, &ec2.DescribeImagesInput{ImageIds: []string{imageID}})
	if isCode(err, "InvalidAMIID.NotFound") || (err == nil && len(out.Images) == 0) {
		return fmt.Errorf("image %s: %w", imageID, ErrImageNotFound)
	}
	if err != nil {
		return fmt.Errorf("describe image %s: %w", imageID, err)
	}
	return nil
}

// defaultSubnets returns the region's default subnets, one per zone.
func (m *Manager) defaultSubnets(ctx context.Context) ([]string, error) {
	cctx, cancel := m.call(ctx)
	defer cancel()
	out, err := m.EC2.DescribeSubnets(cctx, &ec2.DescribeSubnetsInput{
		Filters: []ec2types.Filter{{Name: aws.String("default-for-az"), Values: []string{"true"}}},
	})
	if err != nil {
		return nil, fmt.Errorf("describe default subnets: %w", err)
	}
	var ids []string
	for _, s := range out.Subnets {
		ids = append(ids, aws.ToString(s.SubnetId))
	}
	if len(ids) == 0 {
		return nil, errors.New("no default subnets: give the pool's subnets")
	}
	return ids, nil
}

func (m *Manager) deleteLaunchTemplate(ctx context.Context, name string) error {
	cctx, cancel := m.call(ctx)
	defer cancel()
	_, err := m.EC2.DeleteLaunchTemplate(cctx, &ec2.DeleteLaunchTemplateInput{LaunchTemplateName: aws.String(name)})
	if err != nil && !isCode(err, "InvalidLaunchTemplateName.NotFoundException") {
		return fmt.Errorf("delete launch template %s: %w", name, err)
	}
	return nil
}

func isCode(err error, code string) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == code
}
