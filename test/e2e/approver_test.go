package e2e

import (
	"context"
	"crypto/x509/pkix"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/kelp-dev/kelp/internal/approver"
	"github.com/kelp-dev/kelp/internal/localcloud"
	"github.com/kelp-dev/kelp/internal/localup"
	"github.com/kelp-dev/kelp/internal/pool"
	"github.com/kelp-dev/kelp/internal/testenv"
)

// approverJoinWindow is the shortest join window kelp accepts: the test
// waits past it, so that CSRs left pending are shown to stay untouched and
// waiting ones to end denied.
const approverJoinWindow = time.Minute

// otherPool is a second pool, for pool isolation.
const otherPool = "other"

// approverConfig is the local cluster of TestApproverOnlyDecidesItsOwn:
// two pools, the shortest join window, and instances that stay Pending for
// a while before their node agent boots, so a fresh instance can be
// attacked before its own kubelet asks.
func approverConfig(dir string) localup.Config {
	cfg := localup.Config{
		Dir: dir, Name: "e2e-approver",
		Pools: &pool.Config{Pools: []pool.Spec{
			{Name: e2ePool, InstanceTypes: []string{"m5.large"}, MinSize: 0, MaxSize: 3},
			{Name: otherPool, InstanceTypes: []string{"m5.large"}, MinSize: 0, MaxSize: 3},
		}},
		Faults: localcloud.Faults{BootDelay: localcloud.DurationRange{Min: 20 * time.Second, Max: 20 * time.Second}},
	}
	cfg.Controller.Approver.JoinWindow = approverJoinWindow
	return cfg
}

// expectation is what must become of one submitted CSR: denied with a
// reason, or left alone (pending, no condition) past the join window.
type expectation struct {
	what   string
	reason string // "" = left alone
}

// TestApproverOnlyDecidesItsOwn submits, with valid credentials, the CSRs
// an attacker would and the CSRs other parts of a real cluster make, waits
// past the join window, and checks each outcome and reason: every forgery
// denied for the reason that stops it (pool isolation against a fresh
// instance of another pool, whose own kubelet still joins afterwards), and a
// control-plane-like node's renewal and serving CSRs and a kubeadm token's
// join left untouched.
func TestApproverOnlyDecidesItsOwn(t *testing.T) {
	release, err := testenv.AcquireSlot()
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	cluster, admin := startLocal(t, approverConfig(filepath.Join(t.TempDir(), "e2e")))
	defer func() { _ = cluster.Stop(context.Background()) }()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	awsCfg, err := cluster.AWSConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	as, ec2c := autoscaling.NewFromConfig(awsCfg), ec2.NewFromConfig(awsCfg)

	setDesired(ctx, t, as, pool.GroupName("e2e-approver", e2ePool), 1)
	testenv.EventuallyTrue(t, 3*time.Minute, "the victim node Ready", func() bool {
		ready, _, err := readyNodes(ctx, admin)
		return err == nil && len(ready) == 1
	})
	nodes, err := admin.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: pool.PoolTag + "=" + e2ePool})
	if err != nil || len(nodes.Items) != 1 {
		t.Fatalf("want one node of pool %s, got %v %v", e2ePool, nodes, err)
	}
	victim := nodes.Items[0]

	// A fresh instance of the other pool, not joined yet (its agent boots
	// after the boot delay).
	setDesired(ctx, t, as, pool.GroupName("e2e-approver", otherPool), 1)
	fresh := pendingInstanceName(ctx, t, ec2c, otherPool)

	expected := map[string]expectation{}
	add := func(name string, e expectation) { expected[name] = e }
	for _, f := range forgeries(t, ctx, cluster, admin, victim, fresh) {
		add(submit(t, ctx, f.forgery), expectation{what: f.name, reason: f.reason})
	}
	for _, f := range notKelps(t, ctx, cluster, admin) {
		add(submit(t, ctx, f), expectation{what: f.name})
	}
	lastSubmitted := time.Now()

	// The fresh instance's own kubelet still joins: the forgeries naming it
	// were denied before it asked, and a denial binds only its CSR.
	testenv.EventuallyTrue(t, 3*time.Minute, "the fresh instance of the other pool joins", func() bool {
		ready, _, err := readyNodesOf(ctx, admin, otherPool)
		return err == nil && len(ready) == 1 && ready[0] == fresh
	})

	// Past the join window every waiting check has turned into a denial;
	// what is not kelp's is still untouched.
	testenv.EventuallyTrue(t, approverJoinWindow+2*time.Minute, "every forgery denied", func() bool {
		if time.Since(lastSubmitted) < approverJoinWindow+5*time.Second {
			return false
		}
		for name, e := range expected {
			csr, err := admin.CertificatesV1().CertificateSigningRequests().Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				t.Fatalf("get csr %s (%s): %v", name, e.what, err)
			}
			if e.reason != "" && approver.ConditionOf(csr) == approver.Pending {
				return false
			}
		}
		return true
	})
	for name, e := range expected {
		csr, err := admin.CertificatesV1().CertificateSigningRequests().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("get csr %s (%s): %v", name, e.what, err)
		}
		checkOutcome(t, csr, e)
	}
}

// checkOutcome fails t unless csr ended as e says.
func checkOutcome(t *testing.T, csr *certificatesv1.CertificateSigningRequest, e expectation) {
	t.Helper()
	if e.reason == "" {
		if len(csr.Status.Conditions) != 0 {
			t.Errorf("%s (%s): kelp must leave it alone, got conditions %+v", e.what, csr.Name, csr.Status.Conditions)
		}
		return
	}
	if c := approver.ConditionOf(csr); c != approver.Denied {
		t.Errorf("%s (%s): %s, want Denied (%s)", e.what, csr.Name, c, e.reason)
		return
	}
	for _, c := range csr.Status.Conditions {
		if c.Type != certificatesv1.CertificateDenied {
			continue
		}
		if c.Reason != e.reason {
			t.Errorf("%s (%s): denied with reason %s (%s), want %s", e.what, csr.Name, c.Reason, c.Message, e.reason)
		}
		if len(c.Message) == 0 || len(c.Message) > approver.MaxMessageBytes {
			t.Errorf("%s (%s): denial message of %d bytes, want 1..%d", e.what, csr.Name, len(c.Message), approver.MaxMessageBytes)
		}
	}
}

type expectedForgery struct {
	forgery
	reason string
}

// forgeries are the CSRs an attacker holding a pool's bootstrap token (or a
// node's own certificate) would send, each with the reason that stops it.
func forgeries(t *testing.T, ctx context.Context, cluster *localup.Cluster, admin kubernetes.Interface, victim corev1.Node, fresh string) []expectedForgery {
	t.Helper()
	poolToken := tokenClient(t, ctx, cluster, admin, e2ePool)
	otherPoolToken := tokenClient(t, ctx, cluster, admin, otherPool)
	nodeClient := ownNodeClient(t, cluster, victim.Spec.ProviderID)
	client, serving := certificatesv1.KubeAPIServerClientKubeletSignerName, certificatesv1.KubeletServingSignerName
	return []expectedForgery{
		{forgery{name: "replay for a node that joined", client: poolToken, signer: client,
			subject: nodeSubject(victim.Name), usages: clientUsages}, approver.ReasonNodeExists},
		{forgery{name: "system:masters", client: poolToken, signer: client,
			subject: pkix.Name{CommonName: "system:node:" + victim.Name, Organization: []string{"system:masters"}}, usages: clientUsages},
			approver.ReasonBadOrganization},
		{forgery{name: "another pool's token for a joined node", client: otherPoolToken, signer: client,
			subject: nodeSubject(victim.Name), usages: clientUsages}, approver.ReasonPoolMismatch},
		{forgery{name: "another pool's token for a fresh instance", client: poolToken, signer: client,
			subject: nodeSubject(fresh), usages: clientUsages}, approver.ReasonPoolMismatch},
		{forgery{name: "a name no instance has", client: poolToken, signer: client,
			subject: nodeSubject("ip-127-1-99-99.ec2.internal"), usages: clientUsages}, approver.ReasonInstanceNotFound},
		{forgery{name: "a request over 16 KiB", client: poolToken, signer: client,
			subject: pkix.Name{CommonName: "system:node:" + victim.Name, Organization: []string{"system:nodes"},
				OrganizationalUnit: []string{strings.Repeat("x", approver.MaxRequestBytes)}}, usages: clientUsages},
			approver.ReasonRequestTooLarge},
		{forgery{name: "serving certificate with a foreign IP", client: nodeClient, signer: serving,
			subject: nodeSubject(victim.Name), dnsNames: []string{victim.Name}, ips: []net.IP{net.ParseIP("127.0.0.1")}, usages: servingUsages},
			approver.ReasonForeignSAN},
		{forgery{name: "serving certificate for another name", client: nodeClient, signer: serving,
			subject: nodeSubject(victim.Name), dnsNames: []string{"kubernetes.default.svc"}, usages: servingUsages},
			approver.ReasonForeignSAN},
	}
}

// notKelps are CSRs of a real cluster that are not kelp's to decide: a
// control-plane node (in no Auto Scaling group, no providerID) renewing its
// client certificate and asking for a serving one, and a kubeadm bootstrap
// token joining a node. They are sent with the identities the API server
// would record (through impersonation, which sets spec.username and
// spec.groups exactly as authentication would). The control-plane node has
// a Node without providerID, and kubeadm's binding lets its tokens create
// CSRs, as in a kubeadm cluster.
func notKelps(t *testing.T, ctx context.Context, cluster *localup.Cluster, admin kubernetes.Interface) []forgery {
	t.Helper()
	const cp = "cp-1"
	if _, err := admin.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: cp,
		Labels: map[string]string{"node-role.kubernetes.io/control-plane": ""}}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create control-plane node %s: %v", cp, err)
	}
	if _, err := admin.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "kubeadm:kubelet-bootstrap"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "system:node-bootstrapper"},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.GroupKind, Name: "system:bootstrappers:kubeadm:default-node-token"}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create kubeadm's bootstrap binding: %v", err)
	}
	cpNode := impersonating(t, cluster, "system:node:"+cp, "system:nodes", "system:authenticated")
	kubeadmToken := impersonating(t, cluster, "system:bootstrap:abcdef",
		"system:bootstrappers", "system:bootstrappers:kubeadm:default-node-token", "system:authenticated")
	return []forgery{
		{name: "control-plane node's client renewal", client: cpNode, signer: certificatesv1.KubeAPIServerClientKubeletSignerName,
			subject: nodeSubject(cp), usages: clientUsages},
		{name: "control-plane node's serving certificate", client: cpNode, signer: certificatesv1.KubeletServingSignerName,
			subject: nodeSubject(cp), dnsNames: []string{cp}, ips: []net.IP{net.ParseIP("127.0.0.10")}, usages: servingUsages},
		{name: "kubeadm token's join", client: kubeadmToken, signer: certificatesv1.KubeAPIServerClientKubeletSignerName,
			subject: nodeSubject("worker-kubeadm-1"), usages: clientUsages},
	}
}

var (
	clientUsages  = []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth}
	servingUsages = []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageServerAuth}
)

func nodeSubject(name string) pkix.Name {
	return pkix.Name{CommonName: "system:node:" + name, Organization: []string{"system:nodes"}}
}

// impersonating is an admin client acting as user with groups.
func impersonating(t *testing.T, cluster *localup.Cluster, user string, groups ...string) kubernetes.Interface {
	t.Helper()
	cfg, err := cluster.ControlPlane.AdminRESTConfig()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: groups}
	return kubernetes.NewForConfigOrDie(cfg)
}

func setDesired(ctx context.Context, t *testing.T, as *autoscaling.Client, group string, n int32) {
	t.Helper()
	if _, err := as.SetDesiredCapacity(ctx, &autoscaling.SetDesiredCapacityInput{
		AutoScalingGroupName: aws.String(group), DesiredCapacity: aws.Int32(n), HonorCooldown: aws.Bool(false),
	}); err != nil {
		t.Fatal(err)
	}
}

// pendingInstanceName waits for a Pending instance of poolName and returns
// its private DNS name.
func pendingInstanceName(ctx context.Context, t *testing.T, ec2c *ec2.Client, poolName string) string {
	t.Helper()
	var name string
	testenv.EventuallyTrue(t, time.Minute, "a pending instance of pool "+poolName, func() bool {
		out, err := ec2c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{
			{Name: aws.String("tag:" + pool.PoolTag), Values: []string{poolName}},
			{Name: aws.String("instance-state-name"), Values: []string{string(ec2types.InstanceStateNamePending)}},
		}})
		if err != nil {
			return false
		}
		for _, r := range out.Reservations {
			for _, i := range r.Instances {
				name = aws.ToString(i.PrivateDnsName)
			}
		}
		return name != ""
	})
	return name
}
