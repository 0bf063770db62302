package bootstrap

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"reflect"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/kelp-dev/kelp/internal/testenv"
)

func testCAPEM(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "kelp-test-ca"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func TestBootstrapKubeconfig(t *testing.T) {
	ca := testCAPEM(t)
	tok := Token{ID: "abcdef", Secret: "0123456789abcdef", Pool: "p"}
	data, err := BootstrapKubeconfig("https://10.0.0.1:6443", ca, tok)
	if err != nil {
		t.Fatalf("BootstrapKubeconfig: %v", err)
	}
	cfg, err := clientcmd.Load(data)
	if err != nil {
		t.Fatalf("load kubeconfig: %v", err)
	}
	if len(cfg.Clusters) != 1 || len(cfg.AuthInfos) != 1 || len(cfg.Contexts) != 1 || len(cfg.Extensions) != 0 {
		t.Fatalf("kubeconfig has %d clusters, %d users, %d contexts, %d extensions; want 1, 1, 1, 0",
			len(cfg.Clusters), len(cfg.AuthInfos), len(cfg.Contexts), len(cfg.Extensions))
	}
	ctx, ok := cfg.Contexts[cfg.CurrentContext]
	if !ok {
		t.Fatalf("current-context %q not defined", cfg.CurrentContext)
	}
	cluster, user := cfg.Clusters[ctx.Cluster], cfg.AuthInfos[ctx.AuthInfo]
	if cluster == nil || user == nil {
		t.Fatalf("context %+v refers to missing cluster or user", ctx)
	}
	if cluster.Server != "https://10.0.0.1:6443" || string(cluster.CertificateAuthorityData) != string(ca) ||
		cluster.InsecureSkipTLSVerify || cluster.CertificateAuthority != "" {
		t.Errorf("cluster = %+v", cluster)
	}
	rest := *user
	rest.Token, rest.LocationOfOrigin = "", ""
	if len(rest.Extensions) == 0 {
		rest.Extensions = nil
	}
	if user.Token != "abcdef.0123456789abcdef" || !reflect.DeepEqual(rest, clientcmdapi.AuthInfo{}) {
		t.Errorf("user must have the token only, got %+v", user)
	}
	if len(user.ClientCertificateData) != 0 || user.ClientCertificate != "" || len(user.ClientKeyData) != 0 {
		t.Errorf("user carries a client certificate: %+v", user)
	}
}

func TestBootstrapKubeconfigRejects(t *testing.T) {
	ca := testCAPEM(t)
	tok := Token{ID: "abcdef", Secret: "0123456789abcdef"}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: []byte("x")})
	tests := []struct {
		name   string
		server string
		ca     []byte
		tok    Token
		want   []string
	}{
		{"http", "http://10.0.0.1:6443", ca, tok, []string{"server", "https"}},
		{"no scheme", "10.0.0.1:6443", ca, tok, []string{"server"}},
		{"no host", "https://", ca, tok, []string{"server", "host"}},
		{"userinfo", "https://u:p@h", ca, tok, []string{"server", "user info"}},
		{"empty ca", "https://h", nil, tok, []string{"ca", "no PEM"}},
		{"garbage ca", "https://h", []byte("not pem"), tok, []string{"ca"}},
		{"key not cert", "https://h", keyPEM, tok, []string{"ca", "EC PRIVATE KEY"}},
		{"bad cert bytes", "https://h", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("x")}), tok, []string{"ca", "block 1"}},
		{"trailing garbage", "https://h", append(append([]byte{}, ca...), "junk"...), tok, []string{"ca", "non-PEM"}},
		{"bad token", "https://h", ca, Token{ID: "ABCDEF", Secret: "x"}, []string{"token", "ABCDEF"}},
		{"everything", "ftp://h", nil, Token{}, []string{"server", "ca", "token"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := BootstrapKubeconfig(tt.server, tt.ca, tt.tok)
			testenv.CheckError(t, err, tt.want...)
			if err != nil && strings.Contains(err.Error(), tt.tok.Secret) && tt.tok.Secret != "" {
				t.Errorf("error leaks the token secret: %v", err)
			}
		})
	}
}
