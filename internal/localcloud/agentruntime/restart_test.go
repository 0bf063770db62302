package agentruntime

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kelp-dev/kelp/internal/bootstrap"
	"github.com/kelp-dev/kelp/internal/localcloud"
	"github.com/kelp-dev/kelp/internal/nodeagent"
	"github.com/kelp-dev/kelp/internal/testenv"
	"github.com/kelp-dev/kelp/internal/userdata"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// bootstrapCSR returns the node's client CSR filed with the token, or nil.
func bootstrapCSR(t *testing.T, env *testenv.Env, tok bootstrap.Token) *certificatesv1.CertificateSigningRequest {
	t.Helper()
	list, err := env.Client.CertificatesV1().CertificateSigningRequests().List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatalf("list CSRs: %v", err)
	}
	for _, c := range list.Items {
		if c.Spec.Username == "system:bootstrap:"+tok.ID && c.Spec.SignerName == certificatesv1.KubeAPIServerClientKubeletSignerName {
			return c.DeepCopy()
		}
	}
	return nil
}

// decide approves or denies a CSR as the admin would.
func decide(t *testing.T, env *testenv.Env, c *certificatesv1.CertificateSigningRequest, typ certificatesv1.RequestConditionType, reason string) {
	t.Helper()
	c.Status.Conditions = append(c.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
		Type: typ, Status: corev1.ConditionTrue, Reason: reason, Message: "by the agentruntime tests"})
	if _, err := env.Client.CertificatesV1().CertificateSigningRequests().UpdateApproval(context.Background(), c.Name, c, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("%s csr %s: %v", typ, c.Name, err)
	}
}

// TestAgentRestartsAfterDenial: the runtime restarts an agent whose client
// CSR was denied, as systemd restarts the kubelet. The new agent finds its
// denied CSR (same key, same name) until the CSR is deleted, as
// kube-controller-manager's cleaner would, then files a new one, which is
// approved, and joins.
func TestAgentRestartsAfterDenial(t *testing.T) {
	env := testenv.Get(t)
	ctx := context.Background()
	if err := bootstrap.EnsureJoinRBAC(ctx, env.Client); err != nil {
		t.Fatal(err)
	}
	tok, err := bootstrap.CreateToken(ctx, env.Client, bootstrap.TokenSpec{Pool: "workers", TTL: time.Hour}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bootstrap.DeleteToken(ctx, env.Client, tok.ID) })
	kubeconfig, err := bootstrap.BootstrapKubeconfig(env.Cluster.APIServerURL(), env.Cluster.CACertPEM(), tok)
	if err != nil {
		t.Fatal(err)
	}
	ud, err := userdata.Render(userdata.Input{Profile: userdata.ProfileLocal, ClusterName: testenv.ClusterName, Pool: "workers",
		BootstrapKubeconfig: kubeconfig})
	if err != nil {
		t.Fatal(err)
	}
	inst := localcloud.InstanceInfo{ID: "i-0a11ce0000000000a", InstanceType: "m5.large", Region: "us-east-1",
		AvailabilityZone: "us-east-1a", PrivateIP: "127.0.200.7", PrivateDNSName: "ip-127-0-200-7.ec2.internal",
		CapacityType: "on-demand", ImageID: localcloud.ImageLocalNode}
	t.Cleanup(func() {
		_ = env.Client.CoreV1().Nodes().Delete(ctx, inst.PrivateDNSName, metav1.DeleteOptions{})
		_ = env.Client.CoordinationV1().Leases(corev1.NamespaceNodeLease).Delete(ctx, inst.PrivateDNSName, metav1.DeleteOptions{})
	})
	r := &Runtime{Dir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})),
		RestartDelay: time.Second}
	if err := r.Boot(ctx, inst, ud.Data); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Stop(inst.ID) })

	var first *certificatesv1.CertificateSigningRequest
	testenv.EventuallyTrue(t, time.Minute, "the first CSR", func() bool { first = bootstrapCSR(t, env, tok); return first != nil })
	// The second CSR has the first's name (same key): one cleanup for both.
	t.Cleanup(func() {
		_ = env.Client.CertificatesV1().CertificateSigningRequests().Delete(ctx, first.Name, metav1.DeleteOptions{})
	})
	decide(t, env, first, certificatesv1.CertificateDenied, "ContestedJoin")
	// Two restarts find the denied CSR again. Then, while the agent waits
	// to restart (between two CSR requests: client-go's wait would miss a
	// deletion between its Get and its List), the CSR is deleted.
	testenv.EventuallyTrue(t, time.Minute, "two restarts on the denied CSR, then waiting to restart", func() bool {
		n, _ := r.Restarts(inst.ID)
		a, ok := r.Agent(inst.ID)
		return n >= 2 && ok && a.Status().Phase == nodeagent.PhaseStopped
	})
	if c := bootstrapCSR(t, env, tok); c == nil || c.UID != first.UID {
		t.Fatalf("restarts filed another CSR while the denied one exists: %+v", c)
	}

	// The denied CSR goes (kube-controller-manager deletes denied CSRs
	// after an hour); the next start files a new one.
	if err := env.Client.CertificatesV1().CertificateSigningRequests().Delete(ctx, first.Name, metav1.DeleteOptions{
		Preconditions: &metav1.Preconditions{UID: &first.UID}}); err != nil {
		t.Fatal(err)
	}
	var second *certificatesv1.CertificateSigningRequest
	testenv.EventuallyTrue(t, time.Minute, "a new CSR", func() bool {
		second = bootstrapCSR(t, env, tok)
		return second != nil && second.UID != first.UID && len(second.Status.Conditions) == 0
	})
	decide(t, env, second, certificatesv1.CertificateApproved, "KelpTest")
	testenv.Eventually(t, time.Minute, "the node joins", func(ctx context.Context) (bool, error) {
		a, ok := r.Agent(inst.ID)
		if !ok {
			return false, fmt.Errorf("instance %s not running", inst.ID)
		}
		return a.Status().Ready, nil
	})
	node, err := env.Client.CoreV1().Nodes().Get(ctx, inst.PrivateDNSName, metav1.GetOptions{})
	if err != nil || node.Spec.ProviderID != inst.ProviderID() {
		t.Fatalf("node %+v, %v", node, err)
	}
	restarts, _ := r.Restarts(inst.ID)
	// Joined: no more restarts.
	testenv.HoldsFor(t, time.Second, "no restart after joining", func(context.Context) error {
		if n, _ := r.Restarts(inst.ID); n != restarts {
			return fmt.Errorf("restarts %d -> %d", restarts, n)
		}
		return nil
	})
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}
