package controlplane_test

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/kelp-dev/kelp/internal/controlplane"
	"github.com/kelp-dev/kelp/internal/testenv"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  controlplane.Config
		want []string // substrings; empty means valid
	}{
		{"valid", controlplane.Config{Dir: "/tmp/x", Name: "local"}, nil},
		{"empty", controlplane.Config{}, []string{"cluster directory is empty", "cluster name is empty"}},
		{"name not a DNS label", controlplane.Config{Dir: "/x", Name: "My_Cluster"}, []string{`cluster name "My_Cluster" is not a DNS label`}},
		{"negative timeout", controlplane.Config{Dir: "/x", Name: "a", StartTimeout: -1}, []string{"must not be negative"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			testenv.CheckError(t, tt.cfg.Validate(), tt.want...)
		})
	}
}

func TestStartFailsOnMissingBinaries(t *testing.T) {
	dir := t.TempDir()
	_, err := controlplane.Start(context.Background(), controlplane.Config{Dir: filepath.Join(dir, "c"), Name: "c", BinDir: filepath.Join(dir, "nothing")})
	testenv.ErrorContains(t, err, "make controlplane")
}

// TestCluster runs one real control plane through its life: readiness,
// scheduling, CSR signing without auto-approval, a refused second start,
// and a stop and restart that keep the data.
func TestCluster(t *testing.T) {
	binDir, err := controlplane.DefaultBinDir()
	if err != nil {
		t.Fatal(err)
	}
	if err := controlplane.CheckBinaries(binDir); err != nil {
		t.Fatal(err)
	}
	release, err := testenv.AcquireSlot()
	if err != nil {
		t.Fatal(err)
	}
	defer release()

	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "c1")
	cfg := controlplane.Config{Dir: dir, Name: "c1", UnsafeNoFsync: true, StartTimeout: 3 * time.Minute}
	cluster, err := controlplane.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = cluster.Stop(context.Background())
		}
	})
	client := adminClient(t, cluster)

	t.Run("api answers with the pinned version", func(t *testing.T) {
		v, err := client.Discovery().ServerVersion()
		if err != nil {
			t.Fatal(err)
		}
		if v.GitVersion != controlplane.KubernetesVersion {
			t.Errorf("server version %s, want %s", v.GitVersion, controlplane.KubernetesVersion)
		}
		if down := cluster.NotRunning(); len(down) > 0 {
			t.Errorf("components not running: %v", down)
		}
	})

	t.Run("second start on the same directory is refused", func(t *testing.T) {
		_, err := controlplane.Start(ctx, cfg)
		testenv.ErrorContains(t, err, "in use by another kelp process")
	})

	t.Run("pod without nodes is unschedulable", func(t *testing.T) {
		testPodUnschedulable(t, client)
	})

	t.Run("node client CSR is signed only once approved", func(t *testing.T) {
		testCSRSigning(t, cluster, client)
	})

	t.Run("stop and restart keep data", func(t *testing.T) {
		_, err := client.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: "survivor"}, Data: map[string]string{"k": "v"},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ports := cluster.Ports()
		if err := cluster.Stop(ctx); err != nil {
			t.Fatal(err)
		}
		stopped = true
		if procs := processesMentioning(t, dir); len(procs) > 0 {
			t.Fatalf("processes left after stop: %v", procs)
		}
		cluster, err = controlplane.Start(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		stopped = false
		if cluster.Ports() != ports {
			t.Errorf("ports changed across restart: %+v then %+v", ports, cluster.Ports())
		}
		cm, err := adminClient(t, cluster).CoreV1().ConfigMaps("default").Get(ctx, "survivor", metav1.GetOptions{})
		if err != nil {
			t.Fatalf("configmap lost across restart: %v", err)
		}
		if cm.Data["k"] != "v" {
			t.Errorf("configmap data = %v", cm.Data)
		}
	})
}

func adminClient(t *testing.T, c *controlplane.Cluster) kubernetes.Interface {
	t.Helper()
	cfg, err := c.AdminRESTConfig()
	if err != nil {
		t.Fatal(err)
	}
	return kubernetes.NewForConfigOrDie(cfg)
}

func testPodUnschedulable(t *testing.T, client kubernetes.Interface) {
	ctx := context.Background()
	_, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "sched"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Pods are refused until the service-account controller has made the
	// namespace's default ServiceAccount.
	testenv.Eventually(t, time.Minute, "a pod created", func(ctx context.Context) (bool, error) {
		_, err := client.CoreV1().Pods("sched").Create(ctx, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "p"},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "registry.k8s.io/pause:3.10"}}},
		}, metav1.CreateOptions{})
		return err == nil, nil
	})
	testenv.Eventually(t, time.Minute, "kube-scheduler to report the pod unschedulable", func(ctx context.Context) (bool, error) {
		pod, err := client.CoreV1().Pods("sched").Get(ctx, "p", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, c := range pod.Status.Conditions {
			if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
				return true, nil
			}
		}
		return false, nil
	})
}

// testCSRSigning creates two node client CSRs with a bootstrap token, as a
// joining kubelet does: the one the admin approves is issued by
// kube-controller-manager and chains to the cluster CA; the other stays
// without approval or certificate, since nothing in the cluster approves
// node CSRs by itself.
func testCSRSigning(t *testing.T, cluster *controlplane.Cluster, admin kubernetes.Interface) {
	ctx := context.Background()
	bootstrap := bootstrapClient(t, cluster, admin)
	approved := createNodeCSR(t, bootstrap, "node-approved")
	pending := createNodeCSR(t, bootstrap, "node-pending")
	// The admin may create certificatesigningrequests/nodeclient (it is in
	// system:masters): kube-controller-manager's csrapproving controller
	// would approve this one at once, were it running.
	byAdmin := createNodeCSR(t, admin, "node-by-admin")
	if got := approved.Spec.Username; got != "system:bootstrap:abcdef" {
		t.Errorf("CSR requestor %q, want system:bootstrap:abcdef", got)
	}

	approved.Status.Conditions = append(approved.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
		Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue, Reason: "TestApproval", Message: "approved by test",
	})
	if _, err := admin.CertificatesV1().CertificateSigningRequests().UpdateApproval(ctx, approved.Name, approved, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	var issued *certificatesv1.CertificateSigningRequest
	testenv.Eventually(t, time.Minute, "the approved CSR issued", func(ctx context.Context) (bool, error) {
		var err error
		issued, err = admin.CertificatesV1().CertificateSigningRequests().Get(ctx, approved.Name, metav1.GetOptions{})
		return err == nil && len(issued.Status.Certificate) > 0, err
	})
	block, _ := pem.Decode(issued.Status.Certificate)
	if block == nil {
		t.Fatal("issued certificate is not PEM")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(cluster.CACertPEM())
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("issued certificate does not chain to the cluster CA: %v", err)
	}
	if cert.Subject.CommonName != "system:node:node-approved" {
		t.Errorf("issued CN %q", cert.Subject.CommonName)
	}

	// The pending CSR was created before the approved one was issued, so
	// kube-controller-manager has seen it; give it a few more seconds to
	// show that nothing approves or signs it.
	testenv.HoldsFor(t, 5*time.Second, "unapproved CSRs stay untouched", func(ctx context.Context) error {
		for _, name := range []string{pending.Name, byAdmin.Name} {
			got, err := admin.CertificatesV1().CertificateSigningRequests().Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if len(got.Status.Conditions) > 0 || len(got.Status.Certificate) > 0 {
				return fmt.Errorf("unapproved CSR %s (requestor %s) changed by itself: conditions %+v, certificate issued: %t", name, got.Spec.Username, got.Status.Conditions, len(got.Status.Certificate) > 0)
			}
		}
		return nil
	})
}

// bootstrapClient creates a bootstrap token with the kelp group, binds
// system:node-bootstrapper to it, and returns a client using the token.
func bootstrapClient(t *testing.T, cluster *controlplane.Cluster, admin kubernetes.Interface) kubernetes.Interface {
	ctx := context.Background()
	_, err := admin.CoreV1().Secrets("kube-system").Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "bootstrap-token-abcdef"},
		Type:       corev1.SecretTypeBootstrapToken,
		StringData: map[string]string{
			"token-id": "abcdef", "token-secret": "0123456789abcdef",
			"usage-bootstrap-authentication": "true",
			"auth-extra-groups":              "system:bootstrappers:kelp",
			"expiration":                     time.Now().Add(time.Hour).UTC().Format(time.RFC3339),
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = admin.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "test-node-bootstrapper"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "system:node-bootstrapper"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: "system:bootstrappers:kelp"}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := &rest.Config{
		Host:            cluster.APIServerURL(),
		BearerToken:     "abcdef.0123456789abcdef",
		TLSClientConfig: rest.TLSClientConfig{CAData: cluster.CACertPEM()},
	}
	return kubernetes.NewForConfigOrDie(cfg)
}

func createNodeCSR(t *testing.T, client kubernetes.Interface, node string) *certificatesv1.CertificateSigningRequest {
	t.Helper()
	created, err := testenv.CreateCSR(client, testenv.NodeClientCSR(t, node), 30*time.Second)
	if err != nil {
		t.Fatalf("create CSR for %s: %v", node, err)
	}
	return created
}

// processesMentioning lists running processes whose command line contains
// s: after Stop, none may remain.
func processesMentioning(t *testing.T, s string) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, e := range entries {
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !strings.Contains(string(cmdline), s) {
			continue
		}
		if stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat")); err == nil && strings.Contains(string(stat), ") Z ") {
			continue // zombie awaiting reaping by its parent is not running
		}
		found = append(found, e.Name()+": "+strings.ReplaceAll(string(cmdline), "\x00", " "))
	}
	return found
}
