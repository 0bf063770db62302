package localcloud

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"

	"github.com/kelp-dev/kelp/internal/catalog"
)

// RunInstanceInput describes an instance started outside any Auto Scaling
// group (RunInstance).
type RunInstanceInput struct {
	// SubnetID is any subnet DescribeSubnets lists, of either VPC. Required.
	SubnetID string
	// PrivateIP is the instance's address in the subnet; default the
	// subnet's next free one. It may repeat an address in use in the other
	// VPC (the VPCs' CIDRs overlap, as two VPCs' may), never one in use in
	// its own.
	PrivateIP string
	// InstanceType; default m5.large.
	InstanceType string
	// ImageID; default ImageLocalNode.
	ImageID string
	// Tags are the instance's EC2 tags.
	Tags map[string]string
	// InstanceProfile names the instance's IAM instance profile (one of
	// Options.InstanceProfiles); "" for none.
	InstanceProfile string
}

// RunInstance starts an instance outside any group, as RunInstances would,
// and returns its id. It is running at once and the Runtime never boots it
// (it has no user-data): it exists to be described and terminated, say as
// another cluster's instance that shares a private DNS name with one of
// this cluster's in another VPC.
func (c *Cloud) RunInstance(in RunInstanceInput) (string, error) {
	if in.InstanceType == "" {
		in.InstanceType = "m5.large"
	}
	if in.ImageID == "" {
		in.ImageID = ImageLocalNode
	}
	z, vpc, ok := c.region.anySubnet(in.SubnetID)
	switch {
	case !ok:
		return "", fmt.Errorf("run instance: subnet %q does not exist", in.SubnetID)
	case in.InstanceProfile != "" && c.iam.profiles[in.InstanceProfile].Name == "":
		return "", fmt.Errorf("run instance: instance profile %q does not exist", in.InstanceProfile)
	case !slices.ContainsFunc(localImages, func(im image) bool { return im.ID == in.ImageID }):
		return "", fmt.Errorf("run instance: image %q does not exist", in.ImageID)
	}
	if _, err := catalog.Lookup(in.InstanceType); err != nil {
		return "", fmt.Errorf("run instance: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := &changes{meta: &meta{IPCursor: maps.Clone(c.st.meta.IPCursor)}}
	ip, err := c.standaloneIP(ch, z, vpc, in)
	if err != nil {
		return "", fmt.Errorf("run instance: %w", err)
	}
	id := "i-" + randomHex(17)
	for c.st.instances[id] != nil {
		id = "i-" + randomHex(17)
	}
	now := c.clock.Now().UTC()
	inst := &instance{ID: id, Type: in.InstanceType, Zone: z.Name, SubnetID: in.SubnetID, ImageID: in.ImageID,
		PrivateIP: ip, PrivateDNS: c.region.privateDNSName(ip), State: stateInService, LaunchTime: now, StateTime: now,
		Profile: in.InstanceProfile}
	for _, k := range slices.Sorted(maps.Keys(in.Tags)) {
		inst.Tags = append(inst.Tags, tag{Key: k, Value: in.Tags[k]})
	}
	ch.putInstance(inst)
	if err := c.commit(ch); err != nil {
		return "", fmt.Errorf("run instance: %w", err)
	}
	c.log.Info("standalone instance running", "instance", id, "subnet", in.SubnetID, "vpc", vpc, "dns", inst.PrivateDNS)
	return id, nil
}

// standaloneIP checks in.PrivateIP against the subnet and the addresses in
// use in its VPC, or allocates one. c.mu must be held.
func (c *Cloud) standaloneIP(ch *changes, z zone, vpc string, in RunInstanceInput) (string, error) {
	if in.PrivateIP == "" {
		return c.allocateIP(ch, zone{Name: z.Name, ID: z.ID, SubnetID: in.SubnetID, CIDR: z.CIDR})
	}
	addr, err := netip.ParseAddr(in.PrivateIP)
	if err != nil || !z.CIDR.Contains(addr) {
		return "", fmt.Errorf("private IP %q is not an address of subnet %s (%s)", in.PrivateIP, in.SubnetID, z.CIDR)
	}
	for _, other := range c.st.instances {
		if other.State != stateTerminated && other.PrivateIP == in.PrivateIP && c.region.vpcOf(other.SubnetID) == vpc {
			return "", fmt.Errorf("private IP %s is in use by instance %s in VPC %s", in.PrivateIP, other.ID, vpc)
		}
	}
	return in.PrivateIP, nil
}
