package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	awscloud "github.com/kelp-dev/kelp/internal/cloud/aws"
	"github.com/kelp-dev/kelp/internal/join"
	"github.com/kelp-dev/kelp/internal/localcloud"
	"github.com/kelp-dev/kelp/internal/localup"
	"github.com/kelp-dev/kelp/internal/testenv"
	"github.com/kelp-dev/kelp/internal/userdata"
)

// TestPoolCreateIdentityOnLocalCloud: on the local cloud, --join=identity
// alone makes a pool whose instances can join: the local cluster's join
// endpoint, CA, STS and metadata endpoints and instance profile are filled
// in and said; without $KELP_LOCAL_DIR it fails naming the flags.
func TestPoolCreateIdentityOnLocalCloud(t *testing.T) {
	env := testenv.Get(t)
	ctx := context.Background()
	srv := serveLocalCloud(t, localcloud.Options{
		Roles:            []localcloud.Role{{Name: localup.NodeRole, Authorizer: localcloud.Policies{}}},
		InstanceProfiles: []localcloud.InstanceProfile{{Name: localup.NodeInstanceProfile, Role: localup.NodeRole}}})
	create := func(name string) (string, error) {
		var out bytes.Buffer
		root := NewRoot("test")
		root.SetOut(&out)
		root.SetErr(&out)
		root.SetArgs([]string{"pool", "create", name, "--instance-types", "c5.large", "--max", "2", "--join=identity",
			"--cluster-name", "kelp-test", "--region", "us-east-1", "--endpoint", srv.URL, "--kubeconfig", env.Cluster.AdminKubeconfigPath()})
		err := root.ExecuteContext(ctx)
		return out.String(), err
	}
	t.Setenv(localup.DirEnv, "")
	_, err := create("secure")
	testenv.ErrorContains(t, err, "$"+localup.DirEnv+" is not set", "--join-endpoint, --join-endpoint-ca, --join-sts-endpoint, --join-imds-endpoint and --instance-profile")

	dir := t.TempDir()
	t.Setenv(localup.DirEnv, dir)
	_, err = create("secure")
	testenv.ErrorContains(t, err, "no identity join endpoints saved", "--join-endpoint, --join-endpoint-ca")

	if err := os.MkdirAll(filepath.Join(dir, "cloud"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cloud", "identity-ports.json"), []byte(`{"metadata":41001,"sts":41002,"join":41003}`), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := create("secure")
	if err != nil {
		t.Fatalf("pool create: %v\n%s", err, out)
	}
	testenv.Contains(t, "pool create", out, "--join=identity on the local cloud in "+dir, "join endpoint https://127.0.0.1:41003",
		"STS https://127.0.0.1:41002", "metadata http://127.0.0.1:41001", "instance profile kelp-node",
		"the join endpoint's CA from Secret kube-system/kelp-join-ca", "pool secure created")

	ca, err := join.CABundle(ctx, env.Client)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := awscloud.LoadSDKConfig(ctx, awscloud.SDKOptions{Region: "us-east-1", Endpoint: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	v, err := ec2.NewFromConfig(cfg).DescribeLaunchTemplateVersions(ctx, &ec2.DescribeLaunchTemplateVersionsInput{
		LaunchTemplateName: aws.String("kelp-kelp-test-secure"), Versions: []string{"$Latest"}})
	if err != nil || len(v.LaunchTemplateVersions) != 1 {
		t.Fatalf("launch template: %v", err)
	}
	data := v.LaunchTemplateVersions[0].LaunchTemplateData
	if got := aws.ToString(data.IamInstanceProfile.Name); got != localup.NodeInstanceProfile {
		t.Errorf("instance profile %q, want %s", got, localup.NodeInstanceProfile)
	}
	ud, err := base64.StdEncoding.DecodeString(aws.ToString(data.UserData))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := userdata.Decode(ud)
	if err != nil {
		t.Fatal(err)
	}
	var got userdata.IdentityJoin
	for _, f := range doc.WriteFiles {
		if f.Path == userdata.LocalJoinConfigPath {
			content, err := f.Data()
			if err != nil {
				t.Fatal(err)
			}
			jc, err := userdata.ParseJoinConfig(content)
			if err != nil {
				t.Fatal(err)
			}
			got = jc.IdentityJoin
		}
	}
	if got.Endpoint != "https://127.0.0.1:41003" || got.STSEndpoint != "https://127.0.0.1:41002" || got.MetadataEndpoint != "http://127.0.0.1:41001" || !bytes.Equal(got.EndpointCA, ca) {
		t.Errorf("join config in the user-data: endpoint %s, sts %s, metadata %s, CA from the Secret %v; want the local cluster's",
			got.Endpoint, got.STSEndpoint, got.MetadataEndpoint, bytes.Equal(got.EndpointCA, ca))
	}
}

// serveLocalCloud starts a local cloud in a temporary directory, serves it
// for the test's life and points the AWS SDK's credentials at its keys.
func serveLocalCloud(t *testing.T, opts localcloud.Options) *httptest.Server {
	t.Helper()
	opts.Dir = t.TempDir()
	c, err := localcloud.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(c)
	t.Cleanup(func() { srv.Close(); _ = c.Close() })
	t.Setenv("AWS_ACCESS_KEY_ID", localcloud.AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", localcloud.SecretAccessKey)
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	return srv
}
