package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/kelp-dev/kelp/internal/join"
)

// fakeIMDS answers IMDSv2 like EC2 does for one instance, refusing
// metadata reads without a session token.
func fakeIMDS(t *testing.T) *httptest.Server {
	const token = "imds-session"
	files := map[string]string{
		"/latest/dynamic/instance-identity/document":           `{"region":"us-east-1","instanceId":"i-0000000000000000a"}`,
		"/latest/meta-data/local-hostname":                     "ip-10-0-0-7.ec2.internal",
		"/latest/meta-data/iam/security-credentials/":          "kelp-node",
		"/latest/meta-data/iam/security-credentials/kelp-node": `{"Code":"Success","Type":"AWS-HMAC","AccessKeyId":"ASIAINSTANCE","SecretAccessKey":"s","Token":"t","Expiration":"` + time.Now().Add(time.Hour).UTC().Format(time.RFC3339) + `"}`,
	}
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && r.URL.Path == "/latest/api/token" {
			w.Header().Set("X-Aws-Ec2-Metadata-Token-Ttl-Seconds", "21600")
			w.Write([]byte(token))
			return
		}
		if r.Header.Get("X-Aws-Ec2-Metadata-Token") != token {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		body, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(body))
	}))
	t.Cleanup(s.Close)
	return s
}

// fakeJoinEndpoint checks proofs as kelp does without STS and answers a
// fixed token.
func fakeJoinEndpoint(t *testing.T, stsURL string) *httptest.Server {
	nonces := join.Nonces{Key: bytes.Repeat([]byte("k"), 32)}
	pol := join.Policy{STSEndpoint: stsURL, AllowedRoles: []string{"kelp-node"}}
	s := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case join.PathNonce:
			n, _ := nonces.Issue(time.Now())
			json.NewEncoder(w).Encode(join.NonceBody{Nonce: n})
		case join.PathJoin:
			var p join.Proof
			if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			c, err := join.CheckProof(p, pol, nonces, time.Now())
			if err != nil || !strings.Contains(p.STS.Header.Get("Authorization"), "Credential=ASIAINSTANCE/") {
				w.WriteHeader(http.StatusForbidden)
				json.NewEncoder(w).Encode(join.ErrorBody{Reason: join.ReasonOf(err), Message: "refused"})
				return
			}
			json.NewEncoder(w).Encode(join.Answer{Token: "abcdef.0123456789abcdef", InstanceID: "i-0000000000000000a",
				NodeName: c.Request.NodeName, Expires: time.Now().Add(time.Hour)})
		}
	}))
	t.Cleanup(s.Close)
	return s
}

func TestJoinCommandWritesBootstrapKubeconfig(t *testing.T) {
	imds := fakeIMDS(t)
	const sts = "https://sts.us-east-1.amazonaws.com"
	endpoint := fakeJoinEndpoint(t, sts)
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	pemData := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: endpoint.Certificate().Raw})
	if err := os.WriteFile(ca, pemData, 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "kubelet", "bootstrap-kubeconfig")
	var stdout bytes.Buffer
	root := NewRoot("test")
	root.SetOut(&stdout)
	root.SetArgs([]string{"join", "--endpoint", endpoint.URL, "--endpoint-ca", ca, "--imds-endpoint", imds.URL,
		"--server", "https://api.example:6443", "--server-ca", ca, "--bootstrap-kubeconfig", out})
	if err := root.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("kelp join: %v", err)
	}
	cfg, err := clientcmd.LoadFromFile(out)
	if err != nil {
		t.Fatalf("load written kubeconfig: %v", err)
	}
	user := cfg.AuthInfos[cfg.Contexts[cfg.CurrentContext].AuthInfo]
	cluster := cfg.Clusters[cfg.Contexts[cfg.CurrentContext].Cluster]
	if user.Token != "abcdef.0123456789abcdef" || cluster.Server != "https://api.example:6443" || !bytes.Equal(cluster.CertificateAuthorityData, pemData) {
		t.Errorf("kubeconfig: token %q, server %q", user.Token, cluster.Server)
	}
	if !strings.Contains(stdout.String(), "joined as node ip-10-0-0-7.ec2.internal") {
		t.Errorf("output = %q", stdout.String())
	}
}

func TestJoinCommandRefused(t *testing.T) {
	imds := fakeIMDS(t)
	endpoint := fakeJoinEndpoint(t, "https://sts.eu-west-1.amazonaws.com") // not the one the instance signs for
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: endpoint.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	root := NewRoot("test")
	root.SetArgs([]string{"join", "--endpoint", endpoint.URL, "--endpoint-ca", ca, "--imds-endpoint", imds.URL,
		"--server", "https://api.example:6443", "--server-ca", ca, "--bootstrap-kubeconfig", filepath.Join(dir, "k")})
	err := root.ExecuteContext(context.Background())
	if join.ReasonOf(err) != join.ReasonWrongSTSHost {
		t.Fatalf("kelp join: %v, want %s", err, join.ReasonWrongSTSHost)
	}
	if _, err := os.Stat(filepath.Join(dir, "k")); !os.IsNotExist(err) {
		t.Errorf("a refused join wrote a kubeconfig (stat: %v)", err)
	}
}
