package pool_test

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/kelp-dev/kelp/internal/cloud"
	awscloud "github.com/kelp-dev/kelp/internal/cloud/aws"
	"github.com/kelp-dev/kelp/internal/localcloud"
	"github.com/kelp-dev/kelp/internal/pool"
	"github.com/kelp-dev/kelp/internal/testenv"
)

// testEnv is a local cloud with the adapter of internal/cloud/aws on it,
// and raw clients for checks.
type testEnv struct {
	cloud    *localcloud.Cloud
	provider *awscloud.Provider
	ec2      *ec2.Client
	as       *autoscaling.Client
}

// newEnv serves a fresh local cloud with faults (seeded, so a test's
// sequence of faults is the same each run).
func newEnv(t *testing.T, faults localcloud.Faults) *testEnv {
	t.Helper()
	return newEnvAs(t, localcloud.Options{Faults: faults,
		Roles:            []localcloud.Role{{Name: "kelp-node"}},
		InstanceProfiles: []localcloud.InstanceProfile{{Name: "kelp-node", Role: "kelp-node"}, {Name: "kelp-node-2", Role: "kelp-node"}, {Name: "empty"}},
	}, localcloud.DefaultPrincipal())
}

// newEnvAs serves a local cloud with opts (its faults, principals, roles
// and profiles; the rest is the tests') and an adapter signing as who.
func newEnvAs(t *testing.T, opts localcloud.Options, who localcloud.Principal) *testEnv {
	t.Helper()
	opts.Dir, opts.Runtime, opts.ReconcileInterval = t.TempDir(), localcloud.NopRuntime{}, 50*time.Millisecond
	opts.Rand, opts.Logger = rand.NewPCG(3, 5), slog.New(slog.NewTextHandler(io.Discard, nil))
	c, err := localcloud.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(c)
	t.Cleanup(func() { srv.Close(); _ = c.Close() })
	creds := credentials.NewStaticCredentialsProvider(who.AccessKeyID, who.SecretAccessKey, "")
	p, err := awscloud.New(context.Background(), awscloud.Config{ClusterName: "prod", Region: localcloud.DefaultRegion, Endpoint: srv.URL,
		Retry: awscloud.RetryConfig{MaxBackoff: 20 * time.Millisecond, ThrottleBackoff: 10 * time.Millisecond}},
		awscloud.Deps{Credentials: creds, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	cfg := aws.Config{Region: localcloud.DefaultRegion, BaseEndpoint: aws.String(srv.URL), Credentials: creds}
	return &testEnv{cloud: c, provider: p, ec2: ec2.NewFromConfig(cfg), as: autoscaling.NewFromConfig(cfg)}
}

// provisioner returns a provisioner of cluster on the env's adapter.
func (e *testEnv) provisioner(cluster string) *pool.Provisioner {
	return pool.New(cluster, pool.Deps{Cloud: e.provider})
}

// newProvisioner serves a fresh local cloud and returns a provisioner of
// cluster prod on it, with the raw clients for checks.
func newProvisioner(t *testing.T) (*pool.Provisioner, *ec2.Client, *autoscaling.Client) {
	t.Helper()
	e := newEnv(t, localcloud.Faults{})
	return e.provisioner("prod"), e.ec2, e.as
}

func generalSpec() pool.Spec {
	return pool.Spec{Name: "general", InstanceTypes: []string{"m5.large"}, ImageID: localcloud.ImageLocalNode, MinSize: 0, MaxSize: 5}
}

func TestCreatePool(t *testing.T) {
	env := newEnv(t, localcloud.Faults{})
	m, e, as := env.provisioner("prod"), env.ec2, env.as
	ctx := context.Background()
	p, err := m.Create(ctx, generalSpec(), pool.StaticUserData("#cloud-config\n"))
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "general" || p.GroupName != "kelp-prod-general" || p.LaunchTemplate != "kelp-prod-general" || p.MaxSize != 5 {
		t.Errorf("created pool = %+v", p)
	}
	groups, err := as.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{"kelp-prod-general"}})
	if err != nil || len(groups.AutoScalingGroups) != 1 {
		t.Fatalf("describe group: %v", err)
	}
	tags := map[string]string{}
	propagated := map[string]bool{}
	for _, tag := range groups.AutoScalingGroups[0].Tags {
		tags[aws.ToString(tag.Key)] = aws.ToString(tag.Value)
		propagated[aws.ToString(tag.Key)] = aws.ToBool(tag.PropagateAtLaunch)
	}
	for k, v := range map[string]string{
		"kubernetes.io/cluster/prod": "owned", "kelp.dev/pool": "general",
		"k8s.io/cluster-autoscaler/enabled": "true", "k8s.io/cluster-autoscaler/prod": "owned",
	} {
		if tags[k] != v {
			t.Errorf("tag %s = %q, want %q", k, tags[k], v)
		}
	}
	if !propagated["kubernetes.io/cluster/prod"] || !propagated["kelp.dev/pool"] {
		t.Error("cluster and pool tags are not propagated to instances")
	}
	versions, err := e.DescribeLaunchTemplateVersions(ctx, &ec2.DescribeLaunchTemplateVersionsInput{LaunchTemplateName: aws.String("kelp-prod-general"), Versions: []string{"$Latest"}})
	if err != nil || len(versions.LaunchTemplateVersions) != 1 {
		t.Fatalf("describe template versions: %v", err)
	}
	ud, _ := base64.StdEncoding.DecodeString(aws.ToString(versions.LaunchTemplateVersions[0].LaunchTemplateData.UserData))
	if string(ud) != "#cloud-config\n" {
		t.Errorf("template user-data = %q", ud)
	}

	if _, err := m.Create(ctx, generalSpec(), pool.StaticUserData(nil)); !errors.Is(err, pool.ErrExists) {
		t.Errorf("second create: %v, want ErrExists", err)
	}
	list, err := m.List(ctx)
	if err != nil || len(list) != 1 || list[0].Name != "general" {
		t.Errorf("List = %+v, %v", list, err)
	}
	other := pool.New("staging", pool.Deps{Cloud: env.provider})
	if list, _ := other.List(ctx); len(list) != 0 {
		t.Errorf("another cluster sees this cluster's pools: %+v", list)
	}
}

func TestCreatePoolFailuresLeaveNothing(t *testing.T) {
	m, e, _ := newProvisioner(t)
	ctx := context.Background()
	spec := generalSpec()
	spec.ImageID = "ami-0123456789abcdef0"
	if _, err := m.Create(ctx, spec, pool.StaticUserData(nil)); !errors.Is(err, pool.ErrImageNotFound) {
		t.Fatalf("unknown AMI: %v, want ErrImageNotFound", err)
	}
	// A subnet that does not exist fails the group after the template was
	// made: the template is rolled back.
	spec = generalSpec()
	spec.Subnets = []string{"subnet-0123456789abcdef0"}
	if _, err := m.Create(ctx, spec, pool.StaticUserData(nil)); err == nil {
		t.Fatal("create with an unknown subnet succeeded")
	}
	lts, err := e.DescribeLaunchTemplates(ctx, &ec2.DescribeLaunchTemplatesInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(lts.LaunchTemplates) != 0 {
		t.Errorf("failed creates left launch templates: %+v", lts.LaunchTemplates)
	}
	spec.MinSize, spec.MaxSize = 4, 2
	_, err = m.Create(ctx, spec, pool.StaticUserData(nil))
	testenv.ErrorContains(t, err, "minSize 4 is greater than maxSize 2")
}

func TestScaleUpdateDelete(t *testing.T) {
	m, e, _ := newProvisioner(t)
	ctx := context.Background()
	spot := pool.Spec{Name: "spot", InstanceTypes: []string{"m5.large", "m6i.large"}, CapacityType: "spot", ImageID: localcloud.ImageLocalNode, MaxSize: 4}
	if _, err := m.Create(ctx, spot, pool.StaticUserData(nil)); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Scale(ctx, "spot", 9); !errors.Is(err, cloud.ErrOutOfRange) {
		t.Errorf("scale beyond max: %v, want cloud.ErrOutOfRange", err)
	}
	p, err := m.Scale(ctx, "spot", 2)
	if err != nil || p.Desired != 2 {
		t.Fatalf("scale: %+v %v", p, err)
	}
	if len(p.InstanceTypes) != 2 || p.CapacityType != "spot" {
		t.Errorf("mixed pool = %+v", p)
	}
	testenv.Eventually(t, 30*time.Second, "2 instances of pool spot", func(ctx context.Context) (bool, error) {
		p, err := m.Get(ctx, "spot")
		return err == nil && p.Instances == 2, nil
	})
	maxSize := int32(6)
	p, err = m.Update(ctx, "spot", pool.Update{UserData: []byte("#cloud-config\nv2\n"), InstanceTypes: []string{"c5.large", "c6i.large", "m5.large"}, MaxSize: &maxSize})
	if err != nil {
		t.Fatal(err)
	}
	if p.MaxSize != 6 || len(p.InstanceTypes) != 3 {
		t.Errorf("updated pool = %+v", p)
	}
	versions, err := e.DescribeLaunchTemplateVersions(ctx, &ec2.DescribeLaunchTemplateVersionsInput{LaunchTemplateName: aws.String(p.LaunchTemplate)})
	if err != nil || len(versions.LaunchTemplateVersions) != 2 {
		t.Fatalf("want 2 template versions after update: %v %v", versions, err)
	}
	if _, err := m.Update(ctx, "spot", pool.Update{ImageID: "ami-0123456789abcdef0"}); !errors.Is(err, pool.ErrImageNotFound) {
		t.Errorf("update to unknown AMI: %v", err)
	}
	if err := m.Delete(ctx, "spot", pool.DeleteOptions{}); err == nil {
		t.Error("deleting a pool with instances without force succeeded")
	}
	if err := m.Delete(ctx, "spot", pool.DeleteOptions{Mode: pool.DeleteForce}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Get(ctx, "spot"); !errors.Is(err, cloud.ErrNotFound) {
		t.Errorf("deleted pool still found: %v", err)
	}
	if err := m.Delete(ctx, "spot", pool.DeleteOptions{Mode: pool.DeleteForce}); !errors.Is(err, cloud.ErrNotFound) {
		t.Errorf("deleting a missing pool: %v", err)
	}
}

// TestCreatePoolWithSSMImage: an image given as an SSM parameter is not
// looked up with DescribeImages (EC2 resolves it) and reaches the launch
// template as given.
func TestCreatePoolWithSSMImage(t *testing.T) {
	m, e, _ := newProvisioner(t)
	ctx := context.Background()
	spec := generalSpec()
	spec.ImageID = "resolve:ssm:/kelp/local-node/ami-id"
	p, err := m.Create(ctx, spec, pool.StaticUserData(nil))
	if err != nil {
		t.Fatalf("create with an SSM image: %v", err)
	}
	v, err := e.DescribeLaunchTemplateVersions(ctx, &ec2.DescribeLaunchTemplateVersionsInput{LaunchTemplateName: aws.String(p.LaunchTemplate)})
	if err != nil || len(v.LaunchTemplateVersions) != 1 {
		t.Fatalf("versions of %s: %+v, %v", p.LaunchTemplate, v, err)
	}
	if got := aws.ToString(v.LaunchTemplateVersions[0].LaunchTemplateData.ImageId); got != spec.ImageID {
		t.Errorf("launch template image %q, want %q", got, spec.ImageID)
	}
}
