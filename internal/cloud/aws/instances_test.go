package aws

import (
	"slices"
	"strings"
	"testing"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/kelp-dev/kelp/internal/catalog"
	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/localcloud"
	"github.com/kelp-dev/kelp/internal/pool"
	"github.com/kelp-dev/kelp/internal/testenv"
)

func TestInstanceLookups(t *testing.T) {
	e := newEnv(t, envOptions{})
	name := e.createPool(testCluster, pool.Spec{Name: "general", InstanceTypes: []string{"m5.large"}, MaxSize: 3, DesiredCapacity: int32p(2)})
	asInsts := e.waitInService(name, 2)
	id, zone := sdkaws.ToString(asInsts[0].InstanceId), sdkaws.ToString(asInsts[0].AvailabilityZone)
	p := e.provider(Config{InstanceCacheTTL: 30 * time.Second})

	inst, err := p.InstanceByID(bg, id)
	if err != nil {
		t.Fatal(err)
	}
	if inst.ID != id || inst.AvailabilityZone != zone || inst.ProviderID != "aws:///"+zone+"/"+id ||
		inst.State != cloud.InstanceStateRunning || inst.CloudState != "InService" || inst.GroupName != name ||
		inst.Pool != "general" || inst.CapacityType != catalog.CapacityTypeOnDemand || inst.InstanceType != "m5.large" ||
		len(inst.PrivateIPs) != 1 || !strings.HasSuffix(inst.PrivateDNSName, ".ec2.internal") ||
		!inst.LaunchTime.Equal(testStart) || inst.Error != nil {
		t.Fatalf("InstanceByID = %+v", inst)
	}
	byDNS, err := p.InstanceByPrivateDNSName(bg, inst.PrivateDNSName)
	if err != nil || len(byDNS) != 1 || byDNS[0].ID != id {
		t.Fatalf("InstanceByPrivateDNSName = %+v, %v", byDNS, err)
	}
	byNode, err := p.InstanceForNode(bg, inst.ProviderID)
	if err != nil || byNode.ID != id {
		t.Fatalf("InstanceForNode = %+v, %v", byNode, err)
	}

	// Cache hits: no request reaches the cloud.
	calls := e.counter.total()
	for range 3 {
		if _, err := p.InstanceByID(bg, id); err != nil {
			t.Fatal(err)
		}
		if _, err := p.InstanceByPrivateDNSName(bg, inst.PrivateDNSName); err != nil {
			t.Fatal(err)
		}
	}
	if got := e.counter.total(); got != calls {
		t.Errorf("cached lookups made %d requests", got-calls)
	}
	// Invalidation and expiry send lookups to the cloud again.
	described := e.requests("DescribeInstances")
	p.Invalidate(id)
	if _, err := p.InstanceByPrivateDNSName(bg, inst.PrivateDNSName); err != nil {
		t.Fatal(err)
	}
	if got := e.requests("DescribeInstances") - described; got != 1 {
		t.Errorf("DescribeInstances calls after Invalidate = %d, want 1", got)
	}
	p.InvalidateAll()
	if _, err := p.InstanceByID(bg, id); err != nil {
		t.Fatal(err)
	}
	e.clock.Step(31 * time.Second)
	if _, err := p.InstanceByID(bg, id); err != nil {
		t.Fatal(err)
	}
	if got := e.requests("DescribeInstances") - described; got != 3 {
		t.Errorf("DescribeInstances calls after Invalidate, InvalidateAll and expiry = %d, want 3", got)
	}

	// A refresh fills the cache by ID.
	p.InvalidateAll()
	nodeGroup(t, p, name)
	calls = e.requests("DescribeInstances")
	if _, err := p.InstanceByID(bg, sdkaws.ToString(asInsts[1].InstanceId)); err != nil {
		t.Fatal(err)
	}
	if got := e.requests("DescribeInstances"); got != calls {
		t.Errorf("lookup after a refresh made %d DescribeInstances calls", got-calls)
	}
}

func TestInstanceLookupErrors(t *testing.T) {
	e := newEnv(t, envOptions{})
	name := e.createPool(testCluster, pool.Spec{Name: "general", InstanceTypes: []string{"m5.large"}, MaxSize: 3, DesiredCapacity: int32p(1)})
	id, zone := sdkaws.ToString(e.waitInService(name, 1)[0].InstanceId), ""
	p := e.provider(Config{})
	inst, err := p.InstanceByID(bg, id)
	if err != nil {
		t.Fatal(err)
	}
	zone = inst.AvailabilityZone
	other := "us-east-1a"
	if zone == other {
		other = "us-east-1b"
	}
	tests := []struct {
		name string
		do   func() error
		want error
	}{
		{"unknown id", func() error { _, err := p.InstanceByID(bg, "i-0123456789abcdef0"); return err }, cloud.ErrNotFound},
		{"malformed id", func() error { _, err := p.InstanceByID(bg, "node-1"); return err }, cloud.ErrNotFound},
		{"unknown dns name", func() error {
			_, err := p.InstanceByPrivateDNSName(bg, "ip-10-9-9-9.ec2.internal")
			return err
		}, cloud.ErrNotFound},
		{"bad provider id", func() error { _, err := p.InstanceForNode(bg, "gce://project/zone/x"); return err }, cloud.ErrInvalidProviderID},
		{"provider id in another zone", func() error {
			_, err := p.InstanceForNode(bg, cloud.ProviderID(other, id))
			return err
		}, cloud.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantIs(t, tt.do(), tt.want) })
	}
}

func TestTerminatedInstanceLookup(t *testing.T) {
	e := newEnv(t, envOptions{})
	name := e.createPool(testCluster, pool.Spec{Name: "general", InstanceTypes: []string{"m5.large"}, MaxSize: 3, DesiredCapacity: int32p(1)})
	id := sdkaws.ToString(e.waitInService(name, 1)[0].InstanceId)
	p := e.provider(Config{})
	inst, err := p.InstanceByID(bg, id)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.DeleteInstances(bg, name, []string{id}); err != nil {
		t.Fatal(err)
	}
	testenv.EventuallyTrue(t, waitTimeout, "terminated", func() bool {
		got, err := p.InstanceByID(bg, id) // DeleteInstances invalidated it
		p.Invalidate(id)
		return err == nil && got.State == cloud.InstanceStateTerminated && got.GroupName == name && got.Error == nil
	})
	if _, err := p.InstanceByPrivateDNSName(bg, inst.PrivateDNSName); err == nil {
		t.Error("a terminated instance answers its old DNS name")
	}
}

func TestInterruptedSpotInstanceCarriesItsError(t *testing.T) {
	e := newEnv(t, envOptions{})
	name := e.createPool(testCluster, pool.Spec{Name: "spot", InstanceTypes: []string{"m5.large"}, CapacityType: catalog.CapacityTypeSpot,
		MaxSize: 3, DesiredCapacity: int32p(1)})
	id := sdkaws.ToString(e.waitInService(name, 1)[0].InstanceId)
	p := e.provider(Config{})
	inst, err := p.InstanceByID(bg, id)
	if err != nil || inst.CapacityType != catalog.CapacityTypeSpot || inst.Error != nil {
		t.Fatalf("spot instance = %+v, %v", inst, err)
	}
	if err := e.cloud.InterruptSpotInstance(id); err != nil {
		t.Fatal(err)
	}
	e.clock.Step(2 * time.Minute)
	testenv.EventuallyTrue(t, waitTimeout, "interrupted", func() bool {
		p.Invalidate(id)
		got, err := p.InstanceByID(bg, id)
		return err == nil && got.State.Gone() && got.Error != nil && got.Error.Code == "Server.SpotInstanceTermination"
	})
}

// peerSubnet returns the subnet of zone in a VPC other than the default
// subnets'.
func (e *env) peerSubnet(zone string) string {
	e.t.Helper()
	out, err := e.ec2.DescribeSubnets(bg, &ec2.DescribeSubnetsInput{Filters: []ec2types.Filter{
		{Name: sdkaws.String("availability-zone"), Values: []string{zone}},
		{Name: sdkaws.String("default-for-az"), Values: []string{"false"}}}})
	if err != nil || len(out.Subnets) != 1 {
		e.t.Fatalf("peer subnet of %s: %v, %+v", zone, err, out)
	}
	return sdkaws.ToString(out.Subnets[0].SubnetId)
}

func TestPrivateDNSNameLookupStaysInTheGroupsVPCs(t *testing.T) {
	e := newEnv(t, envOptions{})
	name := e.createPool(testCluster, pool.Spec{Name: "general", InstanceTypes: []string{"m5.large"}, MaxSize: 3, DesiredCapacity: int32p(1)})
	id := sdkaws.ToString(e.waitInService(name, 1)[0].InstanceId)
	p := e.provider(Config{})
	inst, err := p.InstanceByID(bg, id)
	if err != nil {
		t.Fatal(err)
	}
	// Another VPC of the account holds an instance of the same address and
	// private DNS name: another cluster's node.
	twin, err := e.cloud.RunInstance(localcloud.RunInstanceInput{SubnetID: e.peerSubnet(inst.AvailabilityZone),
		PrivateIP: inst.PrivateIPs[0], Tags: map[string]string{"kubernetes.io/cluster/prod": "owned"}})
	if err != nil {
		t.Fatal(err)
	}
	all, err := e.ec2.DescribeInstances(bg, &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{
		{Name: sdkaws.String("private-dns-name"), Values: []string{inst.PrivateDNSName}}}})
	if err != nil || len(all.Reservations) != 2 {
		t.Fatalf("the account does not hold two instances named %s: %v, %+v", inst.PrivateDNSName, err, all)
	}

	got, err := p.InstanceByPrivateDNSName(bg, inst.PrivateDNSName)
	if err != nil || len(got) != 1 || got[0].ID != id {
		t.Fatalf("InstanceByPrivateDNSName = %+v, %v; want only %s, not %s", got, err, id, twin)
	}
	// The twin is still found by its id (ids are unique): in no group.
	if byID, err := p.InstanceByID(bg, twin); err != nil || byID.GroupName != "" || byID.PrivateDNSName != inst.PrivateDNSName {
		t.Fatalf("twin by id = %+v, %v", byID, err)
	}
	// The subnets' VPCs are learnt once, not per refresh.
	subnets := e.requests("DescribeSubnets")
	for range 2 {
		if err := p.Refresh(bg); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.requests("DescribeSubnets") - subnets; n != 0 {
		t.Errorf("refreshes described subnets %d times", n)
	}

	// A provider managing no group searches nowhere.
	none := e.provider(Config{ClusterName: "empty"})
	described := e.requests("DescribeInstances")
	_, err = none.InstanceByPrivateDNSName(bg, inst.PrivateDNSName)
	wantIs(t, err, cloud.ErrNotFound)
	if n := e.requests("DescribeInstances") - described; n != 0 {
		t.Errorf("a lookup without managed groups made %d DescribeInstances calls", n)
	}
}

func TestPlainGroupsSearchTheDefaultVPC(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.createPlainGroup("legacy", "m5.large", 0) // zones only: the default subnets
	e.tagGroup("legacy", "kubernetes.io/cluster/"+testCluster, "owned")
	if _, err := e.as.SetDesiredCapacity(bg, &autoscaling.SetDesiredCapacityInput{AutoScalingGroupName: sdkaws.String("legacy"),
		DesiredCapacity: sdkaws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	id := sdkaws.ToString(e.waitInService("legacy", 1)[0].InstanceId)
	p := e.provider(Config{GroupNames: []string{"legacy"}})
	inst, err := p.InstanceByID(bg, id)
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.InstanceByPrivateDNSName(bg, inst.PrivateDNSName)
	if err != nil || len(got) != 1 || got[0].ID != id || got[0].GroupName != "legacy" {
		t.Fatalf("InstanceByPrivateDNSName = %+v, %v", got, err)
	}
}

func TestPrivateIPsPrimaryFirst(t *testing.T) {
	ni := func(primary string, others ...string) ec2types.InstanceNetworkInterface {
		n := ec2types.InstanceNetworkInterface{PrivateIpAddress: sdkaws.String(primary)}
		for _, ip := range others {
			n.PrivateIpAddresses = append(n.PrivateIpAddresses, ec2types.InstancePrivateIpAddress{PrivateIpAddress: sdkaws.String(ip)})
		}
		return n
	}
	tests := []struct {
		name string
		in   ec2types.Instance
		want []string
	}{
		{"primary alone", ec2types.Instance{PrivateIpAddress: sdkaws.String("10.0.0.5")}, []string{"10.0.0.5"}},
		{"primary listed last by its interface", ec2types.Instance{PrivateIpAddress: sdkaws.String("10.0.0.5"),
			NetworkInterfaces: []ec2types.InstanceNetworkInterface{
				ni("10.0.1.9", "10.0.1.10"), ni("10.0.0.7", "10.0.0.8", "10.0.0.5")}},
			[]string{"10.0.0.5", "10.0.1.9", "10.0.1.10", "10.0.0.7", "10.0.0.8"}},
		{"no primary", ec2types.Instance{NetworkInterfaces: []ec2types.InstanceNetworkInterface{ni("10.0.0.7")}}, []string{"10.0.0.7"}},
		{"none", ec2types.Instance{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := privateIPs(tt.in); !slices.Equal(got, tt.want) {
				t.Errorf("privateIPs = %v, want %v", got, tt.want)
			}
		})
	}
}
