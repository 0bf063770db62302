package controlplane

import (
	"crypto/ecdsa"
	"crypto/x509"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestPKILeaves(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	p, err := LoadOrCreatePKI(t.TempDir(), now)
	if err != nil {
		t.Fatal(err)
	}
	clusterRoots, etcdRoots := x509.NewCertPool(), x509.NewCertPool()
	clusterRoots.AddCert(p.CA.Cert)
	etcdRoots.AddCert(p.EtcdCA.Cert)

	tests := []struct {
		leaf    string
		roots   *x509.CertPool
		cn      string
		orgs    []string
		usage   x509.ExtKeyUsage
		dns     []string
		ips     []string
		notRoot *x509.CertPool // must NOT verify against this CA
	}{
		{leaf: "apiserver", roots: clusterRoots, cn: "kube-apiserver", usage: x509.ExtKeyUsageServerAuth,
			dns: []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"},
			ips: []string{"127.0.0.1", "10.96.0.1"}, notRoot: etcdRoots},
		{leaf: "admin", roots: clusterRoots, cn: "kubernetes-admin", orgs: []string{"system:masters"}, usage: x509.ExtKeyUsageClientAuth, notRoot: etcdRoots},
		{leaf: "controller-manager", roots: clusterRoots, cn: "system:kube-controller-manager", usage: x509.ExtKeyUsageClientAuth, notRoot: etcdRoots},
		{leaf: "scheduler", roots: clusterRoots, cn: "system:kube-scheduler", usage: x509.ExtKeyUsageClientAuth, notRoot: etcdRoots},
		{leaf: "etcd-server", roots: etcdRoots, cn: "etcd", usage: x509.ExtKeyUsageServerAuth, dns: []string{"localhost"}, ips: []string{"127.0.0.1"}, notRoot: clusterRoots},
		{leaf: "apiserver-etcd-client", roots: etcdRoots, cn: "kube-apiserver-etcd-client", usage: x509.ExtKeyUsageClientAuth, notRoot: clusterRoots},
	}
	for _, tt := range tests {
		t.Run(tt.leaf, func(t *testing.T) {
			cert := p.Leaves[tt.leaf].Cert
			if cert.Subject.CommonName != tt.cn {
				t.Errorf("CN = %q, want %q", cert.Subject.CommonName, tt.cn)
			}
			if !slices.Equal(cert.Subject.Organization, tt.orgs) {
				t.Errorf("O = %v, want %v", cert.Subject.Organization, tt.orgs)
			}
			if !slices.Equal(cert.ExtKeyUsage, []x509.ExtKeyUsage{tt.usage}) {
				t.Errorf("ExtKeyUsage = %v, want only %v", cert.ExtKeyUsage, tt.usage)
			}
			if cert.IsCA {
				t.Error("leaf is a CA")
			}
			for _, d := range tt.dns {
				if !slices.Contains(cert.DNSNames, d) {
					t.Errorf("DNS SANs %v lack %q", cert.DNSNames, d)
				}
			}
			for _, ip := range tt.ips {
				if !slices.ContainsFunc(cert.IPAddresses, func(a net.IP) bool { return a.Equal(net.ParseIP(ip)) }) {
					t.Errorf("IP SANs %v lack %s", cert.IPAddresses, ip)
				}
			}
			opts := x509.VerifyOptions{Roots: tt.roots, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{tt.usage}}
			if _, err := cert.Verify(opts); err != nil {
				t.Errorf("does not chain to its CA: %v", err)
			}
			opts.Roots = tt.notRoot
			if _, err := cert.Verify(opts); err == nil {
				t.Error("verifies against the other CA; etcd and cluster PKIs must be separate")
			}
			if want := now.Add(leafValidity); !cert.NotAfter.Equal(want.Truncate(time.Second)) {
				t.Errorf("NotAfter = %v, want %v", cert.NotAfter, want)
			}
		})
	}
}

func TestPKIKeyPermissions(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadOrCreatePKI(dir, time.Now()); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	keys := 0
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(e.Name(), ".key") {
			keys++
			if perm := info.Mode().Perm(); perm != 0o600 {
				t.Errorf("%s has mode %o, want 0600", e.Name(), perm)
			}
		}
	}
	if keys != 9 { // 2 CAs, 6 leaves, service-account key
		t.Errorf("found %d keys, want 9", keys)
	}
	if st, _ := os.Stat(dir); st.Mode().Perm() != 0o700 {
		t.Errorf("pki dir mode %o, want 0700", st.Mode().Perm())
	}
}

func TestPKIReloadKeepsKeys(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	first, err := LoadOrCreatePKI(dir, now)
	if err != nil {
		t.Fatal(err)
	}
	second, err := LoadOrCreatePKI(dir, now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if !first.CA.Cert.Equal(second.CA.Cert) || !first.Leaves["admin"].Cert.Equal(second.Leaves["admin"].Cert) {
		t.Error("a restart regenerated certificates that were still valid")
	}
}

func TestPKIRenewsExpiringLeaf(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	first, err := LoadOrCreatePKI(dir, now)
	if err != nil {
		t.Fatal(err)
	}
	later := now.Add(leafValidity - leafRenewBefore/2)
	second, err := LoadOrCreatePKI(dir, later)
	if err != nil {
		t.Fatal(err)
	}
	if !first.CA.Cert.Equal(second.CA.Cert) {
		t.Error("CA was replaced; only leaves should renew")
	}
	renewed := second.Leaves["apiserver"].Cert
	if !renewed.NotAfter.After(later.Add(leafRenewBefore)) {
		t.Errorf("apiserver cert not renewed: NotAfter %v", renewed.NotAfter)
	}
	if !first.Leaves["apiserver"].Key.Public().(*ecdsa.PublicKey).Equal(second.Leaves["apiserver"].Key.Public()) {
		t.Error("renewal changed the key")
	}
}

func TestPKIBadFiles(t *testing.T) {
	tests := []struct {
		name    string
		corrupt func(dir string) error
		want    string
	}{
		{"corrupt certificate", func(dir string) error {
			return os.WriteFile(filepath.Join(dir, "admin.crt"), []byte("not a cert"), 0o644)
		}, "admin.crt is corrupt"},
		{"corrupt key", func(dir string) error {
			return os.WriteFile(filepath.Join(dir, "ca.key"), []byte("-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n"), 0o600)
		}, "ca.key is corrupt"},
		{"certificate without key", func(dir string) error {
			return os.Remove(filepath.Join(dir, "scheduler.key"))
		}, "scheduler.key"},
		{"key of another certificate", func(dir string) error {
			key, err := os.ReadFile(filepath.Join(dir, "admin.key"))
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dir, "scheduler.key"), key, 0o600)
		}, "scheduler.key does not hold the key of"},
		{"leaf from another CA", func(dir string) error {
			other := t.TempDir()
			if _, err := LoadOrCreatePKI(other, time.Now()); err != nil {
				return err
			}
			for _, ext := range []string{"crt", "key"} {
				data, err := os.ReadFile(filepath.Join(other, "admin."+ext))
				if err != nil {
					return err
				}
				if err := os.WriteFile(filepath.Join(dir, "admin."+ext), data, 0o600); err != nil {
					return err
				}
			}
			return nil
		}, "admin.crt is not signed by"},
		{"corrupt service-account key", func(dir string) error {
			return os.WriteFile(filepath.Join(dir, "sa.key"), []byte("junk"), 0o600)
		}, "sa.key is corrupt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if _, err := LoadOrCreatePKI(dir, time.Now()); err != nil {
				t.Fatal(err)
			}
			if err := tt.corrupt(dir); err != nil {
				t.Fatal(err)
			}
			before := snapshotDir(t, dir)
			_, err := LoadOrCreatePKI(dir, time.Now())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one containing %q", err, tt.want)
			}
			if after := snapshotDir(t, dir); !maps.Equal(before, after) {
				t.Error("a failed load changed files in the pki directory")
			}
		})
	}
}

func snapshotDir(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = string(data)
	}
	return out
}
