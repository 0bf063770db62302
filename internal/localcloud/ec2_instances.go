package localcloud

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/kelp-dev/kelp/internal/catalog"
)

// EC2's API version (the Version parameter) and XML namespace.
const (
	ec2Version   = "2016-11-15"
	ec2Namespace = "http://ec2.amazonaws.com/doc/2016-11-15/"
)

// ec2Handler serves one EC2 action.
type ec2Handler func(p params) (ec2Response, error)

// ec2Service is EC2, on the ec2 protocol. Every action honours DryRun, and
// those that take a ClientToken are idempotent.
func (c *Cloud) ec2Service() *service {
	actions := map[string]handler{}
	for name, h := range c.ec2Handlers() {
		actions[name] = func(in *call) (any, error) { return h(in.params) }
	}
	return &service{signingName: "ec2", name: "AmazonEC2", version: ec2Version, namespace: ec2Namespace,
		proto: ec2Protocol{}, actions: actions, around: c.ec2Around}
}

// ec2Around answers DryRun requests without running them and runs the
// others through the ClientToken idempotency.
func (c *Cloud) ec2Around(in *call, run func() ([]byte, error)) ([]byte, error) {
	dry, err := in.params.boolOr("DryRun", false)
	switch {
	case err != nil:
		return nil, err
	case dry:
		return nil, &apiError{Code: "DryRunOperation", Message: "Request would have succeeded, but DryRun flag is set.",
			Status: http.StatusPreconditionFailed}
	}
	return c.idem.do(in.action, in.params, run)
}

// ec2Handlers maps EC2 actions to their handlers.
func (c *Cloud) ec2Handlers() map[string]ec2Handler {
	return map[string]ec2Handler{
		"CreateLaunchTemplate":           c.createLaunchTemplate,
		"CreateLaunchTemplateVersion":    c.createLaunchTemplateVersion,
		"DescribeLaunchTemplates":        c.describeLaunchTemplates,
		"DescribeLaunchTemplateVersions": c.describeLaunchTemplateVersions,
		"DeleteLaunchTemplate":           c.deleteLaunchTemplate,
		"ModifyLaunchTemplate":           c.modifyLaunchTemplate,
		"DescribeInstances":              c.describeInstances,
		"TerminateInstances":             c.terminateInstances,
		"CreateTags":                     c.createTags,
		"DeleteTags":                     c.deleteEC2Tags,
		"DescribeTags":                   c.describeEC2Tags,
		"DescribeInstanceTypes":          c.describeInstanceTypes,
		"DescribeSpotPriceHistory":       c.describeSpotPriceHistory,
		"DescribeSubnets":                c.describeSubnets,
		"DescribeAvailabilityZones":      c.describeAvailabilityZones,
		"DescribeImages":                 c.describeImages,
	}
}

type reservationXML struct {
	ID        string             `xml:"reservationId"`
	OwnerID   string             `xml:"ownerId"`
	Groups    items[securityRef] `xml:"groupSet"`
	Instances items[instanceXML] `xml:"instancesSet"`
}

type securityRef struct {
	ID   string `xml:"groupId"`
	Name string `xml:"groupName,omitempty"`
}

type stateXML struct {
	Code int    `xml:"code"`
	Name string `xml:"name"`
}

type stateReasonXML struct {
	Code    string `xml:"code"`
	Message string `xml:"message"`
}

type placementXML struct {
	AvailabilityZone   string `xml:"availabilityZone"`
	AvailabilityZoneID string `xml:"availabilityZoneId,omitempty"`
	GroupName          string `xml:"groupName"`
	Tenancy            string `xml:"tenancy"`
}

type instanceXML struct {
	ID                 string              `xml:"instanceId"`
	ImageID            string              `xml:"imageId"`
	State              stateXML            `xml:"instanceState"`
	PrivateDNSName     string              `xml:"privateDnsName"`
	DNSName            string              `xml:"dnsName"`
	Reason             string              `xml:"reason"`
	KeyName            string              `xml:"keyName,omitempty"`
	AmiLaunchIndex     int                 `xml:"amiLaunchIndex"`
	ProductCodes       items[string]       `xml:"productCodes"`
	InstanceType       string              `xml:"instanceType"`
	LaunchTime         xmlTime             `xml:"launchTime"`
	Placement          placementXML        `xml:"placement"`
	MonitoringState    string              `xml:"monitoring>state"`
	SubnetID           string              `xml:"subnetId,omitempty"`
	VPCID              string              `xml:"vpcId,omitempty"`
	PrivateIPAddress   string              `xml:"privateIpAddress,omitempty"`
	SourceDestCheck    bool                `xml:"sourceDestCheck"`
	Groups             items[securityRef]  `xml:"groupSet"`
	StateReason        *stateReasonXML     `xml:"stateReason,omitempty"`
	Architecture       string              `xml:"architecture"`
	RootDeviceType     string              `xml:"rootDeviceType"`
	RootDeviceName     string              `xml:"rootDeviceName"`
	InstanceLifecycle  string              `xml:"instanceLifecycle,omitempty"`
	SpotRequestID      string              `xml:"spotInstanceRequestId,omitempty"`
	VirtualizationType string              `xml:"virtualizationType"`
	ClientToken        string              `xml:"clientToken"`
	Tags               items[tag]          `xml:"tagSet,omitempty"`
	Hypervisor         string              `xml:"hypervisor"`
	EbsOptimized       bool                `xml:"ebsOptimized"`
	EnaSupport         bool                `xml:"enaSupport"`
	PlatformDetails    string              `xml:"platformDetails"`
	UsageOperation     string              `xml:"usageOperation"`
	HostnameType       string              `xml:"privateDnsNameOptions>hostnameType"`
	IamInstanceProfile *instanceProfileRef `xml:"iamInstanceProfile,omitempty"`
}

// instanceProfileRef is an instance's iamInstanceProfile, as EC2 gives it.
type instanceProfileRef struct {
	Arn string `xml:"arn"`
	ID  string `xml:"id"`
}

type describeInstancesResponse struct {
	ec2Meta
	Reservations items[reservationXML] `xml:"reservationSet"`
	NextToken    string                `xml:"nextToken,omitempty"`
}

type instanceStateChange struct {
	ID       string   `xml:"instanceId"`
	Current  stateXML `xml:"currentState"`
	Previous stateXML `xml:"previousState"`
}

type terminateInstancesResponse struct {
	ec2Meta
	Instances items[instanceStateChange] `xml:"instancesSet"`
}

func stateOf(l lifecycle) stateXML {
	code, name := l.ec2State()
	return stateXML{Code: code, Name: name}
}

// instanceXML renders an instance as DescribeInstances does. c.mu must be held.
func (c *Cloud) instanceXML(inst *instance) instanceXML {
	x := instanceXML{ID: inst.ID, ImageID: inst.ImageID, State: stateOf(inst.State), KeyName: inst.KeyName,
		ProductCodes: items[string]{}, InstanceType: inst.Type, LaunchTime: xmlTime(inst.LaunchTime),
		Placement:       placementXML{AvailabilityZone: inst.Zone, Tenancy: "default"},
		MonitoringState: "disabled", SourceDestCheck: true, Groups: items[securityRef]{},
		RootDeviceType: "ebs", RootDeviceName: "/dev/xvda", VirtualizationType: "hvm", ClientToken: inst.LaunchActivity,
		Tags: items[tag](inst.Tags), Hypervisor: "xen", EbsOptimized: true, EnaSupport: true,
		PlatformDetails: "Linux/UNIX", UsageOperation: "RunInstances", HostnameType: "ip-name"}
	if z, ok := c.region.zone(inst.Zone); ok {
		x.Placement.AvailabilityZoneID = z.ID
	}
	if it, err := catalog.Lookup(inst.Type); err == nil {
		x.Architecture = string(it.Architecture)
	}
	if inst.Profile != "" {
		x.IamInstanceProfile = &instanceProfileRef{Arn: InstanceProfileARN(inst.Profile), ID: iamIDOf("AIPA", inst.Profile)}
	}
	for _, sg := range inst.SecurityGroupIDs {
		x.Groups = append(x.Groups, securityRef{ID: sg})
	}
	if inst.Spot {
		x.InstanceLifecycle, x.SpotRequestID = "spot", "sir-"+stableHex(inst.ID)[:8]
	}
	if inst.State != stateTerminated {
		x.PrivateDNSName, x.PrivateIPAddress = inst.PrivateDNS, inst.PrivateIP
		x.SubnetID, x.VPCID = inst.SubnetID, c.region.vpcOf(inst.SubnetID)
	}
	if inst.StateReason != "" {
		x.StateReason = &stateReasonXML{Code: inst.StateReason, Message: inst.StateMessage}
		x.Reason = "User initiated (" + inst.StateTime.UTC().Format("2006-01-02 15:04:05") + " GMT)"
		if inst.StateReason != "Client.UserInitiatedShutdown" {
			x.Reason = inst.StateMessage
		}
	}
	return x
}

// checkInstanceIDs verifies the ids' form and existence. c.mu must be held.
func (c *Cloud) checkInstanceIDs(ids []string) error {
	var missing []string
	for _, id := range ids {
		if !instanceIDPattern.MatchString(id) {
			return errf(codeInvalidInstanceIDMalformed, "Invalid id: \"%s\"", id)
		}
		if c.st.instances[id] == nil {
			missing = append(missing, id)
		}
	}
	switch len(missing) {
	case 0:
		return nil
	case 1:
		return errf(codeInvalidInstanceIDNotFound, "The instance ID '%s' does not exist", missing[0])
	}
	return errf(codeInvalidInstanceIDNotFound, "The instance IDs '%s' do not exist", strings.Join(missing, ", "))
}

func (c *Cloud) describeInstances(p params) (ec2Response, error) {
	ids := p.list("InstanceId")
	if len(ids) > 0 && p.has("MaxResults") {
		return nil, errf(codeInvalidParameterCombination, "The parameter instancesSet cannot be used with the parameter maxResults")
	}
	return describe(&c.mu, p, describeOp[*instance, ec2Response]{
		page:  pageLimits{param: "MaxResults", def: 1000, lo: 5, hi: 1000},
		match: ec2Match(c.instanceFilter),
		list: func() ([]*instance, error) {
			if err := c.checkInstanceIDs(ids); err != nil {
				return nil, err
			}
			var insts []*instance
			for _, inst := range c.st.instances {
				if len(ids) == 0 || slices.Contains(ids, inst.ID) {
					insts = append(insts, inst)
				}
			}
			return insts, nil
		},
		key: func(i *instance) string { return i.ID },
		encode: func(page []*instance, next string) ec2Response {
			resp := &describeInstancesResponse{Reservations: items[reservationXML]{}, NextToken: next}
			for _, inst := range page {
				resp.Reservations = append(resp.Reservations, reservationXML{ID: "r-" + stableHex(inst.ID), OwnerID: AccountID,
					Groups: items[securityRef]{}, Instances: items[instanceXML]{c.instanceXML(inst)}})
			}
			return resp
		},
	})
}

// instanceFilter evaluates one DescribeInstances filter. c.mu must be held.
func (c *Cloud) instanceFilter(inst *instance, f filter) (bool, bool) {
	code, name := inst.State.ec2State()
	var v string
	switch f.Name {
	case "instance-id":
		v = inst.ID
	case "instance-state-name":
		v = name
	case "instance-state-code":
		v = strconv.Itoa(code)
	case "private-dns-name":
		if inst.State == stateTerminated {
			return false, true
		}
		v = inst.PrivateDNS
	case "private-ip-address", "network-interface.addresses.private-ip-address":
		if inst.State == stateTerminated {
			return false, true
		}
		v = inst.PrivateIP
	case "availability-zone":
		v = inst.Zone
	case "instance-type":
		v = inst.Type
	case "instance-lifecycle":
		if !inst.Spot {
			return false, true
		}
		v = "spot"
	case "image-id":
		v = inst.ImageID
	case "subnet-id":
		v = inst.SubnetID
	case "vpc-id":
		v = c.region.vpcOf(inst.SubnetID)
	default:
		return tagFilter(f, inst.Tags)
	}
	return anyGlob(f.Values, v), true
}

func (c *Cloud) terminateInstances(p params) (ec2Response, error) {
	ids := p.list("InstanceId")
	if len(ids) == 0 {
		return nil, p.requiredErr("InstanceId")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.checkInstanceIDs(ids); err != nil {
		return nil, err
	}
	now := c.clock.Now().UTC()
	ch := &changes{}
	var stops []stopRequest
	resp := &terminateInstancesResponse{Instances: items[instanceStateChange]{}}
	for _, id := range slices.Compact(slices.Sorted(slices.Values(ids))) {
		inst := c.st.instances[id]
		change := instanceStateChange{ID: id, Previous: stateOf(inst.State), Current: stateOf(inst.State)}
		// On a group's instance, too, TerminateInstances skips the
		// lifecycle hooks (an instance in Terminating:Wait goes at once).
		cause := fmt.Sprintf("At %s an instance was taken out of service in response to an EC2 health check indicating "+
			"it has been terminated or stopped.", causeTime(now))
		stop, err := c.terminateNow(ch, c.st.groups[inst.Group], inst, cause, "Client.UserInitiatedShutdown", now)
		if err != nil {
			return nil, err
		}
		if stop != nil {
			stops = append(stops, *stop)
			change.Current = stateOf(stateTerminating)
		}
		resp.Instances = append(resp.Instances, change)
	}
	if err := c.commit(ch); err != nil {
		return nil, err
	}
	c.startStops(stops)
	c.trigger()
	return resp, nil
}
