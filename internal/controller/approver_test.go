package controller

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/kelp-dev/kelp/internal/approver"
	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/cloud/cloudtest"
	"github.com/kelp-dev/kelp/internal/testenv"
)

// otherSignerCSR is a valid CSR of a signer that is not kelp's.
func otherSignerCSR(t testing.TB, extra int) *certificatesv1.CertificateSigningRequest {
	t.Helper()
	return requestCSR(t, pkix.Name{CommonName: "someone"}, extra)
}

// requestCSR is a CSR of signer example.com/other for subject, with an
// extension of extra bytes when extra > 0.
func requestCSR(t testing.TB, subject pkix.Name, extra int) *certificatesv1.CertificateSigningRequest {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.CertificateRequest{Subject: subject}
	if extra > 0 {
		tmpl.ExtraExtensions = []pkix.Extension{{Id: []int{1, 3, 6, 1, 4, 1, 99999, 1}, Value: make([]byte, extra)}}
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		t.Fatal(err)
	}
	return &certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "other-"},
		Spec: certificatesv1.CertificateSigningRequestSpec{
			Request:    pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}),
			SignerName: "example.com/other",
			Usages:     []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth},
		},
	}
}

// TestCSRInformersHoldOnlyKelpsSigners: the approver's caches never see a
// CSR of another signer, and keep no request of a decided CSR.
func TestCSRInformersHoldOnlyKelpsSigners(t *testing.T) {
	env := testenv.Get(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	csrs := env.Client.CertificatesV1().CertificateSigningRequests()
	other, err := csrs.Create(ctx, otherSignerCSR(t, 0), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	kubelet, err := csrs.Create(ctx, testenv.NodeClientCSR(t, "informer-"+utilrand.String(5)), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = csrs.Delete(context.Background(), other.Name, metav1.DeleteOptions{})
		_ = csrs.Delete(context.Background(), kubelet.Name, metav1.DeleteOptions{})
	})
	informers := newCSRInformers(env.Client)
	for _, f := range informers.factories {
		f.Start(ctx.Done())
		f.WaitForCacheSync(ctx.Done())
	}
	defer func() {
		cancel()
		for _, f := range informers.factories {
			f.Shutdown()
		}
	}()
	cached, err := informers.get(kubelet.Name)
	if err != nil || len(cached.Spec.Request) == 0 {
		t.Fatalf("pending kubelet CSR in the cache: %v, request of %d bytes; want it with its request", err, len(cached.Spec.Request))
	}
	if _, err := informers.get(other.Name); err == nil {
		t.Fatalf("CSR %s of signer %s is in the approver's cache", other.Name, other.Spec.SignerName)
	}
	denied := kubelet.DeepCopy()
	denied.Status.Conditions = append(denied.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
		Type: certificatesv1.CertificateDenied, Status: corev1.ConditionTrue, Reason: "Test", Message: "denied by the test"})
	if _, err := csrs.UpdateApproval(ctx, kubelet.Name, denied, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.EventuallyTrue(t, time.Minute, "the decided CSR's request dropped from the cache", func() bool {
		c, err := informers.get(kubelet.Name)
		return err == nil && approver.ConditionOf(c) == approver.Denied && c.Spec.Request == nil
	})
	for _, l := range informers.listers {
		all, err := l.List(labels.Everything())
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range all {
			if c.Spec.SignerName != approver.Signers[0] && c.Spec.SignerName != approver.Signers[1] {
				t.Errorf("CSR %s of signer %s in the cache", c.Name, c.Spec.SignerName)
			}
		}
	}
}

// TestRenewalCertificateLandsInRecord: a managed node renews its client
// certificate; kelp approves it, kube-controller-manager signs it, and the
// certificate's SHA-256 lands in kelp's record of the instance.
func TestRenewalCertificateLandsInRecord(t *testing.T) {
	env := testenv.Get(t)
	ctx := context.Background()
	suffix := utilrand.String(6)
	var idBytes [8]byte
	_, _ = rand.Read(idBytes[:])
	nodeName, instanceID := "ip-10-77-0-1-"+suffix+".ec2.internal", "i-0"+hex.EncodeToString(idBytes[:])
	inst := cloud.Instance{
		ID: instanceID, ProviderID: "aws:///us-east-1a/" + instanceID, State: cloud.InstanceStateRunning,
		GroupName: "kelp-test-renew", Pool: "renew", PrivateDNSName: nodeName, PrivateIPs: []string{"10.77.0.1"},
		LaunchTime: time.Now().Add(-time.Hour),
	}
	provider := cloudtest.New(cloud.NodeGroup{ID: "kelp-test-renew", Pool: "renew", Instances: []cloud.Instance{inst}})
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: nodeName, Labels: map[string]string{"kelp.dev/pool": "renew"}},
		Spec: corev1.NodeSpec{ProviderID: inst.ProviderID}}
	if _, err := env.Client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Client.CoreV1().Nodes().Delete(context.Background(), nodeName, metav1.DeleteOptions{}) })

	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- Run(runCtx, Options{ClusterName: testenv.ClusterName, Approve: approver.ModeAuto},
			Deps{Client: env.Client, Cloud: provider, Registry: prometheus.NewRegistry(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	asNode := impersonate(t, env.Config, "system:node:"+nodeName, "system:nodes", "system:authenticated")
	created, err := testenv.CreateCSR(asNode, testenv.NodeClientCSR(t, nodeName), 30*time.Second)
	if err != nil {
		t.Fatalf("create the renewal CSR as the node: %v", err)
	}
	csrs := env.Client.CertificatesV1().CertificateSigningRequests()
	t.Cleanup(func() { _ = csrs.Delete(context.Background(), created.Name, metav1.DeleteOptions{}) })
	var issued *certificatesv1.CertificateSigningRequest
	testenv.Eventually(t, time.Minute, "the renewal approved and issued", func(ctx context.Context) (bool, error) {
		issued, err = csrs.Get(ctx, created.Name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		if c := approver.ConditionOf(issued); c == approver.Denied || c == approver.Failed {
			t.Fatalf("renewal %s: %+v", c, issued.Status.Conditions)
		}
		return approver.ConditionOf(issued) == approver.Issued, nil
	})
	block, _ := pem.Decode(issued.Status.Certificate)
	sum := sha256.Sum256(block.Bytes)
	want := hex.EncodeToString(sum[:])
	record := &approver.ApprovalRecord{Client: env.Client}
	testenv.Eventually(t, time.Minute, "the issued certificate in kelp's record", func(ctx context.Context) (bool, error) {
		fresh := &approver.ApprovalRecord{Client: env.Client}
		record = fresh
		got, err := fresh.Approvals(ctx)
		if err != nil {
			return false, err
		}
		for _, c := range got[instanceID].Certificates {
			if c.SHA256 == want && c.CSRUID == created.UID && c.NotAfter.After(time.Now()) {
				return true, nil
			}
		}
		return false, nil
	})
	if got, _ := record.Approvals(ctx); !strings.EqualFold(got[instanceID].NodeName, nodeName) {
		t.Errorf("record of %s: node %q, want %q", instanceID, got[instanceID].NodeName, nodeName)
	}
}

// impersonate returns a client acting as user with groups, through the
// admin's impersonation rights.
func impersonate(t testing.TB, cfg *rest.Config, user string, groups ...string) kubernetes.Interface {
	t.Helper()
	c := rest.CopyConfig(cfg)
	c.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: groups}
	client, err := kubernetes.NewForConfig(c)
	if err != nil {
		t.Fatal(err)
	}
	return client
}
