package cli

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/kelp-dev/kelp/internal/testenv"
)

// TestListOutputFormats: list commands print JSON and YAML for scripts,
// with their own field names and never a token's secret; an unknown format
// is refused before any call.
func TestListOutputFormats(t *testing.T) {
	tok, _, err := kelp(t, "token", "create", "--pool", "outfmt", "--ttl", "1h", "--description", "output test")
	if err != nil {
		t.Fatal(err)
	}
	tok = strings.TrimSpace(tok)
	id, secret, _ := strings.Cut(tok, ".")
	out, _, err := kelp(t, "token", "list", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var tokens []map[string]any
	if err := json.Unmarshal([]byte(out), &tokens); err != nil {
		t.Fatalf("token list -o json is not a JSON array: %v\n%s", err, out)
	}
	found := false
	for _, tv := range tokens {
		if tv["id"] == id {
			found = tv["pool"] == "outfmt" && tv["expired"] == false && tv["description"] == "output test"
		}
	}
	if !found || strings.Contains(out, secret) {
		t.Fatalf("token list -o json: token %s not found with its fields, or its secret shown:\n%s", id, out)
	}
	out, _, err = kelp(t, "token", "list", "--output", "yaml")
	if err != nil {
		t.Fatal(err)
	}
	var fromYAML []tokenView
	if err := yaml.Unmarshal([]byte(out), &fromYAML); err != nil || len(fromYAML) != len(tokens) || strings.Contains(out, secret) {
		t.Fatalf("token list -o yaml: %v\n%s", err, out)
	}

	env := testenv.Get(t)
	created, err := env.Client.CertificatesV1().CertificateSigningRequests().Create(context.Background(),
		testenv.NodeClientCSR(t, "ip-127-8-0-9.ec2.internal"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out, _, err = kelp(t, "csr", "list", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var csrs []csrView
	if err := json.Unmarshal([]byte(out), &csrs); err != nil {
		t.Fatalf("csr list -o json: %v\n%s", err, out)
	}
	if !slices.ContainsFunc(csrs, func(c csrView) bool {
		return c.Name == created.Name && c.NodeName == "ip-127-8-0-9.ec2.internal" && c.Condition == "Pending" && c.Signer != ""
	}) {
		t.Fatalf("csr list -o json lacks %s with its node and condition:\n%s", created.Name, out)
	}

	for _, args := range [][]string{{"token", "list", "-o", "xml"}, {"csr", "list", "-o", "wide"}} {
		_, _, err := kelp(t, args...)
		testenv.ErrorContains(t, err, "--output", "want json or yaml")
	}
}

// TestMovedFlagsSayWhere: an old flag whose meaning moved stops with the
// new name, so a script written for it cannot do something else.
func TestMovedFlagsSayWhere(t *testing.T) {
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"userdata", "render", "--pool", "p", "--region", "us-east-1"}, []string{"--openshift-region"}},
		{[]string{"userdata", "render", "--pool", "p", "-o", "user-data"}, []string{"--output-file"}},
		{[]string{"userdata", "render", "--pool", "p", "--profile", "local"}, []string{"--profile is the AWS credentials profile", "--userdata-profile"}},
		{[]string{"userdata", "render"}, []string{`required flag(s) "pool" not set`}},
		{[]string{"token", "create"}, []string{`required flag(s) "pool" not set`}},
		{[]string{"pool", "list", "--profile", "local", "--cluster-name", "c", "--region", "us-east-1", "--endpoint", "http://127.0.0.1:1"},
			[]string{"--profile is the AWS credentials profile", "--userdata-profile local"}},
	}
	for _, tt := range tests {
		_, _, err := kelp(t, tt.args...)
		testenv.ErrorContains(t, err, tt.want...)
	}
}
