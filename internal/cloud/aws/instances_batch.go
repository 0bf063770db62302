package aws

import (
	"context"
	"fmt"
	"slices"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/kelp-dev/kelp/internal/cloud"
)

// maxFilterValues bounds the values of one DescribeInstances filter.
const maxFilterValues = 200

// InstancesByPrivateDNSNames is InstanceByPrivateDNSName for many names
// at once, for a caller that coalesces lookups: it returns, for each name
// that has any, the instances that are not terminated and have exactly
// that name, sorted by ID; a name without one is absent. Cached answers
// are served from the cache; the others cost one DescribeInstances (and
// its pages) per 200 names and one DescribeAutoScalingInstances per 50
// instances found, instead of one of each per name. Only the VPCs of the
// managed groups are searched, as by InstanceByPrivateDNSName. An error
// is every name's: nothing is returned with it.
func (p *Provider) InstancesByPrivateDNSNames(ctx context.Context, names []string) (map[string][]cloud.Instance, error) {
	out := make(map[string][]cloud.Instance, len(names))
	var missing []string
	asked := make(map[string]bool, len(names))
	for _, name := range names {
		if asked[name] {
			continue
		}
		asked[name] = true
		if insts, ok := p.instances.byDNS(name); ok {
			out[name] = insts
			continue
		}
		missing = append(missing, name)
	}
	if len(missing) == 0 {
		return out, nil
	}
	vpcs, err := p.lookupVPCs(ctx)
	if err != nil {
		return nil, fmt.Errorf("instances with %d private dns names: %w", len(missing), err)
	}
	if len(vpcs) == 0 {
		return out, nil // no managed group, so no VPC to search: none found
	}
	for chunk := range slices.Chunk(missing, maxFilterValues) {
		insts, err := p.describeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{
			{Name: sdkaws.String("private-dns-name"), Values: chunk},
			{Name: sdkaws.String("vpc-id"), Values: vpcs},
		}})
		if err != nil {
			return nil, fmt.Errorf("describe instances with %d private dns names: %w", len(chunk), err)
		}
		insts = slices.DeleteFunc(insts, func(inst cloud.Instance) bool {
			return inst.State == cloud.InstanceStateTerminated || !slices.Contains(chunk, inst.PrivateDNSName)
		})
		p.instances.putIDs(insts)
		for _, name := range chunk {
			var named []cloud.Instance
			for _, inst := range insts { // sorted by ID
				if inst.PrivateDNSName == name {
					named = append(named, inst.Clone())
				}
			}
			p.instances.putDNS(name, named)
			if len(named) > 0 {
				out[name] = named
			}
		}
	}
	return out, nil
}
