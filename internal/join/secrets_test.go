package join_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"testing"

	"k8s.io/client-go/kubernetes/fake"

	"github.com/kelp-dev/kelp/internal/join"
)

// TestSharedSecretsAreCreatedOnce: every replica gets the same nonce key
// and CA, the first one's; a serving certificate of the CA verifies
// against the bundle for its hosts.
func TestSharedSecretsAreCreatedOnce(t *testing.T) {
	ctx, client := context.Background(), fake.NewClientset()
	k1, err := join.EnsureNonceKey(ctx, client)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := join.EnsureNonceKey(ctx, client)
	if err != nil || !bytes.Equal(k1, k2) || len(k1) < join.MinNonceKeyBytes {
		t.Fatalf("second replica's key %x (%v), first %x: want the same, at least %d bytes", k2, err, k1, join.MinNonceKeyBytes)
	}
	ca1, err := join.EnsureCA(ctx, client, start)
	if err != nil {
		t.Fatal(err)
	}
	ca2, err := join.EnsureCA(ctx, client, start)
	if err != nil || !bytes.Equal(ca1.PEM, ca2.PEM) {
		t.Fatalf("second replica's CA differs (%v)", err)
	}
	bundle, err := join.CABundle(ctx, client)
	if err != nil || !bytes.Equal(bundle, ca1.PEM) {
		t.Fatalf("CABundle = %q, %v", bundle, err)
	}
	cert, err := ca2.Serving([]string{"kelp.kube-system.svc", "127.0.0.1"}, start)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(bundle)
	for _, host := range []string{"kelp.kube-system.svc", "127.0.0.1"} {
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: host, CurrentTime: start}); err != nil {
			t.Errorf("serving certificate for %s: %v", host, err)
		}
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: "elsewhere", CurrentTime: start}); err == nil {
		t.Error("serving certificate verifies for a host it does not name")
	}
	if _, err := ca1.Serving(nil, start); err == nil {
		t.Error("a serving certificate for no host was issued")
	}
}
