package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/kelp-dev/kelp/internal/localcloud"
	"github.com/kelp-dev/kelp/internal/testenv"
)

// TestPoolCreateWarnsOfMixedSizes: a pool of instance types of different
// sizes is created with a warning that the group, not kelp, picks the
// type; one of a single size gets none.
func TestPoolCreateWarnsOfMixedSizes(t *testing.T) {
	env := testenv.Get(t)
	srv := serveLocalCloud(t, localcloud.Options{})
	create := func(name, types string) (string, string) {
		t.Helper()
		var out, errOut bytes.Buffer
		root := NewRoot("test")
		root.SetOut(&out)
		root.SetErr(&errOut)
		root.SetArgs([]string{"pool", "create", name, "--instance-types", types, "--spot", "--max", "2", "--join=token",
			"--cluster-name", "kelp-test", "--region", "us-east-1", "--endpoint", srv.URL, "--kubeconfig", env.Cluster.AdminKubeconfigPath()})
		if err := root.ExecuteContext(context.Background()); err != nil {
			t.Fatalf("pool create %s: %v\n%s", name, err, errOut.String())
		}
		return out.String(), errOut.String()
	}
	out, warn := create("mixed", "m5.large,m5.xlarge")
	if !strings.Contains(out, "pool mixed created") || !strings.Contains(warn, "warning: pool mixed: its instance types differ in size") {
		t.Fatalf("mixed sizes: stdout %q, stderr %q; want the pool created with a warning", out, warn)
	}
	if _, warn := create("alike", "m5.large,m6i.large"); strings.Contains(warn, "warning") {
		t.Fatalf("types of one size warned: %q", warn)
	}
}
