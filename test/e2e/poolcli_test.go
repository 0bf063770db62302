package e2e

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kelp-dev/kelp/internal/cli"
	"github.com/kelp-dev/kelp/internal/localcloud"
	"github.com/kelp-dev/kelp/internal/localup"
	"github.com/kelp-dev/kelp/internal/pool"
	"github.com/kelp-dev/kelp/internal/testenv"
)

// TestPoolCommands drives `kelp pool` as a user would against `kelp up`:
// create a pool, scale it to 3 and back to 1, and check that the Nodes of
// the terminated instances are gone within one node lifecycle refresh.
func TestPoolCommands(t *testing.T) {
	release, err := testenv.AcquireSlot()
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	cluster, client := startLocal(t, localup.Config{Dir: filepath.Join(t.TempDir(), "cli"), Name: "cli", Pools: &pool.Config{}})
	defer func() { _ = cluster.Stop(context.Background()) }()
	t.Setenv("AWS_ACCESS_KEY_ID", localcloud.AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", localcloud.SecretAccessKey)
	t.Setenv("AWS_REGION", localcloud.DefaultRegion)
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	kelp := func(args ...string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		root := cli.NewRoot("e2e")
		root.SetOut(&out)
		root.SetErr(&errOut)
		root.SetArgs(append(args, "--cluster-name", "cli", "--endpoint", cluster.CloudURL(),
			"--kubeconfig", cluster.ControlPlane.AdminKubeconfigPath()))
		if err := root.ExecuteContext(ctx); err != nil {
			t.Fatalf("kelp %s: %v\n%s", strings.Join(args, " "), err, errOut.String())
		}
		return out.String()
	}
	kelpFails := func(want string, args ...string) {
		t.Helper()
		root := cli.NewRoot("e2e")
		root.SetOut(&bytes.Buffer{})
		root.SetErr(&bytes.Buffer{})
		root.SetArgs(append(args, "--cluster-name", "cli", "--endpoint", cluster.CloudURL(),
			"--kubeconfig", cluster.ControlPlane.AdminKubeconfigPath()))
		if err := root.ExecuteContext(ctx); err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("kelp %s: err = %v, want one containing %q", strings.Join(args, " "), err, want)
		}
	}

	kelpFails("image", "pool", "create", "general", "--image", "ami-0123456789abcdef0", "--instance-types", "m5.large", "--userdata-profile", "local")
	kelpFails("minSize 3 is greater than maxSize 1", "pool", "create", "general", "--image", localcloud.ImageLocalNode, "--instance-types", "m5.large", "--min", "3", "--max", "1")
	kelp("pool", "create", "general", "--image", localcloud.ImageLocalNode, "--instance-types", "m5.large", "--userdata-profile", "local", "--max", "5", "--label", "team=e2e")
	kelp("pool", "scale", "general", "3")
	testenv.EventuallyTrue(t, 2*time.Minute, "3 Ready nodes of pool general", func() bool {
		ready, _, err := readyNodesOf(ctx, client, "general")
		return err == nil && len(ready) == 3
	})
	if out := kelp("pool", "list"); !strings.Contains(out, "general") || !strings.Contains(out, "kelp-cli-general") {
		t.Errorf("pool list:\n%s", out)
	}
	kelpFails("Ready nodes", "pool", "delete", "general")
	kelp("pool", "scale", "general", "1")
	testenv.EventuallyTrue(t, time.Minute, "the Nodes of the 2 terminated instances gone", func() bool {
		ready, notReady, err := readyNodesOf(ctx, client, "general")
		return err == nil && len(ready) == 1 && len(notReady) == 0
	})
	kelpFails("outside the pool's size range", "pool", "scale", "general", "9")
}
