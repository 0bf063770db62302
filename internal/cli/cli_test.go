package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kelp-dev/kelp/internal/approver"
	"github.com/kelp-dev/kelp/internal/testenv"
	"github.com/kelp-dev/kelp/internal/userdata"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// kelp runs the command tree with args against the test cluster.
func kelp(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	env := testenv.Get(t)
	var out, errOut bytes.Buffer
	root := NewRoot("test")
	root.SetOut(&out)
	root.SetErr(&errOut)
	full := append([]string{}, args...)
	if len(args) > 0 && args[0] != "version" {
		full = append(full, "--kubeconfig", env.Cluster.AdminKubeconfigPath())
	}
	root.SetArgs(full)
	err = root.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

func TestTokenCommands(t *testing.T) {
	tok, _, err := kelp(t, "token", "create", "--pool", "cli", "--ttl", "2h", "--description", "cli test")
	if err != nil {
		t.Fatal(err)
	}
	tok = strings.TrimSpace(tok)
	id, _, ok := strings.Cut(tok, ".")
	if !ok || len(id) != 6 {
		t.Fatalf("token create printed %q", tok)
	}
	list, _, err := kelp(t, "token", "list")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(list, id) || !strings.Contains(list, "cli test") || !strings.HasPrefix(list, "ID") {
		t.Errorf("token list lacks %s:\n%s", id, list)
	}
	if _, _, err := kelp(t, "token", "delete", id); err != nil {
		t.Fatal(err)
	}
	list, _, _ = kelp(t, "token", "list")
	if strings.Contains(list, id) {
		t.Errorf("deleted token still listed:\n%s", list)
	}
}

func TestTokenCommandErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"token", "create", "--pool", "Bad_Pool"}, `pool "Bad_Pool"`},
		{[]string{"token", "create", "--pool", "p", "--ttl", "-1h"}, "ttl"},
		{[]string{"token", "create", "--pool", "p", "--ttl", "soon"}, "invalid argument \"soon\""},
		{[]string{"token", "create"}, "pool"},
		{[]string{"token", "delete", "abcdef"}, "abcdef"},
		{[]string{"token", "delete", "NOT-AN-ID"}, "NOT-AN-ID"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, _, err := kelp(t, tt.args...)
			testenv.ErrorContains(t, err, tt.want)
		})
	}
}

func TestUserdataRender(t *testing.T) {
	env := testenv.Get(t)
	out, stderr, err := kelp(t, "userdata", "render", "--userdata-profile", "local", "--pool", "cli", "--cluster-name", "kelp-test",
		"--label", "team=blue", "--taint", "dedicated=gpu:NoSchedule")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr, "created bootstrap token") {
		t.Errorf("stderr does not report the created token: %q", stderr)
	}
	if !strings.HasPrefix(out, "#cloud-config\n") {
		t.Fatalf("output does not start with #cloud-config:\n%s", out)
	}
	cfg, err := userdata.Decode([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	f, ok := cfg.File(userdata.LocalBootstrapKubeconfigPath)
	if !ok {
		t.Fatalf("no %s in user-data", userdata.LocalBootstrapKubeconfigPath)
	}
	data, err := f.Data()
	if err != nil {
		t.Fatal(err)
	}
	kc, err := clientcmd.Load(data)
	if err != nil {
		t.Fatal(err)
	}
	cluster := kc.Clusters[kc.Contexts[kc.CurrentContext].Cluster]
	if cluster.Server != env.Cluster.APIServerURL() || !bytes.Equal(cluster.CertificateAuthorityData, env.Cluster.CACertPEM()) {
		t.Errorf("bootstrap kubeconfig points at %s with another CA", cluster.Server)
	}
	_, _, err = kelp(t, "userdata", "render", "--pool", "cli", "--label", "node-role.kubernetes.io/worker=") // NodeRestriction forbids it
	testenv.ErrorContains(t, err, "node-role.kubernetes.io/worker")
	_, _, err = kelp(t, "userdata", "render", "--pool", "cli", "--taint", "novalue") // malformed
	testenv.ErrorContains(t, err, "--taint")
}

func TestCSRCommands(t *testing.T) {
	env := testenv.Get(t)
	tok, _, err := kelp(t, "token", "create", "--pool", "csr")
	if err != nil {
		t.Fatal(err)
	}
	client := kubernetes.NewForConfigOrDie(tokenConfig(t, env, strings.TrimSpace(tok)))
	first := createCSR(t, client, "ip-127-8-0-1.ec2.internal")
	second := createCSR(t, client, "ip-127-8-0-2.ec2.internal")

	list, _, err := kelp(t, "csr", "list")
	if err != nil {
		t.Fatal(err)
	}
	testenv.Contains(t, "csr list", list, first, "ip-127-8-0-1.ec2.internal", "system:bootstrap:", "kubernetes.io/kube-apiserver-client-kubelet", "Pending")
	// approve asks kelp's policy first: with the cloud out of reach it
	// would leave the CSR pending, so approving needs --force and a reason.
	cloud := []string{"--cluster-name", "kelp-test", "--region", "us-east-1", "--endpoint", "http://127.0.0.1:1"}
	out, _, err := kelp(t, append([]string{"csr", "approve", first}, cloud...)...)
	testenv.ErrorContains(t, err, "kelp's policy would not approve it", "--force")
	testenv.Contains(t, "csr approve", out, first+": kelp's policy: Pending", first+" not approved")
	_, _, err = kelp(t, append([]string{"csr", "approve", "--force", first}, cloud...)...)
	testenv.ErrorContains(t, err, "--reason is required")
	_, _, err = kelp(t, "csr", "approve", first) // no cluster name
	testenv.ErrorContains(t, err, "--cluster-name")
	out, _, err = kelp(t, append([]string{"csr", "approve", "--force", "--reason", "CLITest", first}, cloud...)...)
	if err != nil || !strings.Contains(out, first+" approved (forced against the policy's Pending") {
		t.Fatalf("approve --force: %v %s", err, out)
	}
	_, _, err = kelp(t, append([]string{"csr", "approve", first}, cloud...)...) // twice
	testenv.ErrorContains(t, err, "already decided")
	_, _, err = kelp(t, "csr", "deny", "--all-pending") // without a reason
	testenv.ErrorContains(t, err, "--reason")
	_, _, err = kelp(t, append([]string{"csr", "approve", "no-such-csr"}, cloud...)...)
	testenv.ErrorContains(t, err, `"no-such-csr" not found`)
	if _, _, err := kelp(t, "csr", "deny", "--reason", "UnknownInstance", second); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	got, err := env.Client.CertificatesV1().CertificateSigningRequests().Get(ctx, second, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if c := approver.ConditionOf(got); c != approver.Denied || got.Status.Conditions[0].Reason != "UnknownInstance" {
		t.Errorf("denied CSR is %s with %+v", c, got.Status.Conditions)
	}
	// CSRs of other signers are not kelp csr approve's, even forced.
	otherCSR := testenv.NodeClientCSR(t, "ip-127-8-0-3.ec2.internal")
	otherCSR.Spec.SignerName = "example.com/other"
	created, err := env.Client.CertificatesV1().CertificateSigningRequests().Create(ctx, otherCSR, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = kelp(t, append([]string{"csr", "approve", "--force", "--reason", "CLITest", created.Name}, cloud...)...)
	testenv.ErrorContains(t, err, `signer "example.com/other" is not a kubelet signer`)
	out, _, err = kelp(t, append([]string{"csr", "approve", "--all-pending"}, cloud...)...)
	if err != nil || !strings.Contains(out, created.Name+" skipped: signer example.com/other is not a kubelet signer") {
		t.Errorf("approve --all-pending beside another signer's CSR: %v\n%s", err, out)
	}
	if got, err := env.Client.CertificatesV1().CertificateSigningRequests().Get(ctx, created.Name, metav1.GetOptions{}); err != nil || approver.ConditionOf(got) != approver.Pending {
		t.Errorf("another signer's CSR after kelp csr approve: %v %v, want Pending", err, got.Status.Conditions)
	}
	// The approved one is issued by kube-controller-manager.
	testenv.Eventually(t, time.Minute, "the approved CSR issued", func(ctx context.Context) (bool, error) {
		got, err := env.Client.CertificatesV1().CertificateSigningRequests().Get(ctx, first, metav1.GetOptions{})
		return err == nil && approver.ConditionOf(got) == approver.Issued, nil
	})
}

func createCSR(t *testing.T, client kubernetes.Interface, node string) string {
	t.Helper()
	created, err := testenv.CreateCSR(client, testenv.NodeClientCSR(t, node), 30*time.Second)
	if err != nil {
		t.Fatalf("create CSR for %s: %v", node, err)
	}
	return created.Name
}

func tokenConfig(t *testing.T, env *testenv.Env, token string) *rest.Config {
	t.Helper()
	return &rest.Config{
		Host:            env.Cluster.APIServerURL(),
		BearerToken:     token,
		TLSClientConfig: rest.TLSClientConfig{CAData: env.Cluster.CACertPEM()},
	}
}

func TestVersion(t *testing.T) {
	out, _, err := kelp(t, "version")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "kelp test") || !strings.Contains(out, "kubernetes v1.37.2, etcd v3.6.16") {
		t.Errorf("version output:\n%s", out)
	}
}

func TestUpRefusesMissingBinariesAndBadNames(t *testing.T) {
	dir := t.TempDir()
	root := NewRoot("test")
	root.SetArgs([]string{"up", "--dir", dir, "--controlplane-dir", dir + "/none"})
	root.SetOut(&bytes.Buffer{})
	testenv.ErrorContains(t, root.ExecuteContext(context.Background()), "make controlplane") // missing binaries
	root = NewRoot("test")
	root.SetArgs([]string{"up", "--dir", dir, "--name", "Not_A_Label"})
	testenv.ErrorContains(t, root.ExecuteContext(context.Background()), `"Not_A_Label" is not a DNS label`)
}
