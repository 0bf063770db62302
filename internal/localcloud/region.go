package localcloud

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"regexp"
	"strings"
)

// DefaultRegion is the region the cloud simulates unless told otherwise.
const DefaultRegion = "us-east-1"

// Local images. Every region has them from the start; launching an instance
// from any other image id fails its scaling activity with
// InvalidAMIID.NotFound, as on AWS.
const (
	// ImageLocalNode is the x86_64 image named "kelp-local-node".
	ImageLocalNode = "ami-0ce1a000000000001"
	// ImageLocalNodeARM64 is the arm64 image named "kelp-local-node-arm64".
	ImageLocalNodeARM64 = "ami-0ce1a000000000002"
)

// image is one entry of the fixed image set.
type image struct {
	ID, Name, Description, Architecture string
}

var localImages = []image{
	{ID: ImageLocalNode, Name: "kelp-local-node", Architecture: "x86_64",
		Description: "kelp local node: boots a simulated kubelet from cloud-init user-data"},
	{ID: ImageLocalNodeARM64, Name: "kelp-local-node-arm64", Architecture: "arm64",
		Description: "kelp local node (arm64): boots a simulated kubelet from cloud-init user-data"},
}

// Image parameters: launch templates take "resolve:ssm:<parameter>" for
// an image, as on AWS, and the local cloud resolves these public
// parameters (a version suffix, ":N", is accepted and ignored).
const ssmImagePrefix = "resolve:ssm:"

var imageParameters = map[string]string{
	"/kelp/local-node/ami-id":       ImageLocalNode,
	"/kelp/local-node-arm64/ami-id": ImageLocalNodeARM64,
}

// resolveImageParameter returns the image id of an SSM parameter.
func resolveImageParameter(param string) (string, bool) {
	if i := strings.LastIndexByte(param, ':'); i >= 0 {
		param = param[:i]
	}
	id, ok := imageParameters[param]
	return id, ok
}

// imagesCreated is the creation date of the fixed images.
const imagesCreated = "2025-06-01T00:00:00.000Z"

func findImage(id string) (image, bool) {
	if param, ok := strings.CutPrefix(id, ssmImagePrefix); ok {
		if id, ok = resolveImageParameter(param); !ok {
			return image{}, false
		}
	}
	for _, im := range localImages {
		if im.ID == id {
			return im, true
		}
	}
	return image{}, false
}

// zone is an Availability Zone with its default subnet (in the region's
// VPC) and its subnet in the peer VPC.
type zone struct {
	Name         string       // e.g. us-east-1a
	ID           string       // e.g. use1-az1
	SubnetID     string       // subnet-<17 hex>, default for the zone
	PeerSubnetID string       // subnet-<17 hex>, in the peer VPC
	CIDR         netip.Prefix // 127.<n>.0.0/16, the same in both VPCs
}

// region is the simulated region: three zones and two VPCs. Groups launch
// into the VPC (VPCID); the peer VPC (PeerVPCID) has the same CIDRs, as
// another VPC of an account may, and holds only instances started with
// Cloud.RunInstance: the look-alikes of other clusters.
type region struct {
	Name      string
	VPCID     string
	PeerVPCID string
	VPCCIDR   string
	Zones     []zone
	DNSSuffix string // ec2.internal or <region>.compute.internal
}

var regionPattern = regexp.MustCompile(`^[a-z]{2}(-gov)?-[a-z]+-[0-9]+$`)

// AddressBlocks is the number of address blocks (Options.AddressBlock):
// three /16 subnets each, from 127.1.0.0 up to 127.252.255.255.
const AddressBlocks = 84

// newRegion builds the fixed layout of a region: zones <region>a, b and c
// with subnets 127.1.0.0/16, 127.2.0.0/16 and 127.3.0.0/16 in address
// block 0 (127.4, .5 and .6 in block 1, ...), ids derived from the names
// so that they are the same on every start.
func newRegion(name string, block int) (region, error) {
	if !regionPattern.MatchString(name) {
		return region{}, fmt.Errorf("region %q: want a name like us-east-1", name)
	}
	if block < 0 || block >= AddressBlocks {
		return region{}, fmt.Errorf("address block %d: want 0 to %d", block, AddressBlocks-1)
	}
	r := region{Name: name, VPCID: "vpc-" + stableHex(name+"/vpc"), PeerVPCID: "vpc-" + stableHex(name+"/peer-vpc"),
		VPCCIDR: "127.0.0.0/8", DNSSuffix: name + ".compute.internal"}
	if name == "us-east-1" {
		r.DNSSuffix = "ec2.internal"
	}
	for i, letter := range []string{"a", "b", "c"} {
		az := name + letter
		r.Zones = append(r.Zones, zone{
			Name:         az,
			ID:           fmt.Sprintf("%s-az%d", zoneIDPrefix(name), i+1),
			SubnetID:     "subnet-" + stableHex(az+"/subnet"),
			PeerSubnetID: "subnet-" + stableHex(az+"/peer-subnet"),
			CIDR:         netip.PrefixFrom(netip.AddrFrom4([4]byte{127, byte(3*block + i + 1), 0, 0}), 16),
		})
	}
	return r, nil
}

// zoneIDPrefix abbreviates a region as AWS zone ids do: us-east-1 → use1,
// eu-central-1 → euc1, ap-northeast-1 → apne1.
func zoneIDPrefix(region string) string {
	parts := strings.Split(region, "-")
	short := map[string]string{"north": "n", "south": "s", "east": "e", "west": "w", "central": "c",
		"northeast": "ne", "northwest": "nw", "southeast": "se", "southwest": "sw"}
	var b strings.Builder
	for i, p := range parts {
		switch {
		case i == 0 || i == len(parts)-1:
			b.WriteString(p)
		case short[p] != "":
			b.WriteString(short[p])
		default: // "gov" and unknown words: their initial
			b.WriteString(p[:1])
		}
	}
	return b.String()
}

func (r region) zone(name string) (zone, bool) {
	for _, z := range r.Zones {
		if z.Name == name {
			return z, true
		}
	}
	return zone{}, false
}

// subnet returns the zone of one of the VPC's subnets (where groups
// launch).
func (r region) subnet(id string) (zone, bool) {
	for _, z := range r.Zones {
		if z.SubnetID == id {
			return z, true
		}
	}
	return zone{}, false
}

// anySubnet returns the zone and VPC of a subnet of either VPC.
func (r region) anySubnet(id string) (z zone, vpc string, ok bool) {
	for _, z := range r.Zones {
		switch id {
		case z.SubnetID:
			return z, r.VPCID, true
		case z.PeerSubnetID:
			return z, r.PeerVPCID, true
		}
	}
	return zone{}, "", false
}

// vpcOf returns the VPC of a subnet; the VPC's own for an unknown one.
func (r region) vpcOf(subnetID string) string {
	if _, vpc, ok := r.anySubnet(subnetID); ok {
		return vpc
	}
	return r.VPCID
}

// privateDNSName forms the EC2 private DNS name of an IPv4 address:
// ip-127-1-0-4.ec2.internal in us-east-1, ip-127-1-0-4.<region>.compute.internal
// elsewhere.
func (r region) privateDNSName(ip string) string {
	return "ip-" + strings.ReplaceAll(ip, ".", "-") + "." + r.DNSSuffix
}

// stableHex returns 17 hex digits derived from s.
func stableHex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])[:17]
}

// randomHex returns n random hex digits.
func randomHex(n int) string {
	b := make([]byte, (n+1)/2)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)[:n]
}

// newRequestID returns a random UUID (version 4), as AWS request ids are.
func newRequestID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

var (
	instanceIDPattern = regexp.MustCompile(`^i-[0-9a-f]{8}([0-9a-f]{9})?$`)
	templateIDPattern = regexp.MustCompile(`^lt-[0-9a-f]{17}$`)
	imageIDPattern    = regexp.MustCompile(`^ami-[0-9a-f]{8}([0-9a-f]{9})?$`)
)
