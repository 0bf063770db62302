package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/kelp-dev/kelp/internal/localcloud"
	"github.com/kelp-dev/kelp/internal/testenv"
)

// TestPoolInterruptionQueue drives create (twice), show and delete against
// a local cloud, as an operator would against AWS.
func TestPoolInterruptionQueue(t *testing.T) {
	srv := serveLocalCloud(t, localcloud.Options{})
	run := func(args ...string) (string, error) {
		var out bytes.Buffer
		root := NewRoot("test")
		root.SetOut(&out)
		root.SetErr(&out)
		root.SetArgs(append(append([]string{"pool", "interruption-queue"}, args...), "--region", "us-east-1", "--endpoint", srv.URL))
		err := root.ExecuteContext(context.Background())
		return out.String(), err
	}
	url := srv.URL + "/" + localcloud.AccountID + "/kelp-dev"
	for range 2 {
		out, err := run("create", "kelp-dev")
		if err != nil {
			t.Fatalf("create: %v\n%s", err, out)
		}
		testenv.Contains(t, "create", out, "Queue:      "+url, "Retention:  300s", "Setup:      complete",
			"kelp-dev-spot-interruption", "kelp-dev-rebalance", "kelp-dev-lifecycle", "kelp-dev-state-change", "kelp-dev-scheduled-change",
			`"LifecycleHookName":["kelp-drain"]`, "--interruption-queue "+url)
	}
	out, err := run("show", "kelp-dev")
	if err != nil {
		t.Fatalf("show: %v", err)
	}
	testenv.Contains(t, "show", out, "Setup:      complete", "0 waiting, 0 in flight")
	if strings.Count(out, "ENABLED  true") != 5 {
		t.Errorf("show: want 5 enabled rules sending to the queue:\n%s", out)
	}
	out, err = run("delete", "kelp-dev")
	if err != nil {
		t.Fatalf("delete: %v", err)
	}
	testenv.Contains(t, "delete", out, "kelp-dev and its rules deleted")
	_, err = run("show", "kelp-dev")
	testenv.ErrorContains(t, err, "interruption queue kelp-dev does not exist", "kelp pool interruption-queue create kelp-dev")
	_, err = run("create", "kelp.dev")
	testenv.ErrorContains(t, err, `queue name "kelp.dev"`)
	_, err = run("create")
	testenv.ErrorContains(t, err, "accepts 1 arg(s)")
}
