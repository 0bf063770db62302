package join

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// The join endpoint's shared secrets, each a kube-system Secret created
// once by whichever replica starts first (an atomic create: AlreadyExists
// means another replica made it, which is then read).
const (
	// NonceKeySecret holds the HMAC key of the nonces (data key "key").
	NonceKeySecret = "kelp-join-nonce-key"
	// CASecret holds the CA of the endpoint's serving certificates (data
	// keys "ca.crt" and "ca.key"); its certificate is the CA bundle an
	// identity-mode instance trusts ([CABundle]).
	CASecret = "kelp-join-ca"
	// serving certificate lifetimes
	caLifetime      = 10 * 365 * 24 * time.Hour
	servingLifetime = 365 * 24 * time.Hour
)

// EnsureNonceKey returns the nonce key every replica shares, creating it
// on first use.
func EnsureNonceKey(ctx context.Context, client kubernetes.Interface) ([]byte, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("generate nonce key: %w", err)
	}
	data, err := ensureSecret(ctx, client, NonceKeySecret, map[string][]byte{"key": key})
	if err != nil {
		return nil, err
	}
	if len(data["key"]) < MinNonceKeyBytes {
		return nil, fmt.Errorf("secret %s/%s: key is %d bytes, want at least %d", ClaimNamespace, NonceKeySecret, len(data["key"]), MinNonceKeyBytes)
	}
	return data["key"], nil
}

// CA is the endpoint's certificate authority.
type CA struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
	// PEM is the CA bundle instances trust.
	PEM []byte
}

// EnsureCA returns the endpoint's CA, creating it on first use.
func EnsureCA(ctx context.Context, client kubernetes.Interface, now time.Time) (CA, error) {
	certPEM, keyPEM, err := newCA(now)
	if err != nil {
		return CA{}, err
	}
	data, err := ensureSecret(ctx, client, CASecret, map[string][]byte{"ca.crt": certPEM, "ca.key": keyPEM})
	if err != nil {
		return CA{}, err
	}
	ca, err := parseCA(data["ca.crt"], data["ca.key"])
	if err != nil {
		return CA{}, fmt.Errorf("secret %s/%s: %w", ClaimNamespace, CASecret, err)
	}
	return ca, nil
}

// CABundle reads the CA bundle of the join endpoint from its Secret.
func CABundle(ctx context.Context, client kubernetes.Interface) ([]byte, error) {
	s, err := client.CoreV1().Secrets(ClaimNamespace).Get(ctx, CASecret, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("read join CA %s/%s: %w", ClaimNamespace, CASecret, err)
	}
	if len(s.Data["ca.crt"]) == 0 {
		return nil, fmt.Errorf("join CA %s/%s has no ca.crt", ClaimNamespace, CASecret)
	}
	return s.Data["ca.crt"], nil
}

// Serving issues a serving certificate for hosts (DNS names or IP
// addresses), signed by ca, valid from now.
func (ca CA) Serving(hosts []string, now time.Time) (tls.Certificate, error) {
	if len(hosts) == 0 {
		return tls.Certificate{}, errors.New("serving certificate: name at least one host")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("generate serving key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: hosts[0]},
		NotBefore: now.Add(-time.Minute), NotAfter: now.Add(servingLifetime),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("sign serving certificate for %q: %w", hosts, err)
	}
	return tls.Certificate{Certificate: [][]byte{der, ca.Cert.Raw}, PrivateKey: key}, nil
}

// ensureSecret creates kube-system/name with data unless it exists, and
// returns the data of the one that exists.
func ensureSecret(ctx context.Context, client kubernetes.Interface, name string, data map[string][]byte) (map[string][]byte, error) {
	secrets := client.CoreV1().Secrets(ClaimNamespace)
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ClaimNamespace, Labels: map[string]string{"app.kubernetes.io/managed-by": "kelp"}},
		Type:       corev1.SecretTypeOpaque, Data: data,
	}
	_, err := secrets.Create(ctx, s, metav1.CreateOptions{})
	switch {
	case err == nil:
		return data, nil
	case !apierrors.IsAlreadyExists(err):
		return nil, fmt.Errorf("create secret %s/%s: %w", ClaimNamespace, name, err)
	}
	got, err := secrets.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("read secret %s/%s: %w", ClaimNamespace, name, err)
	}
	return got.Data, nil
}

func newCA(now time.Time) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate join CA key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: "kelp-join-ca"},
		NotBefore: now.Add(-time.Minute), NotAfter: now.Add(caLifetime),
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("sign join CA: %w", err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("encode join CA key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), nil
}

func parseCA(certPEM, keyPEM []byte) (CA, error) {
	cb, _ := pem.Decode(certPEM)
	kb, _ := pem.Decode(keyPEM)
	if cb == nil || kb == nil {
		return CA{}, errors.New("ca.crt and ca.key must each hold a PEM block")
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return CA{}, fmt.Errorf("ca.crt: %w", err)
	}
	key, err := x509.ParseECPrivateKey(kb.Bytes)
	if err != nil {
		return CA{}, fmt.Errorf("ca.key: %w", err)
	}
	if !cert.IsCA || !key.PublicKey.Equal(cert.PublicKey) {
		return CA{}, errors.New("ca.crt is not a CA certificate of ca.key")
	}
	return CA{Cert: cert, Key: key, PEM: certPEM}, nil
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
	return n.Add(n, big.NewInt(1))
}
