package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/kelp-dev/kelp/internal/testenv"
)

func parseAutoscalerFlags(t *testing.T, args ...string) (*autoscalerFlags, error) {
	t.Helper()
	var f controllerFlags
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	f.add(fs, "")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	return &f.autoscaler, nil
}

// TestNoTestOnlyFlags: the controller has no flag that exists for tests
// (the crash test wires its own pausing scaler instead).
func TestNoTestOnlyFlags(t *testing.T) {
	if _, err := parseAutoscalerFlags(t, "--test-pause-before-drain-step=Terminate"); err == nil || !strings.Contains(err.Error(), "unknown flag") {
		t.Fatalf("--test-pause-before-drain-step: error %v, want an unknown flag", err)
	}
	newControllerCommand().Flags().VisitAll(func(f *pflag.Flag) {
		if strings.HasPrefix(f.Name, "test-") || (f.Hidden && !hiddenOnPurpose(f)) {
			t.Errorf("flag --%s: hidden or for tests", f.Name)
		}
	})
}

// TestNodeGroupFlagsDeclaredOnce: kelp controller and kelp csr explain
// take the same --nodes and --node-group-auto-discovery.
func TestNodeGroupFlagsDeclaredOnce(t *testing.T) {
	for _, name := range []string{"nodes", "node-group-auto-discovery"} {
		c, e := newControllerCommand().Flags().Lookup(name), newCSRExplainCommand(&kubeFlags{}).Flags().Lookup(name)
		if c == nil || e == nil || c.Usage != e.Usage {
			t.Errorf("--%s: controller %+v, csr explain %+v; want the same flag", name, c, e)
		}
	}
}

func TestAutoscalerFlags(t *testing.T) {
	f, err := parseAutoscalerFlags(t, "--scale-down-unneeded-time=20s", "--scale-down-delay-after-add=0s",
		"--cores-total=0:64", "--memory-total=256", "--max-nodes-total=30", "--expander=priority,least-waste",
		"--max-planning-duration=15s")
	if err != nil {
		t.Fatal(err)
	}
	o, err := f.options()
	if err != nil {
		t.Fatal(err)
	}
	if o == nil || !o.ScaleDownEnabled || o.ScaleDown.UnneededTime != 20*time.Second || o.ScaleDown.DelayAfterAdd != 0 ||
		o.ScaleDown.UtilizationThreshold != 0.5 || o.Limits.MaxCoresTotal != 64 || o.Limits.MaxMemoryTotal != 256<<30 ||
		o.Limits.MaxNodesTotal != 30 || o.Expanders != "priority,least-waste" || o.MaxNodeProvisionTime != 15*time.Minute ||
		o.MaxPlanningDuration != 15*time.Second || o.MaxNodesPerScaleUp != 5000 {
		t.Fatalf("options %+v", o)
	}

	f, _ = parseAutoscalerFlags(t, "--autoscaler=none")
	if o, err := f.options(); err != nil || o != nil {
		t.Fatalf("--autoscaler=none: %+v, %v; want no autoscaler", o, err)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--autoscaler=cluster-autoscaler"}, `--autoscaler "cluster-autoscaler": want kelp or none`},
		{[]string{"--cores-total=8:64"}, "a minimum is not supported"},
		{[]string{"--memory-total=lots"}, `--memory-total "lots": want MAX or MIN:MAX`},
		{[]string{"--expander=cheapest"}, `unknown expander`},
		{[]string{"--scale-down-utilization-threshold=1.5"}, "want a value in (0, 1]"},
		{[]string{"--batch-idle-duration=20s"}, "batch-max-duration 10s: must be at least batch-idle-duration 20s"},
		{[]string{"--max-nodes-per-scaleup=-1"}, "max-nodes-per-scaleup -1: must be positive"},
		{[]string{"--max-planning-duration=-1s"}, "max-planning-duration -1s: must be positive"},
		{[]string{"--max-nodes-per-scaleup=0"}, "cannot be turned off"},
	} {
		f, err := parseAutoscalerFlags(t, tc.args...)
		if err == nil {
			_, err = f.options()
		}
		testenv.ErrorContains(t, err, tc.want)
	}
}
