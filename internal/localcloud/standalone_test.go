package localcloud

import (
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/kelp-dev/kelp/internal/testenv"
)

// describeIDs returns the ids of the instances the filters match.
func (e *env) describeIDs(filters ...ec2types.Filter) []string {
	e.t.Helper()
	out := must[*ec2.DescribeInstancesOutput](e.t)(e.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: filters}))
	var ids []string
	for _, r := range out.Reservations {
		for _, i := range r.Instances {
			ids = append(ids, aws.ToString(i.InstanceId))
		}
	}
	slices.Sort(ids)
	return ids
}

func ec2Filter(name string, values ...string) ec2types.Filter {
	return ec2types.Filter{Name: aws.String(name), Values: values}
}

func TestRunInstanceInAnotherVPC(t *testing.T) {
	e := newEnv(t)
	lt := e.createTemplate("base", "m5.large", ImageLocalNode)
	e.createGroup("g", lt, 0, 1, 1)
	member := e.instance(aws.ToString(e.waitSettled("g", 1)[0].InstanceId))
	r := e.cloud.region
	z, _ := r.zone(aws.ToString(member.Placement.AvailabilityZone))
	if aws.ToString(member.VpcId) != r.VPCID || aws.ToString(member.SubnetId) != z.SubnetID ||
		aws.ToString(member.PrivateIpAddress) == "" {
		t.Fatalf("group member %+v", member)
	}

	// Same address, same DNS name, in the peer VPC's subnet of the zone.
	twin, err := e.cloud.RunInstance(RunInstanceInput{SubnetID: z.PeerSubnetID, PrivateIP: aws.ToString(member.PrivateIpAddress),
		Tags: map[string]string{"Name": "twin"}})
	if err != nil {
		t.Fatal(err)
	}
	got := e.instance(twin)
	if aws.ToString(got.VpcId) != r.PeerVPCID || aws.ToString(got.SubnetId) != z.PeerSubnetID ||
		aws.ToString(got.PrivateDnsName) != aws.ToString(member.PrivateDnsName) || got.State.Name != ec2types.InstanceStateNameRunning {
		t.Fatalf("twin %+v", got)
	}
	if e.rt.bootCount(twin) != 0 {
		t.Error("the runtime booted a standalone instance")
	}
	id := aws.ToString(member.InstanceId)
	dns := ec2Filter("private-dns-name", aws.ToString(member.PrivateDnsName))
	for _, tt := range []struct {
		name    string
		filters []ec2types.Filter
		want    []string
	}{
		{"dns name alone", []ec2types.Filter{dns}, []string{id, twin}},
		{"dns name in the groups' VPC", []ec2types.Filter{dns, ec2Filter("vpc-id", r.VPCID)}, []string{id}},
		{"dns name in the peer VPC", []ec2types.Filter{dns, ec2Filter("vpc-id", r.PeerVPCID)}, []string{twin}},
		{"either VPC", []ec2types.Filter{dns, ec2Filter("vpc-id", r.VPCID, r.PeerVPCID)}, []string{id, twin}},
		{"subnet", []ec2types.Filter{ec2Filter("subnet-id", z.PeerSubnetID)}, []string{twin}},
	} {
		if ids := e.describeIDs(tt.filters...); !slices.Equal(ids, slices.Sorted(slices.Values(tt.want))) {
			t.Errorf("%s: %v, want %v", tt.name, ids, tt.want)
		}
	}
	// Not an Auto Scaling instance.
	as := must[*autoscaling.DescribeAutoScalingInstancesOutput](t)(e.as.DescribeAutoScalingInstances(ctx,
		&autoscaling.DescribeAutoScalingInstancesInput{InstanceIds: []string{twin}}))
	if len(as.AutoScalingInstances) != 0 {
		t.Errorf("standalone instance in a group: %+v", as.AutoScalingInstances)
	}

	for _, tt := range []struct {
		name string
		in   RunInstanceInput
		want string
	}{
		{"address taken in its VPC", RunInstanceInput{SubnetID: z.SubnetID, PrivateIP: aws.ToString(member.PrivateIpAddress)}, "in use by instance " + id},
		{"address outside the subnet", RunInstanceInput{SubnetID: z.PeerSubnetID, PrivateIP: "10.0.0.1"}, "not an address of subnet"},
		{"unknown subnet", RunInstanceInput{SubnetID: "subnet-00000000000000000"}, "does not exist"},
		{"unknown type", RunInstanceInput{SubnetID: z.PeerSubnetID, InstanceType: "x9.huge"}, "x9.huge"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.cloud.RunInstance(tt.in)
			testenv.ErrorContains(t, err, tt.want)
		})
	}

	// Terminated like any instance; a restart does not boot it.
	e.restart()
	if e.rt.bootCount(twin) != 0 {
		t.Error("a restart booted a standalone instance")
	}
	must[*ec2.TerminateInstancesOutput](t)(e.ec2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{twin}}))
	testenv.EventuallyTrue(t, waitTimeout, "twin terminated", func() bool {
		return e.instance(twin).State.Name == ec2types.InstanceStateNameTerminated
	})
}

func TestGroupsLaunchOnlyIntoTheirVPC(t *testing.T) {
	e := newEnv(t)
	lt := e.createTemplate("base", "m5.large", ImageLocalNode)
	peer := e.cloud.region.Zones[0].PeerSubnetID
	_, err := e.as.CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String("g"), LaunchTemplate: &astypes.LaunchTemplateSpecification{LaunchTemplateId: aws.String(lt)},
		MinSize: aws.Int32(0), MaxSize: aws.Int32(1), VPCZoneIdentifier: aws.String(peer)})
	if err == nil || !strings.Contains(err.Error(), peer) {
		t.Fatalf("group in the peer VPC: %v", err)
	}
}
