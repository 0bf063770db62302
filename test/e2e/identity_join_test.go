package e2e

import (
	"context"
	"encoding/base64"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kelp-dev/kelp/internal/approver"
	"github.com/kelp-dev/kelp/internal/bootstrap"
	"github.com/kelp-dev/kelp/internal/joincleanup"
	"github.com/kelp-dev/kelp/internal/localup"
	"github.com/kelp-dev/kelp/internal/pool"
	"github.com/kelp-dev/kelp/internal/testenv"
	"github.com/kelp-dev/kelp/internal/userdata"
)

// identityInstances is how many instances TestIdentityJoinAtScale joins.
const identityInstances = 50

// tokenRE matches a bootstrap token, <6>.<16> of [a-z0-9].
var tokenRE = regexp.MustCompile(`[a-z0-9]{6}\.[a-z0-9]{16}`)

// TestIdentityJoinAtScale scales an identity-mode pool of `kelp up`'s local
// cloud from 0 to 50 with no human: every instance proves who it is with
// its instance role (IMDSv2 from its own address, a signed
// GetCallerIdentity checked against the local STS), gets a token bound to
// itself, and its CSR is approved for that instance's node name only. The
// pool's user-data carries no bootstrap token, and every per-instance
// token is deleted once its Node registers.
func TestIdentityJoinAtScale(t *testing.T) {
	release, err := testenv.AcquireSlot()
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	const poolName = "ident"
	cluster, client := startLocal(t, localup.Config{Dir: filepath.Join(t.TempDir(), "ident"), Name: "ident", NoInterruptionQueue: true,
		Pools: &pool.Config{Pools: []pool.Spec{{Name: poolName, InstanceTypes: []string{"m5.large"}, MaxSize: identityInstances,
			Join: pool.Join{Mode: pool.JoinModeIdentity}}}}})
	defer func() { _ = cluster.Stop(context.Background()) }()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()

	awsCfg, err := cluster.AWSConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	checkNoSecretInUserData(ctx, t, cluster, ec2.NewFromConfig(awsCfg), poolName)
	start := time.Now()
	if _, err := autoscaling.NewFromConfig(awsCfg).SetDesiredCapacity(ctx, &autoscaling.SetDesiredCapacityInput{
		AutoScalingGroupName: aws.String(pool.GroupName("ident", poolName)), DesiredCapacity: aws.Int32(identityInstances),
	}); err != nil {
		t.Fatal(err)
	}
	var ready []string
	testenv.EventuallyTrue(t, 6*time.Minute, "all identity-mode nodes Ready", func() bool {
		ready, _, err = readyNodesOf(ctx, client, poolName)
		return err == nil && len(ready) == identityInstances
	})
	t.Logf("desired 0 -> %d by identity: all Nodes Ready after %s", identityInstances, time.Since(start).Round(time.Millisecond))

	checkInstanceBoundCSRs(ctx, t, client, ready)
	testenv.EventuallyTrue(t, 2*time.Minute, "every Node's IdentityJoined Event and no per-instance token left", func() bool {
		return identityJoinsRecorded(ctx, client, ready) == len(ready) && instanceTokens(ctx, t, client) == 0
	})
}

// checkNoSecretInUserData scans every version of the pool's launch
// template: no bootstrap token, no bootstrap kubeconfig, and the join
// config is there.
func checkNoSecretInUserData(ctx context.Context, t *testing.T, cluster *localup.Cluster, ec2c *ec2.Client, poolName string) {
	t.Helper()
	prov, err := cluster.Provisioner(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := prov.Get(ctx, poolName)
	if err != nil {
		t.Fatal(err)
	}
	out, err := ec2c.DescribeLaunchTemplateVersions(ctx, &ec2.DescribeLaunchTemplateVersionsInput{LaunchTemplateName: aws.String(p.LaunchTemplate)})
	if err != nil || len(out.LaunchTemplateVersions) == 0 {
		t.Fatalf("launch template versions of %s: %v", p.LaunchTemplate, err)
	}
	for _, v := range out.LaunchTemplateVersions {
		raw, err := base64.StdEncoding.DecodeString(aws.ToString(v.LaunchTemplateData.UserData))
		if err != nil {
			t.Fatal(err)
		}
		doc, err := userdata.Decode(raw)
		if err != nil {
			t.Fatal(err)
		}
		hasJoin := false
		for _, f := range doc.WriteFiles {
			if f.Path == userdata.LocalBootstrapKubeconfigPath {
				t.Errorf("version %d writes a bootstrap kubeconfig", aws.ToInt64(v.VersionNumber))
			}
			hasJoin = hasJoin || f.Path == userdata.LocalJoinConfigPath
			if m := tokenRE.FindString(f.Content); m != "" || strings.Contains(strings.ToLower(f.Content), "token:") {
				t.Errorf("version %d, file %s carries a token (%q)", aws.ToInt64(v.VersionNumber), f.Path, m)
			}
		}
		if !hasJoin {
			t.Errorf("version %d has no join config %s", aws.ToInt64(v.VersionNumber), userdata.LocalJoinConfigPath)
		}
	}
}

// checkInstanceBoundCSRs checks each node's client CSR came from a token
// bound to one instance and was approved by kelp.
func checkInstanceBoundCSRs(ctx context.Context, t *testing.T, client kubernetes.Interface, nodes []string) {
	t.Helper()
	csrs, err := client.CertificatesV1().CertificateSigningRequests().List(ctx, metav1.ListOptions{
		FieldSelector: "spec.signerName=" + certificatesv1.KubeAPIServerClientKubeletSignerName})
	if err != nil {
		t.Fatal(err)
	}
	bound := map[string]bool{}
	for _, c := range csrs.Items {
		cond := approver.ConditionOf(&c)
		if _, ok := bootstrap.InstanceFromGroups(c.Spec.Groups); ok && (cond == approver.Approved || cond == approver.Issued) {
			bound[c.Spec.Username] = true
		}
	}
	if len(bound) != len(nodes) {
		t.Errorf("%d approved client CSRs from instance-bound tokens, want %d (one per node)", len(bound), len(nodes))
	}
}

// identityJoinsRecorded counts the nodes with an IdentityJoined Event.
func identityJoinsRecorded(ctx context.Context, client kubernetes.Interface, nodes []string) int {
	evs, err := client.CoreV1().Events("default").List(ctx, metav1.ListOptions{FieldSelector: "reason=" + joincleanup.EventReasonIdentityJoined})
	if err != nil {
		return 0
	}
	joined := map[string]bool{}
	for _, e := range evs.Items {
		joined[e.InvolvedObject.Name] = true
	}
	n := 0
	for _, name := range nodes {
		if joined[name] {
			n++
		}
	}
	return n
}

// instanceTokens counts the bootstrap tokens bound to an instance.
func instanceTokens(ctx context.Context, t *testing.T, client kubernetes.Interface) int {
	tokens, err := bootstrap.ListTokens(ctx, client)
	if err != nil {
		t.Logf("list tokens: %v", err)
		return -1
	}
	n := 0
	for _, tok := range tokens {
		if tok.Instance != "" {
			n++
		}
	}
	return n
}
