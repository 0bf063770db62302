package controlplane

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/google/renameio/v2"
)

// Validity periods of generated certificates. Leaves that are expired or
// expire within leafRenewBefore are reissued from their CA on start.
const (
	caValidity      = 10 * 365 * 24 * time.Hour
	leafValidity    = 365 * 24 * time.Hour
	leafRenewBefore = 30 * 24 * time.Hour
)

// ServiceIP is the first address of the service CIDR: the ClusterIP of the
// `kubernetes` Service, named in the API server's certificate.
var ServiceIP = net.ParseIP("10.96.0.1")

// ServiceCIDR is the service cluster IP range given to the API server.
const ServiceCIDR = "10.96.0.0/12"

// keyPair is a certificate with its private key.
type keyPair struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// certUsage says what a leaf certificate is for.
type certUsage int

const (
	clientCert certUsage = iota
	serverCert
)

// leafSpec describes one leaf certificate of the PKI.
type leafSpec struct {
	File  string // base name in pki/, without extension
	CA    string // base name of the signing CA
	CN    string
	Orgs  []string
	Usage certUsage
	DNS   []string
	IPs   []net.IP
}

// PKI is the set of certificates and keys a local cluster runs with.
type PKI struct {
	Dir    string
	CA     keyPair // cluster CA: API server clients, kubelets, CSR signing
	EtcdCA keyPair // etcd's own CA, so no cluster certificate can reach etcd
	Leaves map[string]keyPair
}

// pkiLeaves lists every leaf certificate with least privilege: each
// component gets its own identity and only the groups it needs.
func pkiLeaves() []leafSpec {
	loopback := []net.IP{net.ParseIP("127.0.0.1")}
	return []leafSpec{
		{File: "apiserver", CA: "ca", CN: "kube-apiserver", Usage: serverCert,
			DNS: []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"},
			IPs: []net.IP{net.ParseIP("127.0.0.1"), ServiceIP}},
		{File: "admin", CA: "ca", CN: "kubernetes-admin", Orgs: []string{"system:masters"}, Usage: clientCert},
		{File: "controller-manager", CA: "ca", CN: "system:kube-controller-manager", Usage: clientCert},
		{File: "scheduler", CA: "ca", CN: "system:kube-scheduler", Usage: clientCert},
		{File: "etcd-server", CA: "etcd-ca", CN: "etcd", Usage: serverCert, DNS: []string{"localhost"}, IPs: loopback},
		{File: "apiserver-etcd-client", CA: "etcd-ca", CN: "kube-apiserver-etcd-client", Usage: clientCert},
	}
}

// LoadOrCreatePKI loads the PKI in dir, creating whatever is missing. A
// file that exists but does not parse, a certificate without its key, or a
// leaf not signed by its CA is an error naming the file: kelp never
// overwrites key material it cannot read.
func LoadOrCreatePKI(dir string, now time.Time) (*PKI, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create pki directory: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("restrict pki directory: %w", err)
	}
	p := &PKI{Dir: dir, Leaves: map[string]keyPair{}}
	var err error
	if p.CA, err = p.loadOrCreateCA("ca", "kelp-ca", now); err != nil {
		return nil, err
	}
	if p.EtcdCA, err = p.loadOrCreateCA("etcd-ca", "kelp-etcd-ca", now); err != nil {
		return nil, err
	}
	for _, spec := range pkiLeaves() {
		kp, err := p.loadOrCreateLeaf(spec, now)
		if err != nil {
			return nil, err
		}
		p.Leaves[spec.File] = kp
	}
	if err := loadOrCreateServiceAccountKey(dir); err != nil {
		return nil, err
	}
	return p, nil
}

// Path returns the path of a PKI file by base name and extension
// (Path("ca", "crt") is pki/ca.crt).
func (p *PKI) Path(name, ext string) string {
	return filepath.Join(p.Dir, name+"."+ext)
}

func (p *PKI) ca(name string) keyPair {
	if name == "etcd-ca" {
		return p.EtcdCA
	}
	return p.CA
}

func (p *PKI) loadOrCreateCA(name, cn string, now time.Time) (keyPair, error) {
	kp, found, err := p.loadPair(name)
	if err != nil || found {
		if found && !kp.Cert.IsCA {
			return keyPair{}, fmt.Errorf("pki file %s is not a CA certificate", p.Path(name, "crt"))
		}
		return kp, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return keyPair{}, fmt.Errorf("generate %s key: %w", name, err)
	}
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.Add(caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	cert, err := sign(tmpl, key, tmpl, key)
	if err != nil {
		return keyPair{}, fmt.Errorf("sign %s: %w", name, err)
	}
	kp = keyPair{Cert: cert, Key: key}
	return kp, p.writePair(name, kp)
}

func (p *PKI) loadOrCreateLeaf(spec leafSpec, now time.Time) (keyPair, error) {
	ca := p.ca(spec.CA)
	kp, found, err := p.loadPair(spec.File)
	if err != nil {
		return keyPair{}, err
	}
	if found {
		if err := kp.Cert.CheckSignatureFrom(ca.Cert); err != nil {
			return keyPair{}, fmt.Errorf("pki file %s is not signed by %s: %w", p.Path(spec.File, "crt"), p.Path(spec.CA, "crt"), err)
		}
		if now.Add(leafRenewBefore).Before(kp.Cert.NotAfter) {
			return kp, nil
		}
		// Expired or about to: reissue with the same key.
	} else if kp.Key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		return keyPair{}, fmt.Errorf("generate %s key: %w", spec.File, err)
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: spec.CN, Organization: spec.Orgs},
		NotBefore:   now.Add(-time.Minute),
		NotAfter:    now.Add(leafValidity),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		DNSNames:    spec.DNS,
		IPAddresses: spec.IPs,
	}
	if spec.Usage == serverCert {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	cert, err := sign(tmpl, kp.Key, ca.Cert, ca.Key)
	if err != nil {
		return keyPair{}, fmt.Errorf("sign %s: %w", spec.File, err)
	}
	kp.Cert = cert
	return kp, p.writePair(spec.File, kp)
}

// loadPair reads name.crt and name.key. found is false when neither exists.
func (p *PKI) loadPair(name string) (kp keyPair, found bool, err error) {
	certPath, keyPath := p.Path(name, "crt"), p.Path(name, "key")
	certPEM, certErr := os.ReadFile(certPath)
	keyPEM, keyErr := os.ReadFile(keyPath)
	switch {
	case errors.Is(certErr, fs.ErrNotExist) && errors.Is(keyErr, fs.ErrNotExist):
		return keyPair{}, false, nil
	case certErr != nil:
		return keyPair{}, false, fmt.Errorf("read pki file %s (its key %s exists): %w", certPath, keyPath, certErr)
	case keyErr != nil:
		return keyPair{}, false, fmt.Errorf("read pki file %s (its certificate %s exists): %w", keyPath, certPath, keyErr)
	}
	if kp.Cert, err = ParseCertificatePEM(certPEM); err != nil {
		return keyPair{}, false, fmt.Errorf("pki file %s is corrupt: %w", certPath, err)
	}
	if kp.Key, err = parseECKeyPEM(keyPEM); err != nil {
		return keyPair{}, false, fmt.Errorf("pki file %s is corrupt: %w", keyPath, err)
	}
	pub, ok := kp.Cert.PublicKey.(*ecdsa.PublicKey)
	if !ok || !pub.Equal(kp.Key.Public()) {
		return keyPair{}, false, fmt.Errorf("pki file %s does not hold the key of %s", keyPath, certPath)
	}
	return kp, true, nil
}

func (p *PKI) writePair(name string, kp keyPair) error {
	der, err := x509.MarshalECPrivateKey(kp.Key.(*ecdsa.PrivateKey))
	if err != nil {
		return fmt.Errorf("marshal %s key: %w", name, err)
	}
	if err := writeFileAtomic(p.Path(name, "key"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return err
	}
	return writeFileAtomic(p.Path(name, "crt"), EncodeCertificatePEM(kp.Cert), 0o644)
}

// loadOrCreateServiceAccountKey makes the key pair that signs and verifies
// service-account tokens (sa.key, sa.pub).
func loadOrCreateServiceAccountKey(dir string) error {
	keyPath, pubPath := filepath.Join(dir, "sa.key"), filepath.Join(dir, "sa.pub")
	if data, err := os.ReadFile(keyPath); err == nil {
		if _, err := parseECKeyPEM(data); err != nil {
			return fmt.Errorf("pki file %s is corrupt: %w", keyPath, err)
		}
		if _, err := os.Stat(pubPath); err != nil {
			return fmt.Errorf("pki file %s is missing (its key %s exists): %w", pubPath, keyPath, err)
		}
		return nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("read pki file %s: %w", keyPath, err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("generate service-account key: %w", err)
	}
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return fmt.Errorf("marshal service-account key: %w", err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return fmt.Errorf("marshal service-account public key: %w", err)
	}
	if err := writeFileAtomic(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return err
	}
	return writeFileAtomic(pubPath, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), 0o644)
}

func sign(tmpl *x509.Certificate, key crypto.Signer, parent *x509.Certificate, parentKey crypto.Signer) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	tmpl.SerialNumber = serial
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// ParseCertificatePEM parses exactly one PEM CERTIFICATE block.
func ParseCertificatePEM(data []byte) (*x509.Certificate, error) {
	block, rest := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("no PEM CERTIFICATE block")
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		return nil, errors.New("trailing data after the PEM CERTIFICATE block")
	}
	return x509.ParseCertificate(block.Bytes)
}

// EncodeCertificatePEM encodes a certificate as one PEM block.
func EncodeCertificatePEM(cert *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
}

func parseECKeyPEM(data []byte) (*ecdsa.PrivateKey, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "EC PRIVATE KEY" {
		return nil, errors.New("no PEM EC PRIVATE KEY block")
	}
	return x509.ParseECPrivateKey(block.Bytes)
}

// writeFileAtomic writes data to a temporary file and renames it into
// place, so a crash never leaves a half-written key or certificate.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	t, err := renameio.NewPendingFile(path, renameio.WithTempDir(filepath.Dir(path)), renameio.WithStaticPermissions(perm))
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer t.Cleanup() // no-op after the rename
	if _, err := t.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := t.CloseAtomicallyReplace(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
