package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/kelp-dev/kelp/internal/bootstrap"
	"github.com/kelp-dev/kelp/internal/localup"
)

type forgery struct {
	name     string
	client   kubernetes.Interface
	signer   string
	subject  pkix.Name
	dnsNames []string
	ips      []net.IP
	usages   []certificatesv1.KeyUsage
}

func submit(t *testing.T, ctx context.Context, f forgery) string {
	t.Helper()
	csr := &certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "forged-"},
		Spec: certificatesv1.CertificateSigningRequestSpec{
			Request: requestPEM(t, f), SignerName: f.signer, Usages: f.usages,
		},
	}
	var created *certificatesv1.CertificateSigningRequest
	var err error
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		created, err = f.client.CertificatesV1().CertificateSigningRequests().Create(ctx, csr, metav1.CreateOptions{})
		return err == nil, nil
	})
	if err != nil {
		t.Fatalf("submit forged CSR %q: %v", f.name, err)
	}
	return created.Name
}

// requestPEM is a PEM certificate request for f's subject and SANs, signed
// by a new key.
func requestPEM(tb testing.TB, f forgery) []byte {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: f.subject, DNSNames: f.dnsNames, IPAddresses: f.ips}, key)
	if err != nil {
		tb.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

func tokenClient(t testing.TB, ctx context.Context, cluster *localup.Cluster, admin kubernetes.Interface, pool string) kubernetes.Interface {
	t.Helper()
	tok, err := bootstrap.CreateToken(ctx, admin, bootstrap.TokenSpec{Pool: pool, TTL: time.Hour}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return kubernetes.NewForConfigOrDie(&rest.Config{
		Host: cluster.ControlPlane.APIServerURL(), BearerToken: tok.String(),
		TLSClientConfig: rest.TLSClientConfig{CAData: cluster.ControlPlane.CACertPEM()},
		QPS:             200, Burst: 400, // an attacker is not polite
	})
}

// ownNodeClient is a client with a node's own certificate, as an attacker
// who took over that node would have.
func ownNodeClient(t *testing.T, cluster *localup.Cluster, providerID string) kubernetes.Interface {
	t.Helper()
	id := filepath.Base(providerID)
	pemFile := filepath.Join(cluster.Runtime.Dir, id, "var", "lib", "kelp", "pki", "kelp-client-current.pem")
	if _, err := os.Stat(pemFile); err != nil {
		t.Fatalf("node certificate: %v", err)
	}
	return kubernetes.NewForConfigOrDie(&rest.Config{
		Host: cluster.ControlPlane.APIServerURL(),
		TLSClientConfig: rest.TLSClientConfig{
			CAData: cluster.ControlPlane.CACertPEM(), CertFile: pemFile, KeyFile: pemFile,
		},
	})
}
