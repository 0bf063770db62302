package localcloud

import (
	"encoding/base64"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/kelp-dev/kelp/internal/catalog"
)

// ltData is a launch template version's LaunchTemplateData: the fields kelp
// uses, stored as JSON and rendered with the ec2 protocol's names.
type ltData struct {
	EbsOptimized                      *bool            `xml:"ebsOptimized,omitempty"`
	IamInstanceProfile                *iamProfile      `xml:"iamInstanceProfile,omitempty"`
	BlockDeviceMappings               items[blockDev]  `xml:"blockDeviceMappingSet,omitempty"`
	ImageID                           string           `xml:"imageId,omitempty"`
	InstanceType                      string           `xml:"instanceType,omitempty"`
	KeyName                           string           `xml:"keyName,omitempty"`
	InstanceInitiatedShutdownBehavior string           `xml:"instanceInitiatedShutdownBehavior,omitempty"`
	UserData                          string           `xml:"userData,omitempty"` // base64
	TagSpecifications                 items[tagSpec]   `xml:"tagSpecificationSet,omitempty"`
	SecurityGroupIDs                  items[string]    `xml:"securityGroupIdSet,omitempty"`
	SecurityGroups                    items[string]    `xml:"securityGroupSet,omitempty"`
	InstanceMarketOptions             *marketOptions   `xml:"instanceMarketOptions,omitempty"`
	MetadataOptions                   *metadataOptions `xml:"metadataOptions,omitempty"`
}

type iamProfile struct {
	Arn  string `xml:"arn,omitempty"`
	Name string `xml:"name,omitempty"`
}

type blockDev struct {
	DeviceName  string     `xml:"deviceName,omitempty"`
	VirtualName string     `xml:"virtualName,omitempty"`
	Ebs         *ebsDevice `xml:"ebs,omitempty"`
	NoDevice    string     `xml:"noDevice,omitempty"`
}

type ebsDevice struct {
	Encrypted           *bool  `xml:"encrypted,omitempty"`
	DeleteOnTermination *bool  `xml:"deleteOnTermination,omitempty"`
	VolumeSize          *int   `xml:"volumeSize,omitempty"`
	VolumeType          string `xml:"volumeType,omitempty"`
}

type tagSpec struct {
	ResourceType string     `xml:"resourceType"`
	Tags         items[tag] `xml:"tagSet"`
}

type marketOptions struct {
	MarketType  string       `xml:"marketType,omitempty"`
	SpotOptions *spotOptions `xml:"spotOptions,omitempty"`
}

type spotOptions struct {
	MaxPrice                     string `xml:"maxPrice,omitempty"`
	SpotInstanceType             string `xml:"spotInstanceType,omitempty"`
	InstanceInterruptionBehavior string `xml:"instanceInterruptionBehavior,omitempty"`
}

type metadataOptions struct {
	HTTPTokens              string `xml:"httpTokens,omitempty"`
	HTTPPutResponseHopLimit *int   `xml:"httpPutResponseHopLimit,omitempty"`
	HTTPEndpoint            string `xml:"httpEndpoint,omitempty"`
	HTTPProtocolIPv6        string `xml:"httpProtocolIpv6,omitempty"`
	InstanceMetadataTags    string `xml:"instanceMetadataTags,omitempty"`
}

// spot reports whether instances launched from the data are spot instances.
func (d ltData) spot() bool {
	return d.InstanceMarketOptions != nil && d.InstanceMarketOptions.MarketType == "spot"
}

// instanceTags returns the tags the data puts on instances.
func (d ltData) instanceTags() []tag {
	for _, ts := range d.TagSpecifications {
		if ts.ResourceType == "instance" {
			return slices.Clone(ts.Tags)
		}
	}
	return nil
}

const dataPrefix = "LaunchTemplateData."

// parseLTData reads LaunchTemplateData.* and validates it.
func parseLTData(p params) (ltData, error) {
	var d ltData
	var err error
	if d.EbsOptimized, err = p.optBool(dataPrefix + "EbsOptimized"); err != nil {
		return d, err
	}
	if p.hasPrefix(dataPrefix + "IamInstanceProfile.") {
		d.IamInstanceProfile = &iamProfile{Arn: p.str(dataPrefix + "IamInstanceProfile.Arn"),
			Name: p.str(dataPrefix + "IamInstanceProfile.Name")}
	}
	if d.BlockDeviceMappings, err = parseBlockDevices(p); err != nil {
		return d, err
	}
	d.ImageID, d.InstanceType = p.str(dataPrefix+"ImageId"), p.str(dataPrefix+"InstanceType")
	d.KeyName, d.UserData = p.str(dataPrefix+"KeyName"), p.str(dataPrefix+"UserData")
	d.InstanceInitiatedShutdownBehavior = p.str(dataPrefix + "InstanceInitiatedShutdownBehavior")
	if d.TagSpecifications, err = parseTagSpecs(p, dataPrefix+"TagSpecification",
		"instance", "volume", "network-interface", "spot-instances-request"); err != nil {
		return d, err
	}
	d.SecurityGroupIDs = p.list(dataPrefix + "SecurityGroupId")
	d.SecurityGroups = p.list(dataPrefix + "SecurityGroup")
	if d.InstanceMarketOptions, err = parseMarketOptions(p); err != nil {
		return d, err
	}
	if d.MetadataOptions, err = parseMetadataOptions(p); err != nil {
		return d, err
	}
	return d, validateLTData(d)
}

func validateLTData(d ltData) error {
	if d.InstanceType != "" {
		if _, err := catalog.Lookup(d.InstanceType); err != nil {
			return invalidParamf("Invalid value '%s' for InstanceType. The local cloud offers: %v", d.InstanceType, catalog.Names())
		}
	}
	if d.UserData != "" {
		if _, err := base64.StdEncoding.DecodeString(d.UserData); err != nil {
			return errf("InvalidUserData.Malformed", "Invalid BASE64 encoding of user data.")
		}
	}
	if param, ok := strings.CutPrefix(d.ImageID, ssmImagePrefix); ok {
		if _, found := resolveImageParameter(param); !found {
			return invalidParamf("The SSM parameter %s could not be resolved to an image id: it does not exist (the local cloud has %s).",
				param, strings.Join(slices.Sorted(maps.Keys(imageParameters)), ", "))
		}
		return nil
	}
	if d.ImageID != "" && !imageIDPattern.MatchString(d.ImageID) {
		return errf(codeInvalidAMIIDMalformed, "Invalid id: \"%s\" (expecting \"ami-...\")", d.ImageID)
	}
	return nil
}

func parseBlockDevices(p params) (items[blockDev], error) {
	var out items[blockDev]
	for _, n := range p.indexes(dataPrefix + "BlockDeviceMapping") {
		k := dataPrefix + "BlockDeviceMapping." + strconv.Itoa(n) + "."
		b := blockDev{DeviceName: p.str(k + "DeviceName"), VirtualName: p.str(k + "VirtualName"), NoDevice: p.str(k + "NoDevice")}
		if p.hasPrefix(k + "Ebs.") {
			e := &ebsDevice{VolumeType: p.str(k + "Ebs.VolumeType")}
			var err error
			if e.Encrypted, err = p.optBool(k + "Ebs.Encrypted"); err != nil {
				return nil, err
			}
			if e.DeleteOnTermination, err = p.optBool(k + "Ebs.DeleteOnTermination"); err != nil {
				return nil, err
			}
			if e.VolumeSize, err = p.optInt(k + "Ebs.VolumeSize"); err != nil {
				return nil, err
			}
			b.Ebs = e
		}
		out = append(out, b)
	}
	return out, nil
}

// parseTagSpecs reads name.N.ResourceType and name.N.Tag.M.{Key,Value},
// accepting only the given resource types.
func parseTagSpecs(p params, name string, resourceTypes ...string) (items[tagSpec], error) {
	var out items[tagSpec]
	for _, n := range p.indexes(name) {
		k := name + "." + strconv.Itoa(n) + "."
		ts := tagSpec{ResourceType: p.str(k + "ResourceType")}
		if !slices.Contains(resourceTypes, ts.ResourceType) {
			return nil, invalidParamf("'%s' is not a valid taggable resource type for this operation.", ts.ResourceType)
		}
		tags, err := parseEC2Tags(p, k+"Tag")
		if err != nil {
			return nil, err
		}
		ts.Tags = tags
		out = append(out, ts)
	}
	return out, nil
}

// parseEC2Tags reads name.N.Key and name.N.Value.
func parseEC2Tags(p params, name string) (items[tag], error) {
	var out items[tag]
	for _, n := range p.indexes(name) {
		k := name + "." + strconv.Itoa(n) + "."
		t := tag{Key: p.str(k + "Key"), Value: p.str(k + "Value")}
		if err := validateEC2TagKey(t.Key); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

func validateEC2TagKey(key string) error {
	switch {
	case key == "":
		return invalidParamf("Tag key must not be empty")
	case len(key) > 128:
		return invalidParamf("Tag key exceeds the maximum length of 128 characters")
	case len(key) >= 4 && key[:4] == "aws:":
		return invalidParamf("Tag keys starting with 'aws:' are reserved for internal use")
	}
	return nil
}

func parseMarketOptions(p params) (*marketOptions, error) {
	k := dataPrefix + "InstanceMarketOptions."
	if !p.hasPrefix(k) {
		return nil, nil
	}
	m := &marketOptions{MarketType: p.str(k + "MarketType")}
	if m.MarketType != "spot" {
		return nil, invalidParamf("Invalid value '%s' for InstanceMarketOptions.MarketType: the local cloud supports 'spot'", m.MarketType)
	}
	if p.hasPrefix(k + "SpotOptions.") {
		m.SpotOptions = &spotOptions{MaxPrice: p.str(k + "SpotOptions.MaxPrice"),
			SpotInstanceType:             p.str(k + "SpotOptions.SpotInstanceType"),
			InstanceInterruptionBehavior: p.str(k + "SpotOptions.InstanceInterruptionBehavior")}
	}
	return m, nil
}

func parseMetadataOptions(p params) (*metadataOptions, error) {
	k := dataPrefix + "MetadataOptions."
	if !p.hasPrefix(k) {
		return nil, nil
	}
	m := &metadataOptions{HTTPTokens: p.str(k + "HttpTokens"), HTTPEndpoint: p.str(k + "HttpEndpoint"),
		HTTPProtocolIPv6: p.str(k + "HttpProtocolIpv6"), InstanceMetadataTags: p.str(k + "InstanceMetadataTags")}
	hop, err := p.optInt(k + "HttpPutResponseHopLimit")
	if err != nil {
		return nil, err
	}
	m.HTTPPutResponseHopLimit = hop
	return m, nil
}

// mergeLTData returns base with every member the request sent replaced by
// the request's.
func mergeLTData(p params, base, sent ltData) ltData {
	out := base
	set := func(name string, apply func()) {
		if p.hasPrefix(dataPrefix + name) {
			apply()
		}
	}
	set("EbsOptimized", func() { out.EbsOptimized = sent.EbsOptimized })
	set("IamInstanceProfile", func() { out.IamInstanceProfile = sent.IamInstanceProfile })
	set("BlockDeviceMapping", func() { out.BlockDeviceMappings = sent.BlockDeviceMappings })
	set("ImageId", func() { out.ImageID = sent.ImageID })
	set("InstanceType", func() { out.InstanceType = sent.InstanceType })
	set("KeyName", func() { out.KeyName = sent.KeyName })
	set("InstanceInitiatedShutdownBehavior", func() { out.InstanceInitiatedShutdownBehavior = sent.InstanceInitiatedShutdownBehavior })
	set("UserData", func() { out.UserData = sent.UserData })
	set("TagSpecification", func() { out.TagSpecifications = sent.TagSpecifications })
	set("SecurityGroupId", func() { out.SecurityGroupIDs = sent.SecurityGroupIDs })
	set("SecurityGroup.", func() { out.SecurityGroups = sent.SecurityGroups })
	set("InstanceMarketOptions", func() { out.InstanceMarketOptions = sent.InstanceMarketOptions })
	set("MetadataOptions", func() { out.MetadataOptions = sent.MetadataOptions })
	return out
}

// decodeUserData returns the raw user-data of a base64 string.
func decodeUserData(b64 string) ([]byte, error) {
	if b64 == "" {
		return nil, nil
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, fmt.Errorf("decode user-data: %w", err)
	}
	return raw, nil
}
