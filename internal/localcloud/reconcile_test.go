package localcloud

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/kelp-dev/kelp/internal/catalog"
	"github.com/kelp-dev/kelp/internal/testenv"
)

func (e *env) setDesired(name string, n int32) {
	e.t.Helper()
	must[*autoscaling.SetDesiredCapacityOutput](e.t)(e.as.SetDesiredCapacity(ctx,
		&autoscaling.SetDesiredCapacityInput{AutoScalingGroupName: aws.String(name), DesiredCapacity: aws.Int32(n)}))
}

func ids(insts []astypes.Instance) []string {
	var out []string
	for _, i := range insts {
		out = append(out, aws.ToString(i.InstanceId))
	}
	slices.Sort(out)
	return out
}

func TestZoneBalancingAndTerminationPolicy(t *testing.T) {
	e := newEnv(t)
	lt := e.createTemplate("base", "m5.large", ImageLocalNode)
	e.createGroup("g", lt, 0, 10, 0)
	e.setDesired("g", 7)
	insts := e.waitSettled("g", 7)
	if got, want := zoneCounts(insts), map[string]int{"us-east-1a": 3, "us-east-1b": 2, "us-east-1c": 2}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("7 instances over zones: %v, want %v", got, want)
	}
	e.setDesired("g", 4)
	insts = e.waitSettled("g", 4)
	if got, want := zoneCounts(insts), map[string]int{"us-east-1a": 2, "us-east-1b": 1, "us-east-1c": 1}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after scale-in to 4: %v, want %v", got, want)
	}

	// Instances of an older template version go first (within the zone
	// balance): 1/1/1 of version 1, plus 1/1/1 of version 2, back to 3.
	e.setDesired("g", 3)
	e.waitSettled("g", 3)
	must[*ec2.CreateLaunchTemplateVersionOutput](t)(e.ec2.CreateLaunchTemplateVersion(ctx, &ec2.CreateLaunchTemplateVersionInput{
		LaunchTemplateId: aws.String(lt), SourceVersion: aws.String("1"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{InstanceType: ec2types.InstanceTypeM5Xlarge}}))
	e.setDesired("g", 6)
	e.waitSettled("g", 6)
	e.setDesired("g", 3)
	insts = e.waitSettled("g", 3)
	for _, i := range insts {
		if aws.ToString(i.LaunchTemplate.Version) != "2" || aws.ToString(i.InstanceType) != "m5.xlarge" {
			t.Errorf("instance %s of version %s (%s) survived; want only version 2", aws.ToString(i.InstanceId),
				aws.ToString(i.LaunchTemplate.Version), aws.ToString(i.InstanceType))
		}
	}
	if c := zoneCounts(insts); c["us-east-1a"] != 1 || c["us-east-1b"] != 1 || c["us-east-1c"] != 1 {
		t.Errorf("zones unbalanced after scale-in: %v", c)
	}
}

func TestSubnetsChooseZones(t *testing.T) {
	e := newEnv(t)
	lt := e.createTemplate("base", "m5.large", ImageLocalNode)
	subnets := must[*ec2.DescribeSubnetsOutput](t)(e.ec2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{
		Filters: []ec2types.Filter{{Name: aws.String("availability-zone"), Values: []string{"us-east-1b", "us-east-1c"}},
			{Name: aws.String("default-for-az"), Values: []string{"true"}}}}))
	if len(subnets.Subnets) != 2 {
		t.Fatalf("subnets %+v", subnets.Subnets)
	}
	must[*autoscaling.CreateAutoScalingGroupOutput](t)(e.as.CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String("g"), LaunchTemplate: &astypes.LaunchTemplateSpecification{LaunchTemplateName: aws.String("base")},
		MinSize: aws.Int32(0), MaxSize: aws.Int32(4), DesiredCapacity: aws.Int32(4),
		VPCZoneIdentifier: aws.String(aws.ToString(subnets.Subnets[0].SubnetId) + "," + aws.ToString(subnets.Subnets[1].SubnetId))}))
	insts := e.waitSettled("g", 4)
	if got := zoneCounts(insts); got["us-east-1b"] != 2 || got["us-east-1c"] != 2 {
		t.Fatalf("zones %v", got)
	}
	g := e.group("g")
	if !slices.Equal(g.AvailabilityZones, []string{"us-east-1b", "us-east-1c"}) || !strings.Contains(aws.ToString(g.VPCZoneIdentifier), ",") {
		t.Fatalf("group zones %v vpc %q", g.AvailabilityZones, aws.ToString(g.VPCZoneIdentifier))
	}
	_ = lt
}

func TestInstanceDetails(t *testing.T) {
	e := newEnv(t)
	lt := e.createTemplate("base", "m5.large", ImageLocalNode)
	e.createGroup("g", lt, 0, 3, 3)
	insts := e.waitSettled("g", 3)
	subnets := map[string]netip.Prefix{"us-east-1a": netip.MustParsePrefix("127.1.0.0/16"),
		"us-east-1b": netip.MustParsePrefix("127.2.0.0/16"), "us-east-1c": netip.MustParsePrefix("127.3.0.0/16")}
	for _, ai := range insts {
		id := aws.ToString(ai.InstanceId)
		if !instanceIDPattern.MatchString(id) || len(id) != 19 {
			t.Errorf("instance id %q: want i- and 17 hex digits", id)
		}
		i := e.instance(id)
		ip := netip.MustParseAddr(aws.ToString(i.PrivateIpAddress))
		az := aws.ToString(i.Placement.AvailabilityZone)
		if !subnets[az].Contains(ip) {
			t.Errorf("%s: ip %s not in %s's subnet %s", id, ip, az, subnets[az])
		}
		wantDNS := "ip-" + strings.ReplaceAll(ip.String(), ".", "-") + ".ec2.internal"
		if aws.ToString(i.PrivateDnsName) != wantDNS || i.State.Name != ec2types.InstanceStateNameRunning ||
			aws.ToInt32(i.State.Code) != 16 || !i.LaunchTime.Equal(testStart) || i.InstanceType != ec2types.InstanceTypeM5Large ||
			aws.ToString(i.ImageId) != ImageLocalNode || i.InstanceLifecycle != "" || i.Architecture != ec2types.ArchitectureValuesX8664 {
			t.Errorf("instance %+v", i)
		}
		info, userData, ok := e.rt.bootInfo(id)
		if !ok || string(userData) != "#cloud-config\n" || info.PrivateDNSName != wantDNS || info.PrivateIP != ip.String() ||
			info.ProviderID() != "aws:///"+az+"/"+id || info.CapacityType != catalog.CapacityTypeOnDemand || info.Region != "us-east-1" ||
			info.InstanceType != "m5.large" || info.Architecture != "x86_64" || info.AccountID != AccountID || info.SubnetID != aws.ToString(i.SubnetId) {
			t.Errorf("runtime saw %+v, user-data %q", info, userData)
		}
	}
}

func TestPrivateDNSOutsideUSEast1(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Region = "eu-west-1" })
	lt := e.createTemplate("base", "m5.large", ImageLocalNode)
	must[*autoscaling.CreateAutoScalingGroupOutput](t)(e.as.CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String("g"), LaunchTemplate: &astypes.LaunchTemplateSpecification{LaunchTemplateId: aws.String(lt)},
		MinSize: aws.Int32(1), MaxSize: aws.Int32(1), AvailabilityZones: []string{"eu-west-1b"}}))
	id := aws.ToString(e.waitSettled("g", 1)[0].InstanceId)
	if got := aws.ToString(e.instance(id).PrivateDnsName); got != "ip-127-2-0-4.eu-west-1.compute.internal" {
		t.Fatalf("private DNS name %q", got)
	}
	zones := must[*ec2.DescribeAvailabilityZonesOutput](t)(e.ec2.DescribeAvailabilityZones(ctx, &ec2.DescribeAvailabilityZonesInput{}))
	if aws.ToString(zones.AvailabilityZones[0].ZoneId) != "euw1-az1" {
		t.Fatalf("zone id %q", aws.ToString(zones.AvailabilityZones[0].ZoneId))
	}
}

func TestLifecycleStates(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Faults.BootDelay = DurationRange{Min: 30 * time.Second, Max: 30 * time.Second} })
	lt := e.createTemplate("base", "m5.large", ImageLocalNode)
	e.createGroup("g", lt, 0, 1, 1)
	var id string
	testenv.EventuallyTrue(t, waitTimeout, "a pending instance", func() bool {
		g := e.group("g")
		if len(g.Instances) == 1 && g.Instances[0].LifecycleState == astypes.LifecycleStatePending {
			id = aws.ToString(g.Instances[0].InstanceId)
			return true
		}
		return false
	})
	if st := e.instance(id).State; st.Name != ec2types.InstanceStateNamePending || aws.ToInt32(st.Code) != 0 {
		t.Fatalf("ec2 state %+v", st)
	}
	if acts := e.activities("g"); acts[0].StatusCode != astypes.ScalingActivityStatusCodeInProgress {
		t.Fatalf("launch activity %s while pending", acts[0].StatusCode)
	}
	e.clock.Step(29 * time.Second)
	if n := e.rt.bootCount(id); n != 0 {
		t.Fatalf("booted %d times before the boot delay", n)
	}
	e.clock.Step(time.Second)
	e.waitSettled("g", 1)
	if acts := e.activities("g"); acts[0].StatusCode != astypes.ScalingActivityStatusCodeSuccessful || acts[0].EndTime == nil {
		t.Fatalf("launch activity %+v after boot", acts[0])
	}

	gate := make(chan struct{})
	e.rt.mu.Lock()
	e.rt.stopGate = gate
	e.rt.mu.Unlock()
	must[*autoscaling.TerminateInstanceInAutoScalingGroupOutput](t)(e.as.TerminateInstanceInAutoScalingGroup(ctx,
		&autoscaling.TerminateInstanceInAutoScalingGroupInput{InstanceId: aws.String(id), ShouldDecrementDesiredCapacity: aws.Bool(true)}))
	asi := must[*autoscaling.DescribeAutoScalingInstancesOutput](t)(e.as.DescribeAutoScalingInstances(ctx,
		&autoscaling.DescribeAutoScalingInstancesInput{InstanceIds: []string{id}}))
	if len(asi.AutoScalingInstances) != 1 || aws.ToString(asi.AutoScalingInstances[0].LifecycleState) != "Terminating" {
		t.Fatalf("while stopping: %+v", asi.AutoScalingInstances)
	}
	if st := e.instance(id).State; st.Name != ec2types.InstanceStateNameShuttingDown || aws.ToInt32(st.Code) != 32 {
		t.Fatalf("ec2 state while stopping %+v", st)
	}
	close(gate)
	testenv.EventuallyTrue(t, waitTimeout, "terminated", func() bool { return e.instance(id).State.Name == ec2types.InstanceStateNameTerminated })
	i := e.instance(id)
	if i.PrivateIpAddress != nil || aws.ToString(i.PrivateDnsName) != "" || aws.ToString(i.StateReason.Code) != "Client.UserInitiatedShutdown" {
		t.Fatalf("terminated instance %+v", i)
	}
	if g := e.group("g"); len(g.Instances) != 0 || aws.ToInt32(g.DesiredCapacity) != 0 {
		t.Fatalf("group after terminate with decrement: %+v", g)
	}
	acts := e.activities("g")
	if !strings.HasPrefix(aws.ToString(acts[0].Description), "Terminating EC2 instance: "+id) ||
		acts[0].StatusCode != astypes.ScalingActivityStatusCodeSuccessful || !strings.Contains(aws.ToString(acts[0].Cause), "shrinking the capacity from 1 to 0") {
		t.Fatalf("termination activity %+v", acts[0])
	}
}

func TestTerminateInstanceInGroup(t *testing.T) {
	e := newEnv(t)
	lt := e.createTemplate("base", "m5.large", ImageLocalNode)
	e.createGroup("g", lt, 1, 3, 2)
	before := ids(e.waitSettled("g", 2))
	// Without decrement the group replaces the instance.
	out := must[*autoscaling.TerminateInstanceInAutoScalingGroupOutput](t)(e.as.TerminateInstanceInAutoScalingGroup(ctx,
		&autoscaling.TerminateInstanceInAutoScalingGroupInput{InstanceId: aws.String(before[0]), ShouldDecrementDesiredCapacity: aws.Bool(false)}))
	if out.Activity.StatusCode != astypes.ScalingActivityStatusCodeInProgress || aws.ToString(out.Activity.AutoScalingGroupName) != "g" {
		t.Fatalf("activity %+v", out.Activity)
	}
	after := ids(e.waitSettled("g", 2))
	if slices.Contains(after, before[0]) || !slices.Contains(after, before[1]) {
		t.Fatalf("before %v after %v", before, after)
	}
	// With decrement: 2 -> 1; then at min size the decrement is refused.
	must[*autoscaling.TerminateInstanceInAutoScalingGroupOutput](t)(e.as.TerminateInstanceInAutoScalingGroup(ctx,
		&autoscaling.TerminateInstanceInAutoScalingGroupInput{InstanceId: aws.String(after[0]), ShouldDecrementDesiredCapacity: aws.Bool(true)}))
	last := ids(e.waitSettled("g", 1))
	_, err := e.as.TerminateInstanceInAutoScalingGroup(ctx, &autoscaling.TerminateInstanceInAutoScalingGroupInput{
		InstanceId: aws.String(last[0]), ShouldDecrementDesiredCapacity: aws.Bool(true)})
	wantCode(t, err, codeValidationError)
	_, err = e.as.TerminateInstanceInAutoScalingGroup(ctx, &autoscaling.TerminateInstanceInAutoScalingGroupInput{
		InstanceId: aws.String("i-0123456789abcdef0"), ShouldDecrementDesiredCapacity: aws.Bool(false)})
	wantCode(t, err, codeValidationError)
}

func TestTerminateInstancesEC2(t *testing.T) {
	e := newEnv(t)
	lt := e.createTemplate("base", "m5.large", ImageLocalNode)
	e.createGroup("g", lt, 0, 2, 2)
	before := ids(e.waitSettled("g", 2))
	out := must[*ec2.TerminateInstancesOutput](t)(e.ec2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: before[:1]}))
	if len(out.TerminatingInstances) != 1 || out.TerminatingInstances[0].PreviousState.Name != ec2types.InstanceStateNameRunning ||
		out.TerminatingInstances[0].CurrentState.Name != ec2types.InstanceStateNameShuttingDown {
		t.Fatalf("TerminateInstances %+v", out.TerminatingInstances)
	}
	after := ids(e.waitSettled("g", 2))
	if slices.Contains(after, before[0]) {
		t.Fatalf("terminated instance still in the group: %v", after)
	}
	_, err := e.ec2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{"i-0123456789abcdef0"}})
	wantCode(t, err, codeInvalidInstanceIDNotFound)
	_, err = e.ec2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{"instance-1"}})
	wantCode(t, err, codeInvalidInstanceIDMalformed)
}

func TestDescribeInstancesFiltersAndPagination(t *testing.T) {
	e := newEnv(t)
	lt := e.createTemplate("base", "m5.large", ImageLocalNode)
	e.createGroup("a", lt, 0, 7, 7, tagOf("kelp.dev/pool", "a", true))
	e.createGroup("b", lt, 0, 1, 1, tagOf("kelp.dev/pool", "b", true))
	aIDs := ids(e.waitSettled("a", 7))
	bID := ids(e.waitSettled("b", 1))[0]
	bInst := e.instance(bID)
	count := func(fs ...ec2types.Filter) int {
		n := 0
		pager := ec2.NewDescribeInstancesPaginator(e.ec2, &ec2.DescribeInstancesInput{Filters: fs, MaxResults: aws.Int32(5)})
		for pager.HasMorePages() {
			out := must[*ec2.DescribeInstancesOutput](t)(pager.NextPage(ctx))
			for _, r := range out.Reservations {
				n += len(r.Instances)
			}
		}
		return n
	}
	f := func(name string, values ...string) ec2types.Filter {
		return ec2types.Filter{Name: aws.String(name), Values: values}
	}
	tests := []struct {
		name    string
		filters []ec2types.Filter
		want    int
	}{
		{"all, paginated by 5", nil, 8},
		{"private-dns-name", []ec2types.Filter{f("private-dns-name", aws.ToString(bInst.PrivateDnsName))}, 1},
		{"private-dns-name wildcard", []ec2types.Filter{f("private-dns-name", "ip-127-1-*")}, 4}, // 3 of a, 1 of b
		{"instance-state-name", []ec2types.Filter{f("instance-state-name", "running")}, 8},
		{"instance-state-name none", []ec2types.Filter{f("instance-state-name", "pending", "terminated")}, 0},
		{"instance-id", []ec2types.Filter{f("instance-id", aIDs[0], bID)}, 2},
		{"tag", []ec2types.Filter{f("tag:kelp.dev/pool", "a")}, 7},
		{"tag-key", []ec2types.Filter{f("tag-key", "kelp.dev/pool")}, 8},
		{"tag and zone", []ec2types.Filter{f("tag:aws:autoscaling:groupName", "a"), f("availability-zone", "us-east-1a")}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := count(tt.filters...); got != tt.want {
				t.Fatalf("got %d instances, want %d", got, tt.want)
			}
		})
	}
	_, err := e.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{f("colour", "blue")}})
	wantCode(t, err, codeInvalidParameterValue)
	_, err = e.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{bID}, MaxResults: aws.Int32(5)})
	wantCode(t, err, codeInvalidParameterCombination)
	_, err = e.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{"i-0123456789abcdef0"}})
	wantCode(t, err, codeInvalidInstanceIDNotFound)

	asi := must[*autoscaling.DescribeAutoScalingInstancesOutput](t)(e.as.DescribeAutoScalingInstances(ctx,
		&autoscaling.DescribeAutoScalingInstancesInput{MaxRecords: aws.Int32(3)}))
	if len(asi.AutoScalingInstances) != 3 || asi.NextToken == nil || aws.ToString(asi.AutoScalingInstances[0].HealthStatus) != "HEALTHY" {
		t.Fatalf("DescribeAutoScalingInstances page %+v", asi)
	}
	total := 0
	pager := autoscaling.NewDescribeAutoScalingInstancesPaginator(e.as, &autoscaling.DescribeAutoScalingInstancesInput{MaxRecords: aws.Int32(3)})
	for pager.HasMorePages() {
		total += len(must[*autoscaling.DescribeAutoScalingInstancesOutput](t)(pager.NextPage(ctx)).AutoScalingInstances)
	}
	if total != 8 {
		t.Fatalf("DescribeAutoScalingInstances total %d", total)
	}
}

func TestScalingActivities(t *testing.T) {
	e := newEnv(t)
	lt := e.createTemplate("base", "m5.large", ImageLocalNode)
	e.createGroup("g", lt, 0, 5, 0)
	e.setDesired("g", 3)
	e.waitSettled("g", 3)
	e.clock.Step(time.Minute)
	e.setDesired("g", 1)
	e.waitSettled("g", 1)
	testenv.EventuallyTrue(t, waitTimeout, "terminations done", func() bool {
		for _, a := range e.activities("g") {
			if a.StatusCode != astypes.ScalingActivityStatusCodeSuccessful {
				return false
			}
		}
		return true
	})
	acts := e.activities("g")
	if len(acts) != 5 {
		t.Fatalf("%d activities, want 3 launches and 2 terminations", len(acts))
	}
	for i, a := range acts {
		wantTerm := i < 2 // newest first
		if strings.HasPrefix(aws.ToString(a.Description), "Terminating") != wantTerm {
			t.Errorf("activity %d: %q", i, aws.ToString(a.Description))
		}
		if aws.ToInt32(a.Progress) != 100 || a.StartTime == nil || a.EndTime == nil || !strings.Contains(aws.ToString(a.Details), "Availability Zone") {
			t.Errorf("activity %+v", a)
		}
	}
	if c := aws.ToString(acts[0].Cause); !strings.Contains(c, "changing the desired capacity from 3 to 1") ||
		!strings.Contains(c, "shrinking the capacity from 3 to 1") {
		t.Errorf("termination cause %q", c)
	}
	if c := aws.ToString(acts[4].Cause); !strings.Contains(c, "explicitly set group desired capacity changing the desired capacity from 0 to 3") {
		t.Errorf("launch cause %q", c)
	}
	page := must[*autoscaling.DescribeScalingActivitiesOutput](t)(e.as.DescribeScalingActivities(ctx,
		&autoscaling.DescribeScalingActivitiesInput{AutoScalingGroupName: aws.String("g"), MaxRecords: aws.Int32(2)}))
	if len(page.Activities) != 2 || page.NextToken == nil {
		t.Fatalf("first page %+v", page)
	}
	next := must[*autoscaling.DescribeScalingActivitiesOutput](t)(e.as.DescribeScalingActivities(ctx,
		&autoscaling.DescribeScalingActivitiesInput{AutoScalingGroupName: aws.String("g"), MaxRecords: aws.Int32(4), NextToken: page.NextToken}))
	if len(next.Activities) != 3 || next.NextToken != nil || aws.ToString(next.Activities[0].ActivityId) != aws.ToString(acts[2].ActivityId) {
		t.Fatalf("second page %+v", next)
	}
	one := must[*autoscaling.DescribeScalingActivitiesOutput](t)(e.as.DescribeScalingActivities(ctx,
		&autoscaling.DescribeScalingActivitiesInput{ActivityIds: []string{aws.ToString(acts[3].ActivityId)}}))
	if len(one.Activities) != 1 {
		t.Fatalf("by id %+v", one.Activities)
	}
}

func TestUnknownImageFailsScalingActivity(t *testing.T) {
	e := newEnv(t)
	lt := e.createTemplate("bad-ami", "m5.large", "ami-0123456789abcdef0")
	e.createGroup("g", lt, 0, 2, 1)
	var failed []astypes.Activity
	testenv.EventuallyTrue(t, waitTimeout, "a failed activity", func() bool {
		failed = nil
		for _, a := range e.activities("g") {
			if a.StatusCode == astypes.ScalingActivityStatusCodeFailed {
				failed = append(failed, a)
			}
		}
		return len(failed) > 0
	})
	a := failed[0]
	if !strings.Contains(aws.ToString(a.StatusMessage), codeInvalidAMIIDNotFound) ||
		!strings.Contains(aws.ToString(a.StatusMessage), "ami-0123456789abcdef0") ||
		!strings.HasPrefix(aws.ToString(a.Description), "Launching a new EC2 instance.") {
		t.Fatalf("failed activity %+v", a)
	}
	if g := e.group("g"); len(g.Instances) != 0 {
		t.Fatalf("instances launched from an unknown image: %+v", g.Instances)
	}
	// The group retries after a reconcile interval.
	e.clock.Step(DefaultReconcileInterval)
	testenv.EventuallyTrue(t, waitTimeout, "a second failed activity", func() bool { return len(e.activities("g")) == 2 })
	// A fixed template lets the group launch.
	must[*ec2.CreateLaunchTemplateVersionOutput](t)(e.ec2.CreateLaunchTemplateVersion(ctx, &ec2.CreateLaunchTemplateVersionInput{
		LaunchTemplateId: aws.String(lt), SourceVersion: aws.String("1"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String(ImageLocalNode)}}))
	e.clock.Step(DefaultReconcileInterval)
	e.waitSettled("g", 1)
}

func TestArchitectureMismatchFailsScalingActivity(t *testing.T) {
	e := newEnv(t)
	lt := e.createTemplate("arm-image", "m5.large", ImageLocalNodeARM64)
	e.createGroup("g", lt, 0, 1, 1)
	testenv.EventuallyTrue(t, waitTimeout, "a failed activity", func() bool {
		acts := e.activities("g")
		return len(acts) > 0 && acts[0].StatusCode == astypes.ScalingActivityStatusCodeFailed &&
			strings.Contains(aws.ToString(acts[0].StatusMessage), "architecture")
	})
}

func TestBootFailureFailsLaunch(t *testing.T) {
	e := newEnv(t)
	e.rt.setFail(func(InstanceInfo) error { return errors.New("node agent exploded") })
	lt := e.createTemplate("base", "m5.large", ImageLocalNode)
	e.createGroup("g", lt, 0, 1, 1)
	var failed astypes.Activity
	testenv.EventuallyTrue(t, waitTimeout, "a failed launch", func() bool {
		acts := e.activities("g")
		if len(acts) == 1 && acts[0].StatusCode == astypes.ScalingActivityStatusCodeFailed {
			failed = acts[0]
			return true
		}
		return false
	})
	if !strings.Contains(aws.ToString(failed.StatusMessage), "node agent exploded") {
		t.Fatalf("failed activity %+v", failed)
	}
	id := strings.TrimPrefix(aws.ToString(failed.Description), "Launching a new EC2 instance: ")
	i := e.instance(id)
	if i.State.Name != ec2types.InstanceStateNameTerminated || aws.ToString(i.StateReason.Code) != "Server.InternalError" {
		t.Fatalf("failed instance %+v", i)
	}
	e.rt.setFail(nil)
	e.clock.Step(DefaultReconcileInterval)
	e.waitSettled("g", 1)
}

func TestTerminatedInstancesAreForgotten(t *testing.T) {
	e := newEnv(t)
	lt := e.createTemplate("base", "m5.large", ImageLocalNode)
	e.createGroup("g", lt, 0, 1, 1)
	id := ids(e.waitSettled("g", 1))[0]
	e.setDesired("g", 0)
	testenv.EventuallyTrue(t, waitTimeout, "terminated", func() bool { return e.instance(id).State.Name == ec2types.InstanceStateNameTerminated })
	e.clock.Step(30 * time.Minute)
	if e.instance(id).State.Name != ec2types.InstanceStateNameTerminated {
		t.Fatal("terminated instance gone too early")
	}
	e.clock.Step(31 * time.Minute)
	testenv.EventuallyTrue(t, waitTimeout, "forgotten", func() bool {
		_, err := e.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
		return apiCode(t, err) == codeInvalidInstanceIDNotFound
	})
}

// TestAddressBlockMovesSubnets: Options.AddressBlock moves the zones'
// subnets (and so the instances' addresses and DNS names) up by three /16
// per block; a block out of range is refused when the cloud opens.
func TestAddressBlockMovesSubnets(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.AddressBlock = 2 })
	lt := e.createTemplate("base", "m5.large", ImageLocalNode)
	e.createGroup("g", lt, 0, 3, 3)
	subnets := map[string]netip.Prefix{"us-east-1a": netip.MustParsePrefix("127.7.0.0/16"),
		"us-east-1b": netip.MustParsePrefix("127.8.0.0/16"), "us-east-1c": netip.MustParsePrefix("127.9.0.0/16")}
	for _, ai := range e.waitSettled("g", 3) {
		i := e.instance(aws.ToString(ai.InstanceId))
		ip := netip.MustParseAddr(aws.ToString(i.PrivateIpAddress))
		if az := aws.ToString(i.Placement.AvailabilityZone); !subnets[az].Contains(ip) {
			t.Errorf("%s: ip %s not in %s's subnet %s of block 2", aws.ToString(i.InstanceId), ip, az, subnets[az])
		}
	}
	for _, block := range []int{-1, AddressBlocks} {
		_, err := Open(Options{Dir: t.TempDir(), AddressBlock: block})
		testenv.ErrorContains(t, err, fmt.Sprintf("address block %d", block), "want 0 to 83")
	}
}
