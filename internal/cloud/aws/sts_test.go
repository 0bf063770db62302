package aws

import (
	"context"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/kelp-dev/kelp/internal/localcloud"
)

// TestReadInstanceMetadataFromInstanceAddress reads the metadata of two
// instances of the local cloud, each from its own private IP: each gets
// its own name and its own role credentials, and from an address no
// instance has there is nothing to read.
func TestReadInstanceMetadataFromInstanceAddress(t *testing.T) {
	e := newEnv(t, envOptions{realClock: true, roles: []localcloud.Role{{Name: "kelp-node"}},
		profiles: []localcloud.InstanceProfile{{Name: "nodes", Role: "kelp-node"}}})
	md := httptest.NewServer(e.cloud.Metadata())
	t.Cleanup(md.Close)
	subnets, err := e.ec2.DescribeSubnets(context.Background(), &ec2.DescribeSubnetsInput{})
	if err != nil || len(subnets.Subnets) == 0 {
		t.Fatalf("DescribeSubnets: %v", err)
	}
	seen := map[string]string{}
	for range 2 {
		id, err := e.cloud.RunInstance(localcloud.RunInstanceInput{SubnetID: *subnets.Subnets[0].SubnetId, InstanceProfile: "nodes"})
		if err != nil {
			t.Fatal(err)
		}
		out, err := e.ec2.DescribeInstances(context.Background(), &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
		if err != nil {
			t.Fatal(err)
		}
		inst := out.Reservations[0].Instances[0]
		ip := netip.MustParseAddr(sdkaws.ToString(inst.PrivateIpAddress))
		got, err := ReadInstanceMetadata(context.Background(), MetadataOptions{Endpoint: md.URL, LocalAddr: ip})
		if err != nil {
			t.Fatalf("ReadInstanceMetadata from %s: %v", ip, err)
		}
		if got.Hostname != sdkaws.ToString(inst.PrivateDnsName) || got.Region != e.cloud.Region() {
			t.Errorf("instance %s: hostname %q region %q, want %q %q", id, got.Hostname, got.Region, sdkaws.ToString(inst.PrivateDnsName), e.cloud.Region())
		}
		if !strings.HasPrefix(got.Credentials.AccessKeyID, "ASIA") || got.Credentials.SessionToken == "" {
			t.Errorf("instance %s: credentials %+v are not temporary role credentials", id, got.Credentials)
		}
		if other, dup := seen[got.Credentials.AccessKeyID]; dup {
			t.Errorf("instances %s and %s got the same credentials", other, id)
		}
		seen[got.Credentials.AccessKeyID] = id
	}
	if _, err := ReadInstanceMetadata(context.Background(), MetadataOptions{Endpoint: md.URL, LocalAddr: netip.MustParseAddr("127.0.0.1")}); err == nil {
		t.Error("read metadata from an address no instance has")
	}
}
