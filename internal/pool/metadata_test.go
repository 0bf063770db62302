package pool_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/kelp-dev/kelp/internal/bootstrap"
	"github.com/kelp-dev/kelp/internal/localcloud"
	"github.com/kelp-dev/kelp/internal/pool"
)

// wantMetadata checks the metadata options of the latest version of a
// pool's launch template, read through the SDK.
func wantMetadata(t *testing.T, e *ec2.Client, template string, tokens ec2types.LaunchTemplateHttpTokensState, hops int32) {
	t.Helper()
	out, err := e.DescribeLaunchTemplateVersions(context.Background(), &ec2.DescribeLaunchTemplateVersionsInput{
		LaunchTemplateName: aws.String(template), Versions: []string{"$Latest"}})
	if err != nil || len(out.LaunchTemplateVersions) != 1 {
		t.Fatalf("describe latest version of %s: %v", template, err)
	}
	v := out.LaunchTemplateVersions[0]
	m := v.LaunchTemplateData.MetadataOptions
	if m == nil {
		t.Fatalf("%s version %d has no metadata options", template, aws.ToInt64(v.VersionNumber))
	}
	if m.HttpTokens != tokens || aws.ToInt32(m.HttpPutResponseHopLimit) != hops || m.HttpEndpoint != ec2types.LaunchTemplateInstanceMetadataEndpointStateEnabled {
		t.Errorf("%s version %d: HttpTokens %s, hop limit %d, endpoint %s; want %s, %d, enabled", template, aws.ToInt64(v.VersionNumber),
			m.HttpTokens, aws.ToInt32(m.HttpPutResponseHopLimit), m.HttpEndpoint, tokens, hops)
	}
}

func TestLaunchTemplateMetadataOptions(t *testing.T) {
	env := newEnv(t, localcloud.Faults{})
	tokens := &fakeTokens{}
	m := pool.New("prod", pool.Deps{Cloud: env.provider, Tokens: tokens})
	ctx := context.Background()
	required, optional := ec2types.LaunchTemplateHttpTokensStateRequired, ec2types.LaunchTemplateHttpTokensStateOptional

	// By default: IMDSv2 required, hop limit 1, kept by a token rotation.
	if _, err := m.Create(ctx, generalSpec(), tokenJoin(t, tokens)); err != nil {
		t.Fatal(err)
	}
	wantMetadata(t, env.ec2, "kelp-prod-general", required, 1)
	if _, err := m.RotateToken(ctx, "general", bootstrap.TokenSpec{TTL: time.Hour}); err != nil {
		t.Fatal(err)
	}
	wantMetadata(t, env.ec2, "kelp-prod-general", required, 1)

	// Set per pool; an update changes one field and keeps the other, and an
	// update of something else keeps both.
	custom := generalSpec()
	custom.Name = "legacy-apps"
	custom.Metadata = pool.MetadataOptions{HTTPTokens: pool.HTTPTokensOptional, HopLimit: 3}
	if _, err := m.Create(ctx, custom, pool.StaticUserData("#cloud-config\n")); err != nil {
		t.Fatal(err)
	}
	wantMetadata(t, env.ec2, "kelp-prod-legacy-apps", optional, 3)
	if _, err := m.Update(ctx, "legacy-apps", pool.Update{Metadata: pool.MetadataOptions{HopLimit: 2}}); err != nil {
		t.Fatal(err)
	}
	wantMetadata(t, env.ec2, "kelp-prod-legacy-apps", optional, 2)
	if _, err := m.Update(ctx, "legacy-apps", pool.Update{UserData: []byte("#cloud-config\nv2\n")}); err != nil {
		t.Fatal(err)
	}
	wantMetadata(t, env.ec2, "kelp-prod-legacy-apps", optional, 2)

	// A pool whose template predates metadata options gets the defaults
	// with its next version.
	old := generalSpec()
	old.Name = "old"
	lt := pool.LaunchTemplateSpec("prod", old, []byte("#cloud-config\n"))
	if _, err := env.ec2.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{LaunchTemplateName: aws.String(lt.Name),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String(lt.ImageID), InstanceType: ec2types.InstanceType(lt.InstanceType)}}); err != nil {
		t.Fatal(err)
	}
	subnets, err := env.provider.DefaultSubnets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := env.provider.CreateGroup(ctx, pool.GroupSpec("prod", old, subnets)); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Update(ctx, "old", pool.Update{UserData: []byte("#cloud-config\nv2\n")}); err != nil {
		t.Fatal(err)
	}
	wantMetadata(t, env.ec2, lt.Name, required, 1)

	if _, err := m.Update(ctx, "old", pool.Update{Metadata: pool.MetadataOptions{HopLimit: 65}}); err == nil {
		t.Error("update to hop limit 65 succeeded")
	}
}
