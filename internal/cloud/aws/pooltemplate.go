package aws

import (
	"errors"
	"fmt"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/kelp-dev/kelp/internal/catalog"
	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/pool"
)

// PoolTemplate returns the node template the group of pool s would report
// before any of its nodes exists, without calling AWS: the group the pool
// provisioner creates (its tags from pool.GroupTags, its instance types,
// in zones) goes through the same template builder as a live group's,
// with the catalog's types and prices. `kelp simulate` plans with it.
func PoolTemplate(cluster, region string, zones []string, s pool.Spec) (cloud.NodeTemplate, error) {
	g := astypes.AutoScalingGroup{AutoScalingGroupName: sdkaws.String(pool.GroupName(cluster, s.Name)), AvailabilityZones: zones}
	for _, t := range pool.GroupTags(cluster, s) {
		g.Tags = append(g.Tags, astypes.TagDescription{Key: sdkaws.String(t.Key), Value: sdkaws.String(t.Value)})
	}
	data := &ec2types.ResponseLaunchTemplateData{}
	if len(s.InstanceTypes) > 0 {
		data.InstanceType = ec2types.InstanceType(s.InstanceTypes[0])
	}
	if len(s.InstanceTypes) > 1 {
		g.MixedInstancesPolicy = &astypes.MixedInstancesPolicy{LaunchTemplate: &astypes.LaunchTemplate{Overrides: overrides(s.InstanceTypes)}}
	}
	types := map[string]catalog.InstanceType{}
	var errs []error
	for _, n := range s.InstanceTypes {
		it, err := catalog.Lookup(n)
		if err != nil {
			errs = append(errs, fmt.Errorf("pool %s: instance type %s: %w", s.Name, n, err))
			continue
		}
		types[n] = it
	}
	t, problems := buildTemplate(templateInput{Group: g, Region: region, LaunchData: data, Types: types})
	if err := errors.Join(append(errs, problems...)...); err != nil {
		return t, fmt.Errorf("pool %s template: %w", s.Name, err)
	}
	return t, nil
}
