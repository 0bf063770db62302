package localcloud

import (
	"slices"
	"strconv"
)

// Subnets, Availability Zones and images: the fixed part of the region.

type subnetXML struct {
	ID                   string        `xml:"subnetId"`
	ARN                  string        `xml:"subnetArn"`
	State                string        `xml:"state"`
	VPCID                string        `xml:"vpcId"`
	CIDRBlock            string        `xml:"cidrBlock"`
	AvailableIPs         int           `xml:"availableIpAddressCount"`
	AvailabilityZone     string        `xml:"availabilityZone"`
	AvailabilityZoneID   string        `xml:"availabilityZoneId"`
	DefaultForAz         bool          `xml:"defaultForAz"`
	MapPublicIPOnLaunch  bool          `xml:"mapPublicIpOnLaunch"`
	OwnerID              string        `xml:"ownerId"`
	AssignIPv6OnCreation bool          `xml:"assignIpv6AddressOnCreation"`
	IPv6Associations     items[string] `xml:"ipv6CidrBlockAssociationSet"`
	Tags                 items[tag]    `xml:"tagSet"`
	HostnameType         string        `xml:"privateDnsNameOptionsOnLaunch>hostnameType"`
}

type describeSubnetsResponse struct {
	ec2Meta
	Subnets   items[subnetXML] `xml:"subnetSet"`
	NextToken string           `xml:"nextToken,omitempty"`
}

// subnetXML renders a zone's subnet in the VPC (peer false, the zone's
// default subnet) or in the peer VPC. c.mu must be held.
func (c *Cloud) subnetXML(z zone, peer bool) subnetXML {
	id, vpc, name := z.SubnetID, c.region.VPCID, "kelp-local-"+z.Name
	if peer {
		id, vpc, name = z.PeerSubnetID, c.region.PeerVPCID, "kelp-local-peer-"+z.Name
	}
	used := 0
	for _, inst := range c.st.instances {
		if inst.SubnetID == id && inst.State != stateTerminated {
			used++
		}
	}
	return subnetXML{ID: id, ARN: "arn:aws:ec2:" + c.region.Name + ":" + AccountID + ":subnet/" + id,
		State: "available", VPCID: vpc, CIDRBlock: z.CIDR.String(), AvailableIPs: 1<<16 - 5 - used,
		AvailabilityZone: z.Name, AvailabilityZoneID: z.ID, DefaultForAz: !peer, OwnerID: AccountID,
		IPv6Associations: items[string]{}, Tags: items[tag]{{Key: "Name", Value: name}}, HostnameType: "ip-name"}
}

// subnetKey orders subnets by zone, the zone's default subnet first.
func subnetKey(s subnetXML) string {
	if s.DefaultForAz {
		return s.AvailabilityZone + "/0"
	}
	return s.AvailabilityZone + "/1"
}

func subnetFilter(s subnetXML, f filter) (bool, bool) {
	var v string
	switch f.Name {
	case "subnet-id":
		v = s.ID
	case "vpc-id":
		v = s.VPCID
	case "availability-zone":
		v = s.AvailabilityZone
	case "availability-zone-id":
		v = s.AvailabilityZoneID
	case "cidr-block", "cidr":
		v = s.CIDRBlock
	case "default-for-az":
		v = strconv.FormatBool(s.DefaultForAz)
	case "state":
		v = s.State
	case "owner-id":
		v = s.OwnerID
	default:
		return tagFilter(f, s.Tags)
	}
	return anyGlob(f.Values, v), true
}

func (c *Cloud) describeSubnets(p params) (ec2Response, error) {
	ids := p.list("SubnetId")
	return describe(&c.mu, p, describeOp[subnetXML, ec2Response]{
		page:  pageLimits{param: "MaxResults", def: 1000, lo: 5, hi: 1000},
		match: ec2Match(subnetFilter),
		check: func([]filter) error {
			for _, id := range ids {
				if _, _, ok := c.region.anySubnet(id); !ok {
					return errf(codeInvalidSubnetIDNotFound, "The subnet ID '%s' does not exist", id)
				}
			}
			return nil
		},
		list: func() ([]subnetXML, error) {
			var all []subnetXML
			for _, z := range c.region.Zones {
				for _, peer := range []bool{false, true} {
					if s := c.subnetXML(z, peer); len(ids) == 0 || slices.Contains(ids, s.ID) {
						all = append(all, s)
					}
				}
			}
			return all, nil
		},
		key: subnetKey,
		encode: func(page []subnetXML, next string) ec2Response {
			return &describeSubnetsResponse{Subnets: append(items[subnetXML]{}, page...), NextToken: next}
		},
	})
}

type zoneXML struct {
	OptInStatus        string        `xml:"optInStatus"`
	Messages           items[string] `xml:"messageSet"`
	RegionName         string        `xml:"regionName"`
	ZoneName           string        `xml:"zoneName"`
	ZoneID             string        `xml:"zoneId"`
	GroupName          string        `xml:"groupName"`
	NetworkBorderGroup string        `xml:"networkBorderGroup"`
	ZoneType           string        `xml:"zoneType"`
	ZoneState          string        `xml:"zoneState"`
}

type describeZonesResponse struct {
	ec2Meta
	Zones items[zoneXML] `xml:"availabilityZoneInfo"`
}

func zoneFilter(z zoneXML, f filter) (bool, bool) {
	var v string
	switch f.Name {
	case "zone-name":
		v = z.ZoneName
	case "zone-id":
		v = z.ZoneID
	case "state":
		v = z.ZoneState
	case "region-name":
		v = z.RegionName
	case "zone-type":
		v = z.ZoneType
	case "group-name":
		v = z.GroupName
	case "opt-in-status":
		v = z.OptInStatus
	default:
		return false, false
	}
	return anyGlob(f.Values, v), true
}

// describeAvailabilityZones is not paginated: every zone in one answer.
func (c *Cloud) describeAvailabilityZones(p params) (ec2Response, error) {
	names, ids := p.list("ZoneName"), p.list("ZoneId")
	return describe(&c.mu, p, describeOp[zoneXML, ec2Response]{
		match: ec2Match(zoneFilter),
		check: func([]filter) error {
			for _, n := range names {
				if _, ok := c.region.zone(n); !ok {
					return invalidParamf("The zone '%s' does not exist in the current region (%s)", n, c.region.Name)
				}
			}
			return nil
		},
		list: func() ([]zoneXML, error) {
			var all []zoneXML
			for _, z := range c.region.Zones {
				if (len(names) > 0 || len(ids) > 0) && !slices.Contains(names, z.Name) && !slices.Contains(ids, z.ID) {
					continue
				}
				all = append(all, zoneXML{OptInStatus: "opt-in-not-required", Messages: items[string]{}, RegionName: c.region.Name,
					ZoneName: z.Name, ZoneID: z.ID, GroupName: c.region.Name + "-zg-1", NetworkBorderGroup: c.region.Name,
					ZoneType: "availability-zone", ZoneState: "available"})
			}
			return all, nil
		},
		encode: func(page []zoneXML, _ string) ec2Response {
			return &describeZonesResponse{Zones: append(items[zoneXML]{}, page...)}
		},
	})
}

type imageXML struct {
	ID                 string          `xml:"imageId"`
	Location           string          `xml:"imageLocation"`
	State              string          `xml:"imageState"`
	OwnerID            string          `xml:"imageOwnerId"`
	CreationDate       string          `xml:"creationDate"`
	IsPublic           bool            `xml:"isPublic"`
	Architecture       string          `xml:"architecture"`
	ImageType          string          `xml:"imageType"`
	Name               string          `xml:"name"`
	Description        string          `xml:"description"`
	RootDeviceType     string          `xml:"rootDeviceType"`
	RootDeviceName     string          `xml:"rootDeviceName"`
	BlockDevices       items[imageBDM] `xml:"blockDeviceMapping"`
	VirtualizationType string          `xml:"virtualizationType"`
	Hypervisor         string          `xml:"hypervisor"`
	EnaSupport         bool            `xml:"enaSupport"`
	PlatformDetails    string          `xml:"platformDetails"`
	UsageOperation     string          `xml:"usageOperation"`
	BootMode           string          `xml:"bootMode"`
	ImdsSupport        string          `xml:"imdsSupport"`
	Tags               items[tag]      `xml:"tagSet"`
}

type imageBDM struct {
	DeviceName          string `xml:"deviceName"`
	DeleteOnTermination bool   `xml:"ebs>deleteOnTermination"`
	SnapshotID          string `xml:"ebs>snapshotId"`
	VolumeSize          int    `xml:"ebs>volumeSize"`
	VolumeType          string `xml:"ebs>volumeType"`
	Encrypted           bool   `xml:"ebs>encrypted"`
}

type describeImagesResponse struct {
	ec2Meta
	Images    items[imageXML] `xml:"imagesSet"`
	NextToken string          `xml:"nextToken,omitempty"`
}

func imageToXML(im image) imageXML {
	return imageXML{ID: im.ID, Location: AccountID + "/" + im.Name, State: "available", OwnerID: AccountID,
		CreationDate: imagesCreated, Architecture: im.Architecture, ImageType: "machine", Name: im.Name,
		Description: im.Description, RootDeviceType: "ebs", RootDeviceName: "/dev/xvda",
		BlockDevices: items[imageBDM]{{DeviceName: "/dev/xvda", DeleteOnTermination: true,
			SnapshotID: "snap-" + stableHex(im.ID), VolumeSize: 20, VolumeType: "gp3"}},
		VirtualizationType: "hvm", Hypervisor: "xen", EnaSupport: true, PlatformDetails: "Linux/UNIX",
		UsageOperation: "RunInstances", BootMode: "uefi-preferred", ImdsSupport: "v2.0", Tags: items[tag]{}}
}

func imageFilter(x imageXML, f filter) (bool, bool) {
	var v string
	switch f.Name {
	case "name":
		v = x.Name
	case "image-id":
		v = x.ID
	case "architecture":
		v = x.Architecture
	case "state":
		v = x.State
	case "owner-id":
		v = x.OwnerID
	case "image-type":
		v = x.ImageType
	case "root-device-type":
		v = x.RootDeviceType
	case "virtualization-type":
		v = x.VirtualizationType
	case "is-public":
		v = strconv.FormatBool(x.IsPublic)
	case "description":
		v = x.Description
	default:
		return tagFilter(f, x.Tags)
	}
	return anyGlob(f.Values, v), true
}

func (c *Cloud) describeImages(p params) (ec2Response, error) {
	ids, owners := p.list("ImageId"), p.list("Owner")
	if len(ids) > 0 && p.has("MaxResults") {
		return nil, errf(codeInvalidParameterCombination, "The parameter imagesSet cannot be used with the parameter maxResults")
	}
	return describe(&c.mu, p, describeOp[imageXML, ec2Response]{
		page:  pageLimits{param: "MaxResults", def: 1000, lo: 5, hi: 1000},
		match: ec2Match(imageFilter),
		check: func([]filter) error {
			for _, id := range ids {
				if !imageIDPattern.MatchString(id) {
					return errf(codeInvalidAMIIDMalformed, "Invalid id: \"%s\" (expecting \"ami-...\")", id)
				}
				if _, ok := findImage(id); !ok {
					return errf(codeInvalidAMIIDNotFound, "The image id '[%s]' does not exist", id)
				}
			}
			return nil
		},
		list: func() ([]imageXML, error) {
			var all []imageXML
			for _, im := range localImages {
				switch {
				case len(ids) > 0 && !slices.Contains(ids, im.ID),
					len(owners) > 0 && !slices.Contains(owners, "self") && !slices.Contains(owners, AccountID):
					continue
				}
				all = append(all, imageToXML(im))
			}
			return all, nil
		},
		key: func(x imageXML) string { return x.ID },
		encode: func(page []imageXML, next string) ec2Response {
			return &describeImagesResponse{Images: append(items[imageXML]{}, page...), NextToken: next}
		},
	})
}
