package aws

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/kelp-dev/kelp/internal/cloud"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		code, msg string
		want      error
	}{
		{"Throttling", "Rate exceeded", cloud.ErrThrottled},
		{"RequestLimitExceeded", "Request limit exceeded.", cloud.ErrThrottled},
		{"InvalidInstanceID.NotFound", "The instance ID 'i-1' does not exist", cloud.ErrNotFound},
		{"ValidationError", "AutoScalingGroup name not found - AutoScalingGroup x not found", cloud.ErrNotFound},
		{"ValidationError", "New SetDesiredCapacity value 9 is above max value 3 for the AutoScalingGroup.", cloud.ErrOutOfRange},
		{"ValidationError", "Currently, desiredSize equals minSize (1). Terminating instance without replacement will violate group's min size constraint.", cloud.ErrOutOfRange},
		{"ValidationError", "No active Lifecycle Action found with instance ID i-0123456789abcdef0", cloud.ErrNotFound},
		{"ValidationError", "No Lifecycle Hook found for name kelp-drain", cloud.ErrNotFound},
		{"InvalidAction", "Could not find operation PutLifecycleHook for version 2011-01-01", cloud.ErrUnsupported},
		{"UnknownOperationException", "Operation AmazonSQS.ReceiveMessage does not exist", cloud.ErrUnsupported},
		{"ValidationError", "Something else entirely", nil},
		{"AccessDenied", "no", nil},
	}
	for _, tt := range tests {
		t.Run(tt.code+"/"+tt.msg, func(t *testing.T) {
			sdkErr := fmt.Errorf("operation error: %w", &apiErr{code: tt.code, msg: tt.msg})
			got := classify(sdkErr)
			if tt.want == nil {
				if got != sdkErr {
					t.Errorf("classify = %v, want it unchanged", got)
				}
				return
			}
			if !errors.Is(got, tt.want) || got.Error() != sdkErr.Error() || errorCode(got) != tt.code {
				t.Errorf("classify = %v (code %q), want %v keeping the SDK's error", got, errorCode(got), tt.want)
			}
		})
	}
	if classify(nil) != nil {
		t.Error("classify(nil) != nil")
	}
}

func TestActivityError(t *testing.T) {
	at := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name, msg, details   string
		want                 error
		code, instType, zone string
	}{
		{"local cloud on-demand",
			"InsufficientInstanceCapacity: We currently do not have sufficient m5.large capacity in the Availability Zone you requested (us-east-1a). Our system will be working on provisioning additional capacity. Launching EC2 instance failed.",
			`{"Subnet ID":"subnet-1","Availability Zone":"us-east-1a"}`, cloud.ErrInsufficientCapacity, "InsufficientInstanceCapacity", "m5.large", "us-east-1a"},
		{"local cloud spot",
			"InsufficientInstanceCapacity: There is no Spot capacity available that matches your request (c5.xlarge in us-east-1c). Launching EC2 instance failed.",
			"", cloud.ErrInsufficientCapacity, "InsufficientInstanceCapacity", "c5.xlarge", "us-east-1c"},
		{"aws on-demand",
			"Could not launch On-Demand Instances. InsufficientInstanceCapacity - We currently do not have sufficient p3.2xlarge capacity in the Availability Zone you requested (us-west-2b). Our system will be working on provisioning additional capacity. You can currently get p3.2xlarge capacity by not specifying an Availability Zone in your request or choosing us-west-2a, us-west-2c. Launching EC2 instance failed.",
			`{"Subnet ID":"subnet-2","Availability Zone":"us-west-2b"}`, cloud.ErrInsufficientCapacity, "InsufficientInstanceCapacity", "p3.2xlarge", "us-west-2b"},
		{"aws spot",
			"Could not launch Spot Instances. InsufficientInstanceCapacity - There is no Spot capacity available that matches your request. Launching EC2 instance failed.",
			`{"Subnet ID":"subnet-3","Availability Zone":"eu-west-1a"}`, cloud.ErrInsufficientCapacity, "InsufficientInstanceCapacity", "", "eu-west-1a"},
		{"aws unfulfillable spot",
			"Could not launch Spot Instances. UnfulfillableCapacity - Unable to fulfill capacity due to your request configuration. Please adjust your request and try again. Launching EC2 instance failed.",
			"", cloud.ErrInsufficientCapacity, "UnfulfillableCapacity", "", ""},
		{"vcpu quota",
			"Could not launch On-Demand Instances. VcpuLimitExceeded - You have requested more vCPU capacity than your current vCPU limit of 32 allows for the instance bucket that the specified instance type belongs to. Launching EC2 instance failed.",
			"", cloud.ErrQuotaExceeded, "VcpuLimitExceeded", "", ""},
		{"missing image", "InvalidAMIID.NotFound: The image id '[ami-1]' does not exist. Launching EC2 instance failed.",
			"", cloud.ErrLaunchFailed, "InvalidAMIID.NotFound", "", ""},
		{"failed boot", "Instance failed to boot: kernel panic", `{"Availability Zone":"us-east-1b"}`,
			cloud.ErrLaunchFailed, "", "", "us-east-1b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := astypes.Activity{ActivityId: sdkaws.String("act-1"), StartTime: sdkaws.Time(at), StatusMessage: sdkaws.String(tt.msg),
				Description: sdkaws.String("Launching a new EC2 instance.  Status Reason: ..."), Details: sdkaws.String(tt.details),
				StatusCode: astypes.ScalingActivityStatusCodeFailed}
			ge := activityError("g", a)
			if !errors.Is(ge, tt.want) || ge.Code != tt.code || ge.InstanceType != tt.instType || ge.AvailabilityZone != tt.zone ||
				ge.ActivityID != "act-1" || !ge.Time.Equal(at) || ge.Group != "g" || ge.Message != tt.msg {
				t.Errorf("activityError = %+v\nwant %v code %q type %q zone %q", ge, tt.want, tt.code, tt.instType, tt.zone)
			}
		})
	}
}

// fakeClouds answers instance lookups from fixed data.
type fakeInstances struct {
	EC2API
	instances []ec2types.Instance
	filters   []ec2types.Filter // of the last call
}

func (f *fakeInstances) DescribeInstances(_ context.Context, in *ec2.DescribeInstancesInput, _ ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error) {
	f.filters = in.Filters
	return &ec2.DescribeInstancesOutput{Reservations: []ec2types.Reservation{{Instances: f.instances}}}, nil
}

type fakeGroupInstances struct {
	AutoScalingAPI
	states map[string]string // id → lifecycle state; absent: not in a group
}

func (f *fakeGroupInstances) DescribeAutoScalingInstances(_ context.Context, in *autoscaling.DescribeAutoScalingInstancesInput, _ ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingInstancesOutput, error) {
	out := &autoscaling.DescribeAutoScalingInstancesOutput{}
	for _, id := range in.InstanceIds {
		if s, ok := f.states[id]; ok {
			out.AutoScalingInstances = append(out.AutoScalingInstances, astypes.AutoScalingInstanceDetails{
				InstanceId: sdkaws.String(id), AutoScalingGroupName: sdkaws.String("g"), LifecycleState: sdkaws.String(s)})
		}
	}
	return out, nil
}

func TestDuplicateDNSNamesAndGroupStates(t *testing.T) {
	dns := "ip-10-0-0-1.ec2.internal"
	inst := func(id, state string, tags ...string) ec2types.Instance {
		i := ec2types.Instance{InstanceId: sdkaws.String(id), PrivateDnsName: sdkaws.String(dns),
			State:     &ec2types.InstanceState{Name: ec2types.InstanceStateName(state)},
			Placement: &ec2types.Placement{AvailabilityZone: sdkaws.String("us-east-1a")}}
		for j := 0; j+1 < len(tags); j += 2 {
			i.Tags = append(i.Tags, ec2types.Tag{Key: sdkaws.String(tags[j]), Value: sdkaws.String(tags[j+1])})
		}
		return i
	}
	ec2Fake := &fakeInstances{instances: []ec2types.Instance{
		inst("i-00000000000000003", "running"),                                 // not in a group
		inst("i-00000000000000001", "running", groupNameTag, "g"),              // InService
		inst("i-00000000000000002", "running", groupNameTag, "g"),              // held by a lifecycle hook
		inst("i-00000000000000004", "running", groupNameTag, "g"),              // detached from the group
		inst("i-00000000000000005", "terminated", groupNameTag, "g", "x", "y"), // gone: left out
	}}
	asFake := &fakeGroupInstances{states: map[string]string{"i-00000000000000001": "InService", "i-00000000000000002": "Pending:Wait"}}
	p, err := New(bg, Config{ClusterName: testCluster}, Deps{AutoScaling: asFake, EC2: ec2Fake, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	p.refreshed, p.vpcs = true, []string{"vpc-0a", "vpc-0b"} // as a Refresh of groups in two VPCs leaves it
	got, err := p.InstanceByPrivateDNSName(bg, dns)
	if err != nil {
		t.Fatal(err)
	}
	if i := slices.IndexFunc(ec2Fake.filters, func(f ec2types.Filter) bool { return sdkaws.ToString(f.Name) == "vpc-id" }); i < 0 ||
		!slices.Equal(ec2Fake.filters[i].Values, p.vpcs) {
		t.Errorf("filters %+v: want vpc-id %v", ec2Fake.filters, p.vpcs)
	}
	want := []struct {
		id, group string
		state     cloud.InstanceState
	}{
		{"i-00000000000000001", "g", cloud.InstanceStateRunning},
		{"i-00000000000000002", "g", cloud.InstanceStatePending},
		{"i-00000000000000003", "", cloud.InstanceStateRunning},
		{"i-00000000000000004", "", cloud.InstanceStateRunning},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d instances, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		if got[i].ID != w.id || got[i].GroupName != w.group || got[i].State != w.state {
			t.Errorf("instance %d = %s group %q state %s, want %s %q %s", i, got[i].ID, got[i].GroupName, got[i].State, w.id, w.group, w.state)
		}
	}
}
