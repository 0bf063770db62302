package nodeagent

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"os"
	"slices"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	certutil "k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/certificate/csr"
	"k8s.io/client-go/util/keyutil"
)

// ErrCertificateDenied is wrapped by Run's error when the client CSR of the
// TLS bootstrap is denied or fails signing: the agent cannot join, and
// retrying with the same request would not change that.
var ErrCertificateDenied = errors.New("certificate signing request denied")

// Names of the node identity.
const (
	nodeUserPrefix = "system:node:"
	nodesGroup     = "system:nodes"
)

// csrWaitTimeout bounds one wait for a CSR to be issued, as the kubelet's.
const csrWaitTimeout = time.Hour

// certSpec describes a certificate the agent requests and keeps.
type certSpec struct {
	kind     string // "client" or "serving", for logs and errors
	signer   string
	usages   []certificatesv1.KeyUsage
	subject  pkix.Name
	dnsNames []string
	ips      []net.IP
	lifetime time.Duration // requested expirationSeconds; 0 for the signer's default
	file     string        // combined certificate and key PEM
}

// clientCertSpec is the kubelet client certificate of node.
func clientCertSpec(node string, lifetime time.Duration, file string) certSpec {
	return certSpec{
		kind:     "client",
		signer:   certificatesv1.KubeAPIServerClientKubeletSignerName,
		usages:   []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth},
		subject:  pkix.Name{CommonName: nodeUserPrefix + node, Organization: []string{nodesGroup}},
		lifetime: lifetime,
		file:     file,
	}
}

// servingCertSpec is the kubelet serving certificate of node at ip. With an
// ECDSA key the usages carry no key encipherment, as the kubelet's.
func servingCertSpec(node string, ip net.IP, lifetime time.Duration, file string) certSpec {
	return certSpec{
		kind:     "serving",
		signer:   certificatesv1.KubeletServingSignerName,
		usages:   []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageServerAuth},
		subject:  pkix.Name{CommonName: nodeUserPrefix + node, Organization: []string{nodesGroup}},
		dnsNames: []string{node},
		ips:      []net.IP{ip},
		lifetime: lifetime,
		file:     file,
	}
}

// check returns why leaf cannot serve as this certificate at now, or nil.
func (s certSpec) check(leaf *x509.Certificate, now time.Time) error {
	switch {
	case leaf == nil:
		return errors.New("no certificate")
	case now.After(leaf.NotAfter):
		return fmt.Errorf("expired at %s", leaf.NotAfter.UTC().Format(time.RFC3339))
	case leaf.Subject.CommonName != s.subject.CommonName:
		return fmt.Errorf("common name %q, want %q", leaf.Subject.CommonName, s.subject.CommonName)
	case !slices.Equal(leaf.Subject.Organization, s.subject.Organization):
		return fmt.Errorf("organization %q, want %q", leaf.Subject.Organization, s.subject.Organization)
	case !slices.Equal(leaf.DNSNames, s.dnsNames):
		return fmt.Errorf("DNS names %q, want %q", leaf.DNSNames, s.dnsNames)
	case !slices.EqualFunc(leaf.IPAddresses, s.ips, net.IP.Equal):
		return fmt.Errorf("IP addresses %v, want %v", leaf.IPAddresses, s.ips)
	}
	return nil
}

// loadCert reads the combined PEM file of s and checks it; a missing file
// is reported with os.ErrNotExist.
func (s certSpec) load(now time.Time) (*tls.Certificate, error) {
	data, err := os.ReadFile(s.file)
	if err != nil {
		return nil, fmt.Errorf("read %s certificate: %w", s.kind, err)
	}
	pair, err := tls.X509KeyPair(data, data)
	if err != nil {
		return nil, fmt.Errorf("load %s certificate %s: %w", s.kind, s.file, err)
	}
	if err := s.check(pair.Leaf, now); err != nil {
		return nil, fmt.Errorf("%s certificate %s: %w", s.kind, s.file, err)
	}
	return &pair, nil
}

// newKey returns a fresh ECDSA P-256 key, the kubelet's key type.
func newKey() (*ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate ECDSA P-256 key: %w", err)
	}
	return key, nil
}

// loadOrCreateKey returns the PEM key in path, creating it (0600) when
// missing or unreadable as a key.
func loadOrCreateKey(path string) (*ecdsa.PrivateKey, error) {
	if data, err := os.ReadFile(path); err == nil {
		if k, err := keyutil.ParsePrivateKeyPEM(data); err == nil {
			if ec, ok := k.(*ecdsa.PrivateKey); ok {
				return ec, nil
			}
		}
	}
	key, err := newKey()
	if err != nil {
		return nil, err
	}
	pemKey, err := keyutil.MarshalPrivateKeyToPEM(key)
	if err != nil {
		return nil, fmt.Errorf("encode key: %w", err)
	}
	if err := writeFileAtomic(path, pemKey, 0o600); err != nil {
		return nil, fmt.Errorf("save key: %w", err)
	}
	return key, nil
}

// csrName is the kubelet's bootstrap CSR name: a digest of the public key,
// subject and usages, so a restarted agent finds the CSR it already filed.
func csrName(key *ecdsa.PrivateKey, s certSpec) (string, error) {
	pub, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return "", fmt.Errorf("marshal public key: %w", err)
	}
	h := sha512.New512_256()
	enc := base64.RawURLEncoding.EncodeToString
	write := func(b []byte) {
		h.Write([]byte(enc(b)))
		h.Write([]byte{'|'}) // not in the base64url alphabet
	}
	write(pub)
	write([]byte(s.subject.CommonName))
	for _, o := range s.subject.Organization {
		write([]byte(o))
	}
	for _, u := range s.usages {
		write([]byte(u))
	}
	return "node-csr-" + enc(h.Sum(nil)), nil
}

// issued is a certificate obtained through a CSR.
type issued struct {
	cert *tls.Certificate
	pem  []byte // certificate chain then key, as saved to disk
	csr  string // name of the CSR
}

// requestCert files a CSR for s with key (named name, or generated when
// empty) as client's identity and waits until it is issued, denied, or
// ctx ends. A denial or signing failure wraps ErrCertificateDenied.
func requestCert(ctx context.Context, client kubernetes.Interface, s certSpec, key *ecdsa.PrivateKey, name string, log *slog.Logger) (issued, error) {
	req, err := certutil.MakeCSR(key, &s.subject, s.dnsNames, s.ips)
	if err != nil {
		return issued{}, fmt.Errorf("build %s csr: %w", s.kind, err)
	}
	var lifetime *time.Duration
	if s.lifetime > 0 {
		lifetime = &s.lifetime
	}
	reqName, reqUID, err := csr.RequestCertificateWithContext(ctx, client, req, name, s.signer, lifetime, s.usages, key)
	if err != nil {
		return issued{}, fmt.Errorf("create %s csr: %w", s.kind, err)
	}
	log.Info("waiting for csr to be approved and issued", "csr", reqName, "signer", s.signer)
	waitCtx, cancel := context.WithTimeout(ctx, csrWaitTimeout)
	defer cancel()
	certPEM, err := csr.WaitForCertificate(waitCtx, client, reqName, reqUID)
	if err != nil {
		if ctx.Err() != nil {
			return issued{}, fmt.Errorf("wait for %s csr %s: %w", s.kind, reqName, ctx.Err())
		}
		return issued{}, fmt.Errorf("wait for %s csr %s: %w", s.kind, reqName, classifyCSRError(ctx, client, reqName, err))
	}
	keyPEM, err := keyutil.MarshalPrivateKeyToPEM(key)
	if err != nil {
		return issued{}, fmt.Errorf("encode %s key: %w", s.kind, err)
	}
	pemData := slices.Concat(certPEM, keyPEM)
	pair, err := tls.X509KeyPair(pemData, pemData)
	if err != nil {
		return issued{}, fmt.Errorf("%s csr %s issued an unusable certificate: %w", s.kind, reqName, err)
	}
	return issued{cert: &pair, pem: pemData, csr: reqName}, nil
}

// classifyCSRError wraps ErrCertificateDenied into err when the CSR was
// denied or failed; WaitForCertificate reports those only as text.
func classifyCSRError(ctx context.Context, client kubernetes.Interface, name string, err error) error {
	got, getErr := client.CertificatesV1().CertificateSigningRequests().Get(ctx, name, metav1.GetOptions{})
	if getErr != nil {
		if apierrors.IsNotFound(getErr) {
			return fmt.Errorf("%w (csr deleted)", err)
		}
		return err
	}
	for _, c := range got.Status.Conditions {
		if c.Type == certificatesv1.CertificateDenied || c.Type == certificatesv1.CertificateFailed {
			return fmt.Errorf("%w: %s: %s: %s", ErrCertificateDenied, c.Type, c.Reason, c.Message)
		}
	}
	return err
}

// serial formats a certificate's serial number for status and logs.
func serial(c *tls.Certificate) string {
	if c == nil || c.Leaf == nil {
		return ""
	}
	return c.Leaf.SerialNumber.Text(16)
}

// rotationDeadline is when a certificate should be renewed: after frac of
// its lifetime, where frac in [0.7, 0.9) is drawn by the caller, as the
// kubelet's certificate manager does so nodes started together do not
// renew together.
func rotationDeadline(leaf *x509.Certificate, frac float64) time.Time {
	total := leaf.NotAfter.Sub(leaf.NotBefore)
	return leaf.NotBefore.Add(time.Duration(math.Round(float64(total) * frac)))
}
