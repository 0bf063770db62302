package aws

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/pool"
)

// DescribeLaunchTemplate implements pool.CloudReader: the template's tags
// and the user-data of its $Latest version. A template that does not
// exist wraps cloud.ErrNotFound.
func (p *Provider) DescribeLaunchTemplate(ctx context.Context, name string) (pool.TemplateInfo, error) {
	out, err := call(ctx, p, "DescribeLaunchTemplates", func(ctx context.Context) (*ec2.DescribeLaunchTemplatesOutput, error) {
		return p.ec2.DescribeLaunchTemplates(ctx, &ec2.DescribeLaunchTemplatesInput{LaunchTemplateNames: []string{name}})
	})
	if err != nil {
		return pool.TemplateInfo{}, err
	}
	if len(out.LaunchTemplates) != 1 {
		return pool.TemplateInfo{}, fmt.Errorf("launch template %s: %w", name, cloud.ErrNotFound)
	}
	info := pool.TemplateInfo{Name: name, Tags: map[string]string{}}
	for _, t := range out.LaunchTemplates[0].Tags {
		info.Tags[sdkaws.ToString(t.Key)] = sdkaws.ToString(t.Value)
	}
	versions, err := call(ctx, p, "DescribeLaunchTemplateVersions", func(ctx context.Context) (*ec2.DescribeLaunchTemplateVersionsOutput, error) {
		return p.ec2.DescribeLaunchTemplateVersions(ctx, &ec2.DescribeLaunchTemplateVersionsInput{
			LaunchTemplateName: sdkaws.String(name), Versions: []string{"$Latest"}})
	})
	if err != nil {
		return pool.TemplateInfo{}, fmt.Errorf("describe versions of launch template %s: %w", name, err)
	}
	if len(versions.LaunchTemplateVersions) != 1 || versions.LaunchTemplateVersions[0].LaunchTemplateData == nil {
		return pool.TemplateInfo{}, fmt.Errorf("launch template %s has no latest version", name)
	}
	data := versions.LaunchTemplateVersions[0].LaunchTemplateData
	if m := data.MetadataOptions; m != nil {
		info.Metadata = pool.MetadataOptions{HTTPTokens: string(m.HttpTokens), HopLimit: sdkaws.ToInt32(m.HttpPutResponseHopLimit)}
	}
	if ip := data.IamInstanceProfile; ip != nil {
		info.InstanceProfile = cmp.Or(sdkaws.ToString(ip.Arn), sdkaws.ToString(ip.Name))
	}
	ud := sdkaws.ToString(data.UserData)
	if info.UserData, err = base64.StdEncoding.DecodeString(ud); err != nil {
		return pool.TemplateInfo{}, fmt.Errorf("user-data of launch template %s: not base64: %w", name, err)
	}
	return info, nil
}

// CreateLaunchTemplate implements pool.CloudWriter. A name that is taken
// wraps pool.ErrExists.
func (p *Provider) CreateLaunchTemplate(ctx context.Context, t pool.LaunchTemplate) error {
	data := &ec2types.RequestLaunchTemplateData{
		ImageId:         sdkaws.String(t.ImageID),
		InstanceType:    ec2types.InstanceType(t.InstanceType),
		UserData:        sdkaws.String(base64.StdEncoding.EncodeToString(t.UserData)),
		MetadataOptions: metadataOptions(t.Metadata),
	}
	if t.InstanceProfile != "" {
		data.IamInstanceProfile = instanceProfile(t.InstanceProfile)
	}
	if len(t.SecurityGroupIDs) > 0 {
		data.SecurityGroupIds = t.SecurityGroupIDs
	}
	if t.KeyName != "" {
		data.KeyName = sdkaws.String(t.KeyName)
	}
	if t.Spot {
		data.InstanceMarketOptions = &ec2types.LaunchTemplateInstanceMarketOptionsRequest{MarketType: ec2types.MarketTypeSpot}
	}
	in := &ec2.CreateLaunchTemplateInput{LaunchTemplateName: sdkaws.String(t.Name), LaunchTemplateData: data}
	if len(t.Tags) > 0 {
		spec := ec2types.TagSpecification{ResourceType: ec2types.ResourceTypeLaunchTemplate}
		for _, tag := range t.Tags {
			spec.Tags = append(spec.Tags, ec2types.Tag{Key: sdkaws.String(tag.Key), Value: sdkaws.String(tag.Value)})
		}
		in.TagSpecifications = []ec2types.TagSpecification{spec}
	}
	_, err := call(ctx, p, "CreateLaunchTemplate", func(ctx context.Context) (*ec2.CreateLaunchTemplateOutput, error) {
		return p.ec2.CreateLaunchTemplate(ctx, in)
	})
	return err
}

// CreateLaunchTemplateVersion implements pool.CloudWriter: a version from
// $Latest with c's changes.
func (p *Provider) CreateLaunchTemplateVersion(ctx context.Context, name string, c pool.TemplateChange) error {
	data := &ec2types.RequestLaunchTemplateData{}
	if c.ImageID != "" {
		data.ImageId = sdkaws.String(c.ImageID)
	}
	if c.InstanceType != "" {
		data.InstanceType = ec2types.InstanceType(c.InstanceType)
	}
	if c.UserData != nil {
		data.UserData = sdkaws.String(base64.StdEncoding.EncodeToString(c.UserData))
	}
	if c.Metadata != nil {
		data.MetadataOptions = metadataOptions(*c.Metadata)
	}
	if c.InstanceProfile != "" {
		data.IamInstanceProfile = instanceProfile(c.InstanceProfile)
	}
	_, err := call(ctx, p, "CreateLaunchTemplateVersion", func(ctx context.Context) (*ec2.CreateLaunchTemplateVersionOutput, error) {
		return p.ec2.CreateLaunchTemplateVersion(ctx, &ec2.CreateLaunchTemplateVersionInput{
			LaunchTemplateName: sdkaws.String(name), SourceVersion: sdkaws.String("$Latest"), LaunchTemplateData: data})
	})
	return err
}

// DeleteLaunchTemplate implements pool.CloudWriter. A template that does
// not exist wraps cloud.ErrNotFound.
func (p *Provider) DeleteLaunchTemplate(ctx context.Context, name string) error {
	_, err := call(ctx, p, "DeleteLaunchTemplate", func(ctx context.Context) (*ec2.DeleteLaunchTemplateOutput, error) {
		return p.ec2.DeleteLaunchTemplate(ctx, &ec2.DeleteLaunchTemplateInput{LaunchTemplateName: sdkaws.String(name)})
	})
	return err
}

// instanceProfile is the request form of a template's instance profile:
// an ARN as its Arn, anything else as its Name (EC2 takes one of them).
func instanceProfile(nameOrARN string) *ec2types.LaunchTemplateIamInstanceProfileSpecificationRequest {
	if strings.HasPrefix(nameOrARN, "arn:") {
		return &ec2types.LaunchTemplateIamInstanceProfileSpecificationRequest{Arn: sdkaws.String(nameOrARN)}
	}
	return &ec2types.LaunchTemplateIamInstanceProfileSpecificationRequest{Name: sdkaws.String(nameOrARN)}
}

// metadataOptions is the request form of a template's metadata options:
// the endpoint enabled, tokens and hop limit as given (zero ones left to
// EC2's defaults).
func metadataOptions(m pool.MetadataOptions) *ec2types.LaunchTemplateInstanceMetadataOptionsRequest {
	r := &ec2types.LaunchTemplateInstanceMetadataOptionsRequest{
		HttpEndpoint: ec2types.LaunchTemplateInstanceMetadataEndpointStateEnabled,
		HttpTokens:   ec2types.LaunchTemplateHttpTokensState(m.HTTPTokens),
	}
	if m.HopLimit != 0 {
		r.HttpPutResponseHopLimit = sdkaws.Int32(m.HopLimit)
	}
	return r
}

// DescribeTemplateVersion implements pool.CloudReader through the
// provider's cache of numbered versions (template.go): each (template,
// version) is read once; $Latest and $Default are read every time.
func (p *Provider) DescribeTemplateVersion(ctx context.Context, ref pool.TemplateRef) (pool.TemplateVersion, error) {
	spec := &astypes.LaunchTemplateSpecification{Version: sdkaws.String(ref.Version)}
	if ref.ID != "" {
		spec.LaunchTemplateId = sdkaws.String(ref.ID)
	} else {
		spec.LaunchTemplateName = sdkaws.String(ref.Name)
	}
	data, err := p.launchTemplateData(ctx, spec)
	if err != nil {
		return pool.TemplateVersion{}, err // names the template and version
	}
	return templateVersion(data)
}

// templateVersion splits launch template data into what Drift compares:
// the image, type and user-data apart, everything else as JSON.
func templateVersion(data *ec2types.ResponseLaunchTemplateData) (pool.TemplateVersion, error) {
	v := pool.TemplateVersion{ImageID: sdkaws.ToString(data.ImageId), InstanceType: string(data.InstanceType)}
	ud, err := base64.StdEncoding.DecodeString(sdkaws.ToString(data.UserData))
	if err != nil {
		return pool.TemplateVersion{}, fmt.Errorf("launch template user-data: not base64: %w", err)
	}
	v.UserData = ud
	rest := *data // data is the cache's: change a copy
	rest.ImageId, rest.InstanceType, rest.UserData = nil, "", nil
	settings, err := json.Marshal(rest)
	if err != nil {
		return pool.TemplateVersion{}, fmt.Errorf("encode launch template data: %w", err)
	}
	v.Settings = string(settings)
	return v, nil
}
