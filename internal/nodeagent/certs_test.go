package nodeagent

import (
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/kelp-dev/kelp/internal/testenv"
)

func TestRotationDeadline(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	leaf := &x509.Certificate{NotBefore: start, NotAfter: start.Add(100 * time.Hour)}
	for _, tt := range []struct {
		frac float64
		want time.Duration
	}{{0.7, 70 * time.Hour}, {0.8, 80 * time.Hour}, {0.9, 90 * time.Hour}} {
		if got := rotationDeadline(leaf, tt.frac); !got.Equal(start.Add(tt.want)) {
			t.Errorf("rotationDeadline(%v) = %v, want %v", tt.frac, got, start.Add(tt.want))
		}
	}
}

func TestCSRName(t *testing.T) {
	k1, _ := newKey()
	k2, _ := newKey()
	spec := clientCertSpec("node-a", 0, "")
	a1, err := csrName(k1, spec)
	if err != nil {
		t.Fatal(err)
	}
	a2, _ := csrName(k1, spec)
	b, _ := csrName(k2, spec)
	other, _ := csrName(k1, clientCertSpec("node-b", 0, ""))
	if a1 != a2 || a1 == b || a1 == other || len(a1) < len("node-csr-")+40 {
		t.Errorf("csrName not a stable digest of key and subject: %s %s %s %s", a1, a2, b, other)
	}
}

func TestLoadOrCreateKeyReusesKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pki", "k.tmp")
	k1, err := loadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := loadOrCreateKey(path)
	if err != nil || !k1.Equal(k2) {
		t.Fatalf("second load returned another key (%v)", err)
	}
}

func TestCertSpecCheck(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ip := net.ParseIP("127.0.1.5")
	spec := servingCertSpec("node-a", ip, 0, "")
	good := func() *x509.Certificate {
		return &x509.Certificate{
			Subject:  pkix.Name{CommonName: "system:node:node-a", Organization: []string{"system:nodes"}},
			DNSNames: []string{"node-a"}, IPAddresses: []net.IP{ip},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		}
	}
	tests := []struct {
		name   string
		modify func(*x509.Certificate)
		want   string
	}{
		{"valid", func(*x509.Certificate) {}, ""},
		{"expired", func(c *x509.Certificate) { c.NotAfter = now.Add(-time.Second) }, "expired"},
		{"other node", func(c *x509.Certificate) { c.Subject.CommonName = "system:node:node-b" }, "common name"},
		{"no group", func(c *x509.Certificate) { c.Subject.Organization = nil }, "organization"},
		{"other IP", func(c *x509.Certificate) { c.IPAddresses = []net.IP{net.ParseIP("127.0.1.6")} }, "IP addresses"},
		{"other name", func(c *x509.Certificate) { c.DNSNames = []string{"x"} }, "DNS names"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good()
			tt.modify(c)
			err := spec.check(c, now)
			if tt.want == "" {
				if err != nil {
					t.Errorf("check = %v, want nil", err)
				}
				return
			}
			testenv.ErrorContains(t, err, tt.want)
		})
	}
}

func TestServingCertSpecMatchesCSRPolicy(t *testing.T) {
	key, _ := newKey()
	spec := servingCertSpec("ip-127-0-1-5.ec2.internal", net.ParseIP("127.0.1.5"), 0, "")
	// A self-signed certificate from the spec's template passes check.
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: spec.subject, DNSNames: spec.dnsNames, IPAddresses: spec.ips,
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	if err := spec.check(leaf, time.Now()); err != nil {
		t.Errorf("check of a certificate built from the spec: %v", err)
	}
}

func TestTuningValidate(t *testing.T) {
	tests := []struct {
		name   string
		tuning Tuning
		want   []string
	}{
		{"defaults", Tuning{}, nil},
		{"renew not shorter than lease", Tuning{LeaseDuration: 10 * time.Second, LeaseRenewInterval: 10 * time.Second}, []string{"leaseRenewInterval"}},
		{"fractional lease", Tuning{LeaseDuration: 1500 * time.Millisecond, LeaseRenewInterval: time.Second}, []string{"whole seconds"}},
		{"narrow pod cidr", Tuning{PodCIDR: netip.MustParsePrefix("10.0.0.0/25")}, []string{"podCIDR"}},
		{"short certificate", Tuning{ClientCertLifetime: time.Minute, ServingCertLifetime: time.Second}, []string{"clientCertLifetime", "servingCertLifetime"}},
		{"bad port", Tuning{ServingPort: 70000}, []string{"servingPort"}},
		{"negative", Tuning{StatusReportInterval: -time.Second, QPS: -1}, []string{"statusReportInterval", "qps"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.tuning.withDefaults().validate()
			testenv.CheckError(t, err, tt.want...)
		})
	}
}

func TestNewReportsEveryProblem(t *testing.T) {
	root := t.TempDir()
	writeTestFile(t, filepath.Join(root, IdentityPath), []byte(`{"instanceId":"bad"}`))
	writeTestFile(t, filepath.Join(root, "etc/kelp/node.yaml"), []byte("apiVersion: kelp.dev/v1alpha1\nkind: NodeConfig\npool: Bad_Pool\n"))
	_, err := New(Config{Root: root, Tuning: Tuning{ServingPort: -1}})
	testenv.ErrorContains(t, err, "instanceId", "pool", "bootstrap kubeconfig", "servingPort")
}
