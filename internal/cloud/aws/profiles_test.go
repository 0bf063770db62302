package aws

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/kelp-dev/kelp/internal/localcloud"
)

func TestInstanceProfileRoles(t *testing.T) {
	e := newEnv(t, envOptions{roles: []localcloud.Role{{Name: "kelp-node"}},
		profiles: []localcloud.InstanceProfile{{Name: "nodes", Role: "kelp-node"}, {Name: "empty"}}})
	p := e.provider(Config{})
	subnets, err := e.ec2.DescribeSubnets(context.Background(), &ec2.DescribeSubnetsInput{})
	if err != nil || len(subnets.Subnets) == 0 {
		t.Fatalf("DescribeSubnets: %v", err)
	}
	subnet := *subnets.Subnets[0].SubnetId
	run := func(profile string) string {
		t.Helper()
		id, err := e.cloud.RunInstance(localcloud.RunInstanceInput{SubnetID: subnet, InstanceProfile: profile})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	withRole, bare, emptyProfile := run("nodes"), run(""), run("empty")
	for id, want := range map[string][]string{withRole: {"kelp-node"}, bare: {}, emptyProfile: {}} {
		got, err := p.InstanceProfileRoles(context.Background(), id)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("InstanceProfileRoles(%s) = %v, %v; want %v", id, got, err, want)
		}
	}
	if _, err := p.InstanceProfileRoles(context.Background(), "i-0123456789abcdef0"); err == nil {
		t.Error("an instance that does not exist has roles")
	}

	// Cached: no IAM call until the TTL passes.
	calls := e.requests("GetInstanceProfile")
	if _, err := p.InstanceProfileRoles(context.Background(), withRole); err != nil || e.requests("GetInstanceProfile") != calls {
		t.Errorf("a second lookup called IAM again (err %v)", err)
	}
	e.clock.Step(DefaultInstanceCacheTTL + time.Second)
	if _, err := p.InstanceProfileRoles(context.Background(), withRole); err != nil || e.requests("GetInstanceProfile") != calls+1 {
		t.Errorf("a lookup after the TTL did not call IAM (err %v)", err)
	}
}
