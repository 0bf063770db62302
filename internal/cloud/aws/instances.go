package aws

import (
	"context"
	"fmt"
	"slices"
	"strings"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/kelp-dev/kelp/internal/catalog"
	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/pool"
)

// groupNameTag is the tag Auto Scaling puts on the instances it launches.
const groupNameTag = "aws:autoscaling:groupName"

// InstanceByID implements cloud.InstanceFinder.
func (p *Provider) InstanceByID(ctx context.Context, id string) (cloud.Instance, error) {
	if inst, ok := p.instances.byID(id); ok {
		return inst, nil
	}
	insts, err := p.describeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	if err != nil {
		return cloud.Instance{}, fmt.Errorf("describe instance %s: %w", id, err)
	}
	i := slices.IndexFunc(insts, func(inst cloud.Instance) bool { return inst.ID == id })
	if i < 0 {
		return cloud.Instance{}, fmt.Errorf("describe instance %s: %w", id, cloud.ErrNotFound)
	}
	p.instances.putIDs(insts)
	return insts[i], nil
}

// InstanceForNode implements cloud.InstanceFinder.
func (p *Provider) InstanceForNode(ctx context.Context, providerID string) (cloud.Instance, error) {
	zone, id, err := cloud.ParseProviderID(providerID)
	if err != nil {
		return cloud.Instance{}, err
	}
	inst, err := p.InstanceByID(ctx, id)
	if err != nil {
		return cloud.Instance{}, fmt.Errorf("instance for node %s: %w", providerID, err)
	}
	if zone != "" && inst.AvailabilityZone != zone {
		return cloud.Instance{}, fmt.Errorf("instance for node %s: instance %s is in zone %s: %w",
			providerID, id, inst.AvailabilityZone, cloud.ErrNotFound)
	}
	return inst, nil
}

// InstanceByPrivateDNSName implements cloud.InstanceFinder. Only the
// VPCs of the managed groups' subnets are searched (learnt by Refresh,
// which runs first if it never ran): private DNS names repeat across VPCs
// of an account, and another VPC's instance is never one of the cluster's.
// With no managed group there is no VPC to search: the answer is
// cloud.ErrNotFound, without a call.
func (p *Provider) InstanceByPrivateDNSName(ctx context.Context, name string) ([]cloud.Instance, error) {
	if insts, ok := p.instances.byDNS(name); ok {
		return insts, nil
	}
	vpcs, err := p.lookupVPCs(ctx)
	if err != nil {
		return nil, fmt.Errorf("instance with private dns name %s: %w", name, err)
	}
	if len(vpcs) == 0 {
		return nil, fmt.Errorf("instance with private dns name %s: no managed group, so no VPC to search: %w", name, cloud.ErrNotFound)
	}
	insts, err := p.describeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{
		{Name: sdkaws.String("private-dns-name"), Values: []string{name}},
		{Name: sdkaws.String("vpc-id"), Values: vpcs},
	}})
	if err != nil {
		return nil, fmt.Errorf("describe instances with private dns name %s: %w", name, err)
	}
	insts = slices.DeleteFunc(insts, func(inst cloud.Instance) bool {
		return inst.State == cloud.InstanceStateTerminated || inst.PrivateDNSName != name
	})
	p.instances.putIDs(insts)
	p.instances.putDNS(name, insts)
	if len(insts) == 0 {
		return nil, fmt.Errorf("instance with private dns name %s: %w", name, cloud.ErrNotFound)
	}
	return insts, nil
}

// Invalidate implements cloud.InstanceFinder.
func (p *Provider) Invalidate(instanceID string) { p.instances.invalidate(instanceID) }

// InvalidateAll implements cloud.InstanceFinder.
func (p *Provider) InvalidateAll() { p.instances.invalidateAll() }

// describeInstances describes instances (describeEC2Instances) and
// completes the members of groups with their Auto Scaling lifecycle state.
func (p *Provider) describeInstances(ctx context.Context, in *ec2.DescribeInstancesInput) ([]cloud.Instance, error) {
	out, err := p.describeEC2Instances(ctx, in)
	if err != nil {
		return nil, err
	}
	if err := p.addGroupStates(ctx, out); err != nil {
		return nil, err
	}
	return out, nil
}

// describeEC2Instances pages through DescribeInstances; the result, in
// EC2's states, is sorted by ID.
func (p *Provider) describeEC2Instances(ctx context.Context, in *ec2.DescribeInstancesInput) ([]cloud.Instance, error) {
	var out []cloud.Instance
	if len(in.InstanceIds) == 0 {
		in.MaxResults = sdkaws.Int32(1000)
	}
	for {
		page, err := call(ctx, p, "DescribeInstances", func(ctx context.Context) (*ec2.DescribeInstancesOutput, error) {
			return p.ec2.DescribeInstances(ctx, in)
		})
		if err != nil {
			return nil, err
		}
		for _, r := range page.Reservations {
			for _, i := range r.Instances {
				out = append(out, instanceFromEC2(i))
			}
		}
		if sdkaws.ToString(page.NextToken) == "" {
			break
		}
		next := *in
		next.NextToken = page.NextToken
		in = &next
	}
	slices.SortFunc(out, func(a, b cloud.Instance) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// maxASInstanceIDs bounds InstanceIds of DescribeAutoScalingInstances.
const maxASInstanceIDs = 50

// addGroupStates sets the Auto Scaling lifecycle state of the active
// instances tagged with a group: running is not InService. An instance the
// group no longer knows (detached) keeps its EC2 state and loses its group.
func (p *Provider) addGroupStates(ctx context.Context, insts []cloud.Instance) error {
	var ids []string
	for _, inst := range insts {
		if inst.GroupName != "" && inst.State.Active() {
			ids = append(ids, inst.ID)
		}
	}
	lifecycle := map[string][2]string{} // id → {group, lifecycle state}
	for chunk := range slices.Chunk(ids, maxASInstanceIDs) {
		out, err := call(ctx, p, "DescribeAutoScalingInstances", func(ctx context.Context) (*autoscaling.DescribeAutoScalingInstancesOutput, error) {
			return p.as.DescribeAutoScalingInstances(ctx, &autoscaling.DescribeAutoScalingInstancesInput{InstanceIds: chunk})
		})
		if err != nil {
			return fmt.Errorf("describe auto scaling instances: %w", err)
		}
		for _, d := range out.AutoScalingInstances {
			lifecycle[sdkaws.ToString(d.InstanceId)] = [2]string{sdkaws.ToString(d.AutoScalingGroupName), sdkaws.ToString(d.LifecycleState)}
		}
	}
	for i := range insts {
		inst := &insts[i]
		if inst.GroupName == "" || !inst.State.Active() {
			continue
		}
		gl, ok := lifecycle[inst.ID]
		if !ok {
			inst.GroupName = ""
			continue
		}
		inst.GroupName = gl[0]
		inst.State, inst.CloudState = stateFromGroup(gl[1]), gl[1]
	}
	return nil
}

// instanceFromEC2 converts an EC2 instance. State is EC2's; GroupName is the
// aws:autoscaling:groupName tag (addGroupStates checks it).
func instanceFromEC2(i ec2types.Instance) cloud.Instance {
	inst := cloud.Instance{ID: sdkaws.ToString(i.InstanceId), PrivateDNSName: sdkaws.ToString(i.PrivateDnsName),
		InstanceType: string(i.InstanceType), CapacityType: catalog.CapacityTypeOnDemand, ImageID: sdkaws.ToString(i.ImageId),
		LaunchTime: sdkaws.ToTime(i.LaunchTime)}
	if i.Placement != nil {
		inst.AvailabilityZone = sdkaws.ToString(i.Placement.AvailabilityZone)
	}
	inst.ProviderID = cloud.ProviderID(inst.AvailabilityZone, inst.ID)
	if i.InstanceLifecycle == ec2types.InstanceLifecycleTypeSpot {
		inst.CapacityType = catalog.CapacityTypeSpot
	}
	inst.PrivateIPs = privateIPs(i)
	if i.State != nil {
		inst.State, inst.CloudState = stateFromEC2(i.State.Name), string(i.State.Name)
	}
	for _, t := range i.Tags {
		switch sdkaws.ToString(t.Key) {
		case pool.PoolTag:
			inst.Pool = sdkaws.ToString(t.Value)
		case groupNameTag:
			inst.GroupName = sdkaws.ToString(t.Value)
		}
	}
	if r := i.StateReason; r != nil && inst.State != cloud.InstanceStatePending && inst.State != cloud.InstanceStateRunning {
		code := sdkaws.ToString(r.Code)
		if code != "" && code != "Client.UserInitiatedShutdown" {
			inst.Error = &cloud.InstanceError{Code: code, Message: sdkaws.ToString(r.Message)}
		}
	}
	return inst
}

// privateIPs returns the primary private address first, then every other
// one of the network interfaces.
func privateIPs(i ec2types.Instance) []string {
	var ips []string
	add := func(ip string) {
		if ip != "" && !slices.Contains(ips, ip) {
			ips = append(ips, ip)
		}
	}
	add(sdkaws.ToString(i.PrivateIpAddress))
	for _, ni := range i.NetworkInterfaces {
		add(sdkaws.ToString(ni.PrivateIpAddress))
		for _, a := range ni.PrivateIpAddresses {
			add(sdkaws.ToString(a.PrivateIpAddress))
		}
	}
	return ips
}

// stateFromEC2 maps an EC2 instance state.
func stateFromEC2(s ec2types.InstanceStateName) cloud.InstanceState {
	switch s {
	case ec2types.InstanceStateNamePending:
		return cloud.InstanceStatePending
	case ec2types.InstanceStateNameRunning:
		return cloud.InstanceStateRunning
	case ec2types.InstanceStateNameShuttingDown:
		return cloud.InstanceStateTerminating
	case ec2types.InstanceStateNameTerminated:
		return cloud.InstanceStateTerminated
	}
	return cloud.InstanceStateUnknown // stopping, stopped
}

// stateFromGroup maps an Auto Scaling lifecycle state.
func stateFromGroup(s string) cloud.InstanceState {
	switch {
	case s == "InService":
		return cloud.InstanceStateRunning
	case s == "Terminated":
		return cloud.InstanceStateTerminated
	case strings.HasPrefix(s, "Pending"):
		return cloud.InstanceStatePending
	case strings.HasPrefix(s, "Terminating"):
		return cloud.InstanceStateTerminating
	}
	return cloud.InstanceStateUnknown // Standby, Detaching, Detached, Warmed:*, ...
}
