package aws

import (
	"context"
	"fmt"
	"slices"
	"strings"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// vpcCache maps subnets to their VPC. A subnet never moves to another VPC,
// so entries live as long as the provider. Only Refresh uses it (under
// refreshMu).
type vpcCache struct {
	subnets    map[string]string // subnet id → VPC id
	defaultVPC string            // the VPC of the region's default subnets, once known
}

// groupVPCs returns the VPCs the groups launch into, sorted: those of the
// subnets of their VPCZoneIdentifier, and for a group without subnets
// (created with Availability Zones only) the VPC of the region's default
// subnets, where AWS launches it. Unknown subnets are described
// (DescribeSubnets); a subnet EC2 no longer knows is left out.
func (p *Provider) groupVPCs(ctx context.Context, groups []astypes.AutoScalingGroup) ([]string, error) {
	if p.vpcCache.subnets == nil {
		p.vpcCache.subnets = map[string]string{}
	}
	var subnets, unknown []string
	needDefault := false
	for _, g := range groups {
		ids := groupSubnets(g)
		needDefault = needDefault || len(ids) == 0
		for _, id := range ids {
			subnets = append(subnets, id)
			if _, ok := p.vpcCache.subnets[id]; !ok && !slices.Contains(unknown, id) {
				unknown = append(unknown, id)
			}
		}
	}
	for chunk := range slices.Chunk(unknown, maxIDsPerFilter) {
		described, err := p.describeSubnets(ctx, ec2types.Filter{Name: sdkaws.String("subnet-id"), Values: chunk})
		if err != nil {
			return nil, fmt.Errorf("describe the groups' subnets: %w", err)
		}
		for _, s := range described {
			p.vpcCache.subnets[sdkaws.ToString(s.SubnetId)] = sdkaws.ToString(s.VpcId)
		}
	}
	var vpcs []string
	for _, id := range subnets {
		if vpc := p.vpcCache.subnets[id]; vpc != "" {
			vpcs = append(vpcs, vpc)
		} else {
			p.log.Warn("subnet of a managed group not found; its instances are not looked up by name", "subnet", id)
		}
	}
	if needDefault {
		vpc, err := p.defaultVPC(ctx)
		if err != nil {
			return nil, err
		}
		if vpc != "" {
			vpcs = append(vpcs, vpc)
		}
	}
	slices.Sort(vpcs)
	return slices.Compact(vpcs), nil
}

// defaultVPC returns the VPC of the region's default subnets ("" when the
// region has none), described once.
func (p *Provider) defaultVPC(ctx context.Context) (string, error) {
	if p.vpcCache.defaultVPC != "" {
		return p.vpcCache.defaultVPC, nil
	}
	described, err := p.describeSubnets(ctx, ec2types.Filter{Name: sdkaws.String("default-for-az"), Values: []string{"true"}})
	if err != nil {
		return "", fmt.Errorf("describe the default subnets: %w", err)
	}
	for _, s := range described {
		p.vpcCache.subnets[sdkaws.ToString(s.SubnetId)] = sdkaws.ToString(s.VpcId)
		p.vpcCache.defaultVPC = sdkaws.ToString(s.VpcId)
	}
	if p.vpcCache.defaultVPC == "" {
		p.log.Warn("a managed group has no subnets and the region has no default subnets; its instances are not looked up by name")
	}
	return p.vpcCache.defaultVPC, nil
}

// describeSubnets pages through DescribeSubnets with one filter.
func (p *Provider) describeSubnets(ctx context.Context, f ec2types.Filter) ([]ec2types.Subnet, error) {
	in := &ec2.DescribeSubnetsInput{Filters: []ec2types.Filter{f}, MaxResults: sdkaws.Int32(1000)}
	var out []ec2types.Subnet
	for {
		page, err := call(ctx, p, "DescribeSubnets", func(ctx context.Context) (*ec2.DescribeSubnetsOutput, error) {
			return p.ec2.DescribeSubnets(ctx, in)
		})
		if err != nil {
			return nil, err
		}
		out = append(out, page.Subnets...)
		if sdkaws.ToString(page.NextToken) == "" {
			return out, nil
		}
		next := *in
		next.NextToken = page.NextToken
		in = &next
	}
}

// groupSubnets returns the subnets of a group's VPCZoneIdentifier.
func groupSubnets(g astypes.AutoScalingGroup) []string {
	var out []string
	for _, s := range strings.Split(sdkaws.ToString(g.VPCZoneIdentifier), ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// lookupVPCs returns the managed groups' VPCs, refreshing once when the
// provider never refreshed.
func (p *Provider) lookupVPCs(ctx context.Context) ([]string, error) {
	if err := p.ensureRefreshed(ctx); err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.vpcs), nil
}
