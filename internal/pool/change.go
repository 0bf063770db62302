package pool

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/kelp-dev/kelp/internal/catalog"
)

// ErrOutOfRange is wrapped when a desired capacity is outside the pool's
// min and max.
var ErrOutOfRange = errors.New("outside the pool's size range")

// Scale sets the pool's desired capacity (the seed's "change the instance
// count"). A value outside [min, max] is refused before any call.
func (m *Manager) Scale(ctx context.Context, name string, desired int32) (Pool, error) {
	p, err := m.Get(ctx, name)
	if err != nil {
		return Pool{}, fmt.Errorf("scale pool: %w", err)
	}
	if desired < p.MinSize || desired > p.MaxSize {
		return Pool{}, fmt.Errorf("scale pool %s to %d: %w [%d, %d]", name, desired, ErrOutOfRange, p.MinSize, p.MaxSize)
	}
	cctx, cancel := m.call(ctx)
	defer cancel()
	if _, err := m.AutoScaling.SetDesiredCapacity(cctx, &autoscaling.SetDesiredCapacityInput{
		AutoScalingGroupName: aws.String(p.GroupName), DesiredCapacity: aws.Int32(desired), HonorCooldown: aws.Bool(false),
	}); err != nil {
		return Pool{}, fmt.Errorf("scale pool %s: set desired capacity of %s: %w", name, p.GroupName, err)
	}
	return m.Get(ctx, name)
}

// Update changes what new instances of a pool are launched with. Zero
// fields keep their current value.
type Update struct {
	ImageID       string
	InstanceTypes []string
	// UserData is raw (the caller renders it); nil keeps the current.
	UserData []byte
	MinSize  *int32
	MaxSize  *int32
}

// validate checks an update against the pool it applies to.
func (u Update) validate(p Pool) error {
	var errs []error
	if u.ImageID != "" && !amiIDRE.MatchString(u.ImageID) {
		errs = append(errs, fmt.Errorf("imageID %q: want ami- followed by 8 or 17 hex digits", u.ImageID))
	}
	for _, t := range u.InstanceTypes {
		if _, err := catalog.Lookup(t); err != nil {
			errs = append(errs, fmt.Errorf("instanceTypes: %w", err))
		}
	}
	lo, hi := p.MinSize, p.MaxSize
	if u.MinSize != nil {
		lo = *u.MinSize
	}
	if u.MaxSize != nil {
		hi = *u.MaxSize
	}
	if lo < 0 || lo > hi {
		errs = append(errs, fmt.Errorf("minSize %d and maxSize %d: want 0 <= min <= max", lo, hi))
	}
	return errors.Join(errs...)
}

// Update writes a new launch template version with the new image, type or
// user-data (the group launches $Latest, so new instances use it; running
// ones keep theirs), and updates the group's sizes and mixed-instance
// types.
func (m *Manager) Update(ctx context.Context, name string, u Update) (Pool, error) {
	p, err := m.Get(ctx, name)
	if err != nil {
		return Pool{}, fmt.Errorf("update pool: %w", err)
	}
	if err := u.validate(p); err != nil {
		return Pool{}, fmt.Errorf("update pool %s: %w", name, err)
	}
	if u.ImageID != "" {
		if err := m.CheckImage(ctx, u.ImageID); err != nil {
			return Pool{}, fmt.Errorf("update pool %s: %w", name, err)
		}
	}
	mixed := len(p.InstanceTypes) > 0
	if err := m.newTemplateVersion(ctx, p, u, mixed); err != nil {
		return Pool{}, fmt.Errorf("update pool %s: %w", name, err)
	}
	in := &autoscaling.UpdateAutoScalingGroupInput{AutoScalingGroupName: aws.String(p.GroupName), MinSize: u.MinSize, MaxSize: u.MaxSize}
	if mixed && len(u.InstanceTypes) > 0 {
		overrides := make([]astypes.LaunchTemplateOverrides, 0, len(u.InstanceTypes))
		for _, t := range u.InstanceTypes {
			overrides = append(overrides, astypes.LaunchTemplateOverrides{InstanceType: aws.String(t)})
		}
		in.MixedInstancesPolicy = &astypes.MixedInstancesPolicy{LaunchTemplate: &astypes.LaunchTemplate{
			LaunchTemplateSpecification: &astypes.LaunchTemplateSpecification{LaunchTemplateName: aws.String(p.LaunchTemplate), Version: aws.String("$Latest")},
			Overrides:                   overrides,
		}}
	}
	if in.MinSize != nil || in.MaxSize != nil || in.MixedInstancesPolicy != nil {
		cctx, cancel := m.call(ctx)
		defer cancel()
		if _, err := m.AutoScaling.UpdateAutoScalingGroup(cctx, in); err != nil {
			return Pool{}, fmt.Errorf("update pool %s: update auto scaling group %s: %w", name, p.GroupName, err)
		}
	}
	return m.Get(ctx, name)
}

func (m *Manager) newTemplateVersion(ctx context.Context, p Pool, u Update, mixed bool) error {
	data := &ec2types.RequestLaunchTemplateData{}
	changed := false
	if u.ImageID != "" {
		data.ImageId, changed = aws.String(u.ImageID), true
	}
	if u.UserData != nil {
		data.UserData, changed = aws.String(base64.StdEncoding.EncodeToString(u.UserData)), true
	}
	if len(u.InstanceTypes) > 0 && !mixed {
		if len(u.InstanceTypes) > 1 {
			return errors.New("instanceTypes: a single-type pool takes one type")
		}
		data.InstanceType, changed = ec2types.InstanceType(u.InstanceTypes[0]), true
	}
	if !changed {
		return nil
	}
	cctx, cancel := m.call(ctx)
	defer cancel()
	_, err := m.EC2.CreateLaunchTemplateVersion(cctx, &ec2.CreateLaunchTemplateVersionInput{
		LaunchTemplateName: aws.String(p.LaunchTemplate), SourceVersion: aws.String("$Latest"), LaunchTemplateData: data,
	})
	if err != nil {
		return fmt.Errorf("create launch template version of %s: %w", p.LaunchTemplate, err)
	}
	return nil
}

// UserData returns the raw user-data of the pool's latest launch template
// version: what the next instance boots with.
func (m *Manager) UserData(ctx context.Context, name string) ([]byte, error) {
	p, err := m.Get(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("read user-data: %w", err)
	}
	cctx, cancel := m.call(ctx)
	defer cancel()
	out, err := m.EC2.DescribeLaunchTemplateVersions(cctx, &ec2.DescribeLaunchTemplateVersionsInput{
		LaunchTemplateName: aws.String(p.LaunchTemplate), Versions: []string{"$Latest"},
	})
	if err != nil {
		return nil, fmt.Errorf("read user-data of pool %s: describe launch template %s: %w", name, p.LaunchTemplate, err)
	}
	if len(out.LaunchTemplateVersions) != 1 || out.LaunchTemplateVersions[0].LaunchTemplateData == nil {
		return nil, fmt.Errorf("read user-data of pool %s: launch template %s has no latest version", name, p.LaunchTemplate)
	}
	data, err := base64.StdEncoding.DecodeString(aws.ToString(out.LaunchTemplateVersions[0].LaunchTemplateData.UserData))
	if err != nil {
		return nil, fmt.Errorf("read user-data of pool %s: not base64: %w", name, err)
	}
	return data, nil
}
