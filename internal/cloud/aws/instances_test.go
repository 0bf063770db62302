package aws

import (
	"strings"
	"testing"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"

	"github.com/kelp-dev/kelp/internal/catalog"
	"github.com/kelp-dev/kelp/internal/cloud"
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
