package testenv

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
)

// NodeClientCSR returns the CSR a joining kubelet sends for node: an
// ECDSA P-256 request for CN system:node:<node>, O system:nodes, signer
// kube-apiserver-client-kubelet, usages digital signature and client auth.
func NodeClientCSR(t testing.TB, node string) *certificatesv1.CertificateSigningRequest {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: "system:node:" + node, Organization: []string{"system:nodes"}},
	}, key)
	if err != nil {
		t.Fatal(err)
	}
	return &certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "test-"},
		Spec: certificatesv1.CertificateSigningRequestSpec{
			Request:    pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}),
			SignerName: certificatesv1.KubeAPIServerClientKubeletSignerName,
			Usages:     []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth},
		},
	}
}

// CreateCSR creates csr with client, retrying until within has passed
// (the API server's token authenticator sees a new token Secret after a
// moment). It returns the API server's last answer.
func CreateCSR(client kubernetes.Interface, csr *certificatesv1.CertificateSigningRequest, within time.Duration) (*certificatesv1.CertificateSigningRequest, error) {
	var created *certificatesv1.CertificateSigningRequest
	var last error
	_ = wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, within, true, func(context.Context) (bool, error) {
		// Each attempt gets its own deadline so the last error is the API
		// server's answer, not the poll's timeout.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		created, last = client.CertificatesV1().CertificateSigningRequests().Create(ctx, csr, metav1.CreateOptions{})
		return last == nil, nil
	})
	return created, last
}

// HoldsFor checks, every 200ms for d, that check keeps returning nil, and
// fails the test on its first error: a negative check ("nothing happens")
// given time to be wrong.
func HoldsFor(t testing.TB, d time.Duration, what string, check func(context.Context) error) {
	t.Helper()
	var failed error
	err := wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, d, true, func(context.Context) (bool, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		failed = check(ctx)
		return failed != nil, nil
	})
	if failed != nil {
		t.Fatalf("%s: %v", what, failed)
	}
	if err != nil && !wait.Interrupted(err) {
		t.Fatalf("%s: %v", what, err)
	}
}
