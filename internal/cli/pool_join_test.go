package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/kelp-dev/kelp/internal/testenv"
)

// joinTestFiles writes a CA and a kubeconfig naming it, for commands that
// read the API server and CA from the kubeconfig.
func joinTestFiles(t *testing.T) (caFile, kubeconfig string) {
	t.Helper()
	ca, err := os.ReadFile(filepath.Join("..", "userdata", "testdata", "server-ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	caFile, kubeconfig = filepath.Join(dir, "ca.crt"), filepath.Join(dir, "kubeconfig")
	kc := `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://api.example.com:6443", certificate-authority: ` + caFile + `}}]
users: [{name: u, user: {}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`
	if err := os.WriteFile(caFile, ca, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(kubeconfig, []byte(kc), 0o600); err != nil {
		t.Fatal(err)
	}
	return caFile, kubeconfig
}

func runKelp(args ...string) (string, error) {
	var out, errOut bytes.Buffer
	root := NewRoot("test")
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

// TestJoinFlagsRefused checks that bad identity join flags are refused,
// naming what is wrong, before any call to the cloud or the cluster.
func TestJoinFlagsRefused(t *testing.T) {
	caFile, kubeconfig := joinTestFiles(t)
	create := []string{"pool", "create", "secure", "--cluster-name", "prod", "--image", "ami-0123456789abcdef0", "--instance-types", "m5.large", "--kubeconfig", kubeconfig}
	identity := append(append([]string{}, create...), "--join", "identity", "--instance-profile", "kelp-node",
		"--join-endpoint", "https://kelp-join.example.com:30443", "--join-endpoint-ca", caFile)
	render := []string{"userdata", "render", "--pool", "workers", "--cluster-name", "prod", "--kubeconfig", kubeconfig,
		"--join", "identity", "--join-endpoint", "https://kelp-join.example.com:30443", "--join-endpoint-ca", caFile}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"create: identity without a profile", append(create, "--join", "identity"), "--join=identity needs --instance-profile"},
		{"create: unknown mode", append(create, "--join", "magic"), `invalid --join "magic": want token or identity`},
		{"create: endpoint in token mode", append(create, "--join-endpoint", "https://x:1"), "are for --join=identity"},
		{"create: bad profile", append(create, "--instance-profile", "a b"), `instanceProfile "a b"`},
		{"create: identity with registry auth", append(identity, "--registry-auth", caFile), "--registry-auth: registry credentials are a secret"},
		{"create: identity without endpoint", append(create, "--join", "identity", "--instance-profile", "p"), "--join=identity needs --join-endpoint"},
		{"create: identity on openshift", append(identity, "--userdata-profile", "openshift-3.11", "--openshift-region", "us-east-1"), "openshift-3.11 cannot run `kelp join`"},
		{"render: identity with a token", append(render, "--token", "abcdef.0123456789abcdef"), "--token: --join=identity user-data carries no bootstrap token"},
		{"render: identity on openshift", append(render, "--userdata-profile", "openshift-3.11", "--openshift-region", "us-east-1"), "openshift-3.11 cannot run `kelp join`"},
		{"update: bad profile", []string{"pool", "update", "general", "--instance-profile", "arn:aws:iam::1:role/x"}, `instanceProfile "arn:aws:iam::1:role/x"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := runKelp(tt.args...)
			testenv.ErrorContains(t, err, tt.want)
		})
	}
}

// TestUserdataRenderIdentity renders identity-mode user-data from flags:
// kelp join with the endpoint, the kubeconfig's API server, and no token.
func TestUserdataRenderIdentity(t *testing.T) {
	caFile, kubeconfig := joinTestFiles(t)
	out, err := runKelp("userdata", "render", "--pool", "workers", "--cluster-name", "prod", "--kubeconfig", kubeconfig,
		"--join", "identity", "--join-endpoint", "https://kelp-join.example.com:30443", "--join-endpoint-ca", caFile,
		"--join-sts-endpoint", "https://sts.us-east-1.amazonaws.com")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"- join\n", "https://kelp-join.example.com:30443", "https://api.example.com:6443", "--sts-endpoint"} {
		if !strings.Contains(out, want) {
			t.Errorf("rendered user-data lacks %q:\n%s", want, out)
		}
	}
	if regexp.MustCompile(`[a-z0-9]{6}\.[a-z0-9]{16}`).MatchString(out) {
		t.Errorf("identity user-data holds a bootstrap token:\n%s", out)
	}
}
