package nodeagent

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"math/rand/v2"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/clock"
	"sigs.k8s.io/yaml"

	"github.com/kelp-dev/kelp/internal/bootstrap"
	"github.com/kelp-dev/kelp/internal/testenv"
	"github.com/kelp-dev/kelp/internal/userdata"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// testIPs numbers the nodes of this test binary: 127.0.<n/250+1>.<n%250+2>.
var testIPs atomic.Uint32

// newIdentity returns a valid identity with a unique loopback IP and name.
func newIdentity() InstanceIdentity {
	n := testIPs.Add(1) - 1
	a, b := n/250+1, n%250+2
	return InstanceIdentity{
		InstanceID:       fmt.Sprintf("i-%017x", rand.Uint64()),
		InstanceType:     "m5.large",
		AvailabilityZone: "us-east-1a",
		Region:           "us-east-1",
		PrivateIP:        fmt.Sprintf("127.0.%d.%d", a, b),
		PrivateDNSName:   fmt.Sprintf("ip-127-0-%d-%d.ec2.internal", a, b),
		Lifecycle:        LifecycleOnDemand,
		ImageID:          "ami-0123456789abcdef0",
	}
}

// nodeOpts tunes newTestNode; the zero value is a plain on-demand m5.large
// in pool "workers" with a fresh token.
type nodeOpts struct {
	id     *InstanceIdentity
	pool   string
	labels map[string]string
	taints []corev1.Taint
	token  *bootstrap.Token
	tuning Tuning
	clock  clock.WithTicker
}

// testNode is an agent on a root directory written like cloud-init would.
type testNode struct {
	env   *testenv.Env
	root  string
	id    InstanceIdentity
	token bootstrap.Token
	agent *Agent
	stop  context.CancelFunc
	done  chan error
}

// newTestNode lays out a root directory and creates (not runs) an agent.
// Cleanup stops the agent and deletes its Node, Lease and CSRs.
func newTestNode(t *testing.T, env *testenv.Env, o nodeOpts) *testNode {
	t.Helper()
	ctx := context.Background()
	if err := bootstrap.EnsureJoinRBAC(ctx, env.Client); err != nil {
		t.Fatalf("ensure join RBAC: %v", err)
	}
	if o.pool == "" {
		o.pool = "workers"
	}
	n := &testNode{env: env, root: t.TempDir()}
	if o.id != nil {
		n.id = *o.id
	} else {
		n.id = newIdentity()
	}
	if o.token != nil {
		n.token = *o.token
	} else {
		n.token = createToken(t, env, o.pool)
	}
	kubeconfig, err := bootstrap.BootstrapKubeconfig(env.Cluster.APIServerURL(), env.Cluster.CACertPEM(), n.token)
	if err != nil {
		t.Fatalf("bootstrap kubeconfig: %v", err)
	}
	labels := map[string]string{userdata.PoolLabel: o.pool}
	for k, v := range o.labels {
		labels[k] = v
	}
	nc, err := yaml.Marshal(userdata.NodeConfig{
		APIVersion: userdata.NodeConfigAPIVersion, Kind: userdata.NodeConfigKind,
		ClusterName: testenv.ClusterName, Pool: o.pool, Labels: labels, Taints: o.taints,
	})
	if err != nil {
		t.Fatal(err)
	}
	writeTestFile(t, filepath.Join(n.root, userdata.LocalBootstrapKubeconfigPath), kubeconfig)
	writeTestFile(t, filepath.Join(n.root, userdata.LocalNodeConfigPath), nc)
	if err := WriteIdentity(n.root, n.id); err != nil {
		t.Fatalf("WriteIdentity: %v", err)
	}
	n.agent = n.newAgent(t, o)
	t.Cleanup(func() { n.cleanup(t) })
	return n
}

func (n *testNode) newAgent(t *testing.T, o nodeOpts) *Agent {
	t.Helper()
	a, err := New(Config{Root: n.root, Clock: o.clock, Logger: testLogger(t), Tuning: o.tuning})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return a
}

func writeTestFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// testLogger logs warnings and errors through t, so failures show the
// agent's view.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// start runs the agent in the background.
func (n *testNode) start(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	n.stop, n.done = cancel, make(chan error, 1)
	a := n.agent
	go func() { n.done <- a.Run(ctx) }()
}

// halt cancels the agent and returns Run's result.
func (n *testNode) halt(t *testing.T) error {
	t.Helper()
	if n.stop == nil {
		return nil
	}
	n.stop()
	n.stop = nil
	select {
	case err := <-n.done:
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("agent did not stop within 30s of cancel")
		return nil
	}
}

func (n *testNode) cleanup(t *testing.T) {
	if err := n.halt(t); err != nil {
		t.Errorf("Run: %v", err)
	}
	ctx := context.Background()
	name := n.id.PrivateDNSName
	_ = n.env.Client.CoreV1().Nodes().Delete(ctx, name, metav1.DeleteOptions{})
	_ = n.env.Client.CoordinationV1().Leases(corev1.NamespaceNodeLease).Delete(ctx, name, metav1.DeleteOptions{})
	for _, c := range listCSRs(t, n.env, n.bootstrapUser(), n.nodeUser()) {
		_ = n.env.Client.CertificatesV1().CertificateSigningRequests().Delete(ctx, c.Name, metav1.DeleteOptions{})
	}
}

func (n *testNode) bootstrapUser() string { return "system:bootstrap:" + n.token.ID }
func (n *testNode) nodeUser() string      { return "system:node:" + n.id.PrivateDNSName }

// createToken creates a kelp bootstrap token for pool, deleted at cleanup.
func createToken(t *testing.T, env *testenv.Env, pool string) bootstrap.Token {
	t.Helper()
	tok, err := bootstrap.CreateToken(context.Background(), env.Client, bootstrap.TokenSpec{Pool: pool, TTL: time.Hour}, time.Now())
	if err != nil {
		t.Fatalf("create bootstrap token: %v", err)
	}
	t.Cleanup(func() { _ = bootstrap.DeleteToken(context.Background(), env.Client, tok.ID) })
	return tok
}

// listCSRs returns the CSRs requested by any of users.
func listCSRs(t testing.TB, env *testenv.Env, users ...string) []certificatesv1.CertificateSigningRequest {
	t.Helper()
	list, err := env.Client.CertificatesV1().CertificateSigningRequests().List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatalf("list CSRs: %v", err)
	}
	var out []certificatesv1.CertificateSigningRequest
	for _, c := range list.Items {
		for _, u := range users {
			if c.Spec.Username == u {
				out = append(out, c)
			}
		}
	}
	return out
}

func isPending(c *certificatesv1.CertificateSigningRequest) bool {
	return len(c.Status.Conditions) == 0
}

// waitCSR waits for a pending CSR of user and signer and returns it.
func waitCSR(t testing.TB, env *testenv.Env, user, signer string) *certificatesv1.CertificateSigningRequest {
	t.Helper()
	var found *certificatesv1.CertificateSigningRequest
	testenv.Eventually(t, time.Minute, fmt.Sprintf("pending CSR of %s for %s", user, signer), func(context.Context) (bool, error) {
		for _, c := range listCSRs(t, env, user) {
			if c.Spec.SignerName == signer && isPending(&c) {
				found = c.DeepCopy()
				return true, nil
			}
		}
		return false, nil
	})
	return found
}

// approve approves a CSR as the admin, like `kubectl certificate approve`.
func approve(t testing.TB, client kubernetes.Interface, c *certificatesv1.CertificateSigningRequest) {
	t.Helper()
	if err := approveCSR(context.Background(), client, c); err != nil {
		t.Fatal(err)
	}
}

func approveCSR(ctx context.Context, client kubernetes.Interface, c *certificatesv1.CertificateSigningRequest) error {
	c = c.DeepCopy()
	c.Status.Conditions = append(c.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
		Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue,
		Reason: "KelpTest", Message: "approved by the nodeagent tests",
	})
	_, err := client.CertificatesV1().CertificateSigningRequests().UpdateApproval(ctx, c.Name, c, metav1.UpdateOptions{})
	if err != nil && !apierrors.IsConflict(err) {
		return fmt.Errorf("approve csr %s: %w", c.Name, err)
	}
	return nil
}

// joinNode starts n, approves its bootstrap CSR and waits until it is
// ready.
func joinNode(t *testing.T, n *testNode) {
	t.Helper()
	n.start(t)
	approve(t, n.env.Client, waitCSR(t, n.env, n.bootstrapUser(), certificatesv1.KubeAPIServerClientKubeletSignerName))
	waitReady(t, n.agent)
}

func waitReady(t testing.TB, a *Agent) {
	t.Helper()
	select {
	case <-a.Ready():
	case <-time.After(time.Minute):
		t.Fatalf("agent %s not ready within a minute: %+v", a.NodeName(), a.Status())
	}
}

// nodeClientFromDisk is a client built from the kubeconfig the agent
// wrote: exactly the node's identity.
func nodeClientFromDisk(t *testing.T, n *testNode) kubernetes.Interface {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join(n.root, KubeconfigPath))
	if err != nil {
		t.Fatalf("load node kubeconfig: %v", err)
	}
	return kubernetes.NewForConfigOrDie(cfg)
}
