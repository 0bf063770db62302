package localcloud

import (
	"encoding/base64"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/kelp-dev/kelp/internal/testenv"
)

// fullTemplateInput is a CreateLaunchTemplate request using every member
// the local cloud keeps.
func fullTemplateInput(userData string) *ec2.CreateLaunchTemplateInput {
	return &ec2.CreateLaunchTemplateInput{
		LaunchTemplateName: aws.String("pool-general"), VersionDescription: aws.String("first"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{
			ImageId: aws.String(ImageLocalNode), InstanceType: ec2types.InstanceTypeM5Large, UserData: aws.String(userData),
			SecurityGroupIds: []string{"sg-0123456789abcdef0"},
			TagSpecifications: []ec2types.LaunchTemplateTagSpecificationRequest{{ResourceType: ec2types.ResourceTypeInstance,
				Tags: []ec2types.Tag{{Key: aws.String("role"), Value: aws.String("worker")}}}},
			InstanceMarketOptions: &ec2types.LaunchTemplateInstanceMarketOptionsRequest{MarketType: ec2types.MarketTypeSpot},
			BlockDeviceMappings: []ec2types.LaunchTemplateBlockDeviceMappingRequest{{DeviceName: aws.String("/dev/xvda"),
				Ebs: &ec2types.LaunchTemplateEbsBlockDeviceRequest{VolumeSize: aws.Int32(50), VolumeType: ec2types.VolumeTypeGp3}}},
			MetadataOptions: &ec2types.LaunchTemplateInstanceMetadataOptionsRequest{HttpTokens: ec2types.LaunchTemplateHttpTokensStateRequired},
		},
		TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeLaunchTemplate,
			Tags: []ec2types.Tag{{Key: aws.String("kelp.dev/pool"), Value: aws.String("general")}}}},
	}
}

func TestLaunchTemplateLifecycle(t *testing.T) {
	e := newEnv(t)
	userData := base64.StdEncoding.EncodeToString([]byte("#cloud-config\nruncmd: [echo hi]\n"))
	created := must[*ec2.CreateLaunchTemplateOutput](t)(e.ec2.CreateLaunchTemplate(ctx, fullTemplateInput(userData)))
	lt := created.LaunchTemplate
	id := aws.ToString(lt.LaunchTemplateId)
	if !templateIDPattern.MatchString(id) || aws.ToInt64(lt.LatestVersionNumber) != 1 || aws.ToInt64(lt.DefaultVersionNumber) != 1 ||
		len(lt.Tags) != 1 || lt.CreateTime == nil {
		t.Fatalf("CreateLaunchTemplate = %+v", lt)
	}
	// Version 2 from version 1 changes only the instance type.
	v2 := must[*ec2.CreateLaunchTemplateVersionOutput](t)(e.ec2.CreateLaunchTemplateVersion(ctx, &ec2.CreateLaunchTemplateVersionInput{
		LaunchTemplateId: aws.String(id), SourceVersion: aws.String("1"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{InstanceType: ec2types.InstanceTypeM5Xlarge}}))
	if v := v2.LaunchTemplateVersion; aws.ToInt64(v.VersionNumber) != 2 || v.LaunchTemplateData.InstanceType != ec2types.InstanceTypeM5Xlarge ||
		aws.ToString(v.LaunchTemplateData.UserData) != userData || aws.ToBool(v.DefaultVersion) {
		t.Fatalf("CreateLaunchTemplateVersion = %+v", v2.LaunchTemplateVersion)
	}
	// Version 3 without a source has only what it sends.
	must[*ec2.CreateLaunchTemplateVersionOutput](t)(e.ec2.CreateLaunchTemplateVersion(ctx, &ec2.CreateLaunchTemplateVersionInput{
		LaunchTemplateName: aws.String("pool-general"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String(ImageLocalNodeARM64), InstanceType: ec2types.InstanceTypeM6gLarge}}))

	versions := func(vs ...string) []ec2types.LaunchTemplateVersion {
		out := must[*ec2.DescribeLaunchTemplateVersionsOutput](t)(e.ec2.DescribeLaunchTemplateVersions(ctx,
			&ec2.DescribeLaunchTemplateVersionsInput{LaunchTemplateId: aws.String(id), Versions: vs}))
		return out.LaunchTemplateVersions
	}
	if got := versions("$Latest"); len(got) != 1 || aws.ToInt64(got[0].VersionNumber) != 3 || got[0].LaunchTemplateData.UserData != nil {
		t.Fatalf("$Latest = %+v", got)
	}
	def := versions("$Default")
	if len(def) != 1 || aws.ToInt64(def[0].VersionNumber) != 1 || !aws.ToBool(def[0].DefaultVersion) {
		t.Fatalf("$Default = %+v", def)
	}
	d := def[0].LaunchTemplateData
	if aws.ToString(d.ImageId) != ImageLocalNode || d.InstanceMarketOptions.MarketType != ec2types.MarketTypeSpot ||
		aws.ToInt32(d.BlockDeviceMappings[0].Ebs.VolumeSize) != 50 || d.SecurityGroupIds[0] != "sg-0123456789abcdef0" ||
		aws.ToString(d.TagSpecifications[0].Tags[0].Key) != "role" || d.MetadataOptions.HttpTokens != ec2types.LaunchTemplateHttpTokensStateRequired {
		t.Fatalf("$Default data = %+v", d)
	}
	if got := versions(); len(got) != 3 || aws.ToInt64(got[0].VersionNumber) != 3 {
		t.Fatalf("all versions = %d, first %d", len(got), aws.ToInt64(got[0].VersionNumber))
	}
	if got := versions("2", "$Latest"); len(got) != 2 {
		t.Fatalf("versions 2 and $Latest = %d", len(got))
	}

	must[*ec2.ModifyLaunchTemplateOutput](t)(e.ec2.ModifyLaunchTemplate(ctx, &ec2.ModifyLaunchTemplateInput{
		LaunchTemplateId: aws.String(id), DefaultVersion: aws.String("2")}))
	if got := versions("$Default"); aws.ToInt64(got[0].VersionNumber) != 2 {
		t.Fatalf("$Default after ModifyLaunchTemplate = %d", aws.ToInt64(got[0].VersionNumber))
	}

	desc := must[*ec2.DescribeLaunchTemplatesOutput](t)(e.ec2.DescribeLaunchTemplates(ctx, &ec2.DescribeLaunchTemplatesInput{
		Filters: []ec2types.Filter{{Name: aws.String("tag:kelp.dev/pool"), Values: []string{"gen*"}}}}))
	if len(desc.LaunchTemplates) != 1 || aws.ToInt64(desc.LaunchTemplates[0].LatestVersionNumber) != 3 ||
		aws.ToInt64(desc.LaunchTemplates[0].DefaultVersionNumber) != 2 {
		t.Fatalf("DescribeLaunchTemplates = %+v", desc.LaunchTemplates)
	}

	del := must[*ec2.DeleteLaunchTemplateOutput](t)(e.ec2.DeleteLaunchTemplate(ctx, &ec2.DeleteLaunchTemplateInput{
		LaunchTemplateName: aws.String("pool-general")}))
	if aws.ToString(del.LaunchTemplate.LaunchTemplateId) != id {
		t.Fatalf("DeleteLaunchTemplate = %+v", del.LaunchTemplate)
	}
	_, err := e.ec2.DescribeLaunchTemplates(ctx, &ec2.DescribeLaunchTemplatesInput{LaunchTemplateIds: []string{id}})
	wantCode(t, err, codeInvalidLTIDNotFound)
}

func TestLaunchTemplateErrors(t *testing.T) {
	e := newEnv(t)
	id := e.createTemplate("exists", "m5.large", ImageLocalNode)
	data := &ec2types.RequestLaunchTemplateData{ImageId: aws.String(ImageLocalNode)}
	tests := []struct {
		name string
		call func() error
		want string
	}{
		{"duplicate name", func() error {
			_, err := e.ec2.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{LaunchTemplateName: aws.String("exists"), LaunchTemplateData: data})
			return err
		}, codeInvalidLTNameAlreadyExists},
		{"malformed name", func() error {
			_, err := e.ec2.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{LaunchTemplateName: aws.String("a b"), LaunchTemplateData: data})
			return err
		}, codeInvalidLTNameMalformed},
		{"unknown instance type", func() error {
			_, err := e.ec2.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{LaunchTemplateName: aws.String("typo"),
				LaunchTemplateData: &ec2types.RequestLaunchTemplateData{InstanceType: "m5.huge"}})
			return err
		}, codeInvalidParameterValue},
		{"bad user-data", func() error {
			_, err := e.ec2.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{LaunchTemplateName: aws.String("userdata"),
				LaunchTemplateData: &ec2types.RequestLaunchTemplateData{UserData: aws.String("not base64!")}})
			return err
		}, "InvalidUserData.Malformed"},
		{"unknown name", func() error {
			_, err := e.ec2.DescribeLaunchTemplates(ctx, &ec2.DescribeLaunchTemplatesInput{LaunchTemplateNames: []string{"nope"}})
			return err
		}, codeInvalidLTNameNotFound},
		{"unknown id", func() error {
			_, err := e.ec2.DeleteLaunchTemplate(ctx, &ec2.DeleteLaunchTemplateInput{LaunchTemplateId: aws.String("lt-0123456789abcdef0")})
			return err
		}, codeInvalidLTIDNotFound},
		{"malformed id", func() error {
			_, err := e.ec2.DeleteLaunchTemplate(ctx, &ec2.DeleteLaunchTemplateInput{LaunchTemplateId: aws.String("lt-nope")})
			return err
		}, codeInvalidLTIDMalformed},
		{"unknown version", func() error {
			_, err := e.ec2.DescribeLaunchTemplateVersions(ctx, &ec2.DescribeLaunchTemplateVersionsInput{
				LaunchTemplateId: aws.String(id), Versions: []string{"7"}})
			return err
		}, codeInvalidLTVersionNotFound},
		{"version of unknown name", func() error {
			_, err := e.ec2.CreateLaunchTemplateVersion(ctx, &ec2.CreateLaunchTemplateVersionInput{
				LaunchTemplateName: aws.String("nope"), LaunchTemplateData: data})
			return err
		}, codeInvalidLTNameNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantCode(t, tt.call(), tt.want) })
	}
}

func TestDescribeLaunchTemplatesPagination(t *testing.T) {
	e := newEnv(t)
	for i := range 7 {
		e.createTemplate(fmt.Sprintf("tmpl-%02d", i), "m5.large", ImageLocalNode)
	}
	var names []string
	pager := ec2.NewDescribeLaunchTemplatesPaginator(e.ec2, &ec2.DescribeLaunchTemplatesInput{MaxResults: aws.Int32(3)})
	pages := 0
	for pager.HasMorePages() {
		out := must[*ec2.DescribeLaunchTemplatesOutput](t)(pager.NextPage(ctx))
		pages++
		for _, lt := range out.LaunchTemplates {
			names = append(names, aws.ToString(lt.LaunchTemplateName))
		}
	}
	if pages != 3 || len(names) != 7 || names[0] != "tmpl-00" || names[6] != "tmpl-06" {
		t.Fatalf("pages %d, names %v", pages, names)
	}
	_, err := e.ec2.DescribeLaunchTemplates(ctx, &ec2.DescribeLaunchTemplatesInput{NextToken: aws.String("%%%")})
	wantCode(t, err, codeInvalidPaginationToken)
}

func TestLaunchTemplateClientTokenIsIdempotent(t *testing.T) {
	e := newEnv(t)
	in := &ec2.CreateLaunchTemplateInput{LaunchTemplateName: aws.String("once"), ClientToken: aws.String("token-1"),
		LaunchTemplateData: e.templateData("m5.large")}
	first := must[*ec2.CreateLaunchTemplateOutput](t)(e.ec2.CreateLaunchTemplate(ctx, in))
	again := must[*ec2.CreateLaunchTemplateOutput](t)(e.ec2.CreateLaunchTemplate(ctx, in))
	if aws.ToString(first.LaunchTemplate.LaunchTemplateId) != aws.ToString(again.LaunchTemplate.LaunchTemplateId) {
		t.Fatalf("a retry with the same token created %s and %s", aws.ToString(first.LaunchTemplate.LaunchTemplateId),
			aws.ToString(again.LaunchTemplate.LaunchTemplateId))
	}
	in.LaunchTemplateName = aws.String("other")
	_, err := e.ec2.CreateLaunchTemplate(ctx, in)
	wantCode(t, err, "IdempotentParameterMismatch")
}

// TestTemplateImageFromSSMParameter: a launch template takes its image as
// resolve:ssm:<parameter>, as on AWS; instances run the resolved AMI; an
// unknown parameter is refused when the template is created.
func TestTemplateImageFromSSMParameter(t *testing.T) {
	e := newEnv(t)
	lt := e.createTemplate("ssm", "m6g.large", "resolve:ssm:/kelp/local-node-arm64/ami-id")
	e.createGroup("g", lt, 0, 1, 1)
	insts := e.waitSettled("g", 1)
	if got := aws.ToString(e.instance(aws.ToString(insts[0].InstanceId)).ImageId); got != ImageLocalNodeARM64 {
		t.Errorf("instance image %q, want the resolved %s", got, ImageLocalNodeARM64)
	}
	_, err := e.ec2.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{LaunchTemplateName: aws.String("nope"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String("resolve:ssm:/no/such/parameter")}})
	wantCode(t, err, codeInvalidParameterValue)
	testenv.ErrorContains(t, err, "/no/such/parameter could not be resolved")
}
