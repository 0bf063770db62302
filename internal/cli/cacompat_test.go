package cli

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	awscloud "github.com/kelp-dev/kelp/internal/cloud/aws"
	"github.com/kelp-dev/kelp/internal/testenv"
)

// hiddenOnPurpose reports whether a hidden flag of kelp controller is
// another name of a visible one, or a cluster-autoscaler flag kelp refuses
// with a reason.
func hiddenOnPurpose(f *pflag.Flag) bool {
	if strings.HasPrefix(f.Usage, "another name of --") {
		return true
	}
	return slices.ContainsFunc(unsupportedCAFlags, func(u struct{ name, why string }) bool { return u.name == f.Name })
}

// parseController parses args with kelp controller's flags.
func parseController(args ...string) error {
	cmd := newControllerCommand()
	return cmd.ParseFlags(args)
}

// TestUnsupportedCAFlagsFailWithWhy: each cluster-autoscaler flag kelp does
// not take fails, bare or with a value, naming the flag and why.
func TestUnsupportedCAFlagsFailWithWhy(t *testing.T) {
	for _, u := range unsupportedCAFlags {
		if newControllerCommand().Flags().Lookup(u.name).Hidden != true {
			t.Errorf("--%s: not hidden", u.name)
		}
		for _, arg := range []string{"--" + u.name, "--" + u.name + "=1"} {
			testenv.ErrorContains(t, parseController(arg), `"--`+u.name+`"`, "not supported by kelp", u.why)
		}
	}
	seen := map[string]bool{}
	for _, u := range unsupportedCAFlags {
		if seen[u.name] {
			t.Errorf("--%s listed twice", u.name)
		}
		seen[u.name] = true
	}
}

// TestClusterAutoscalerGenericFlags: cluster-autoscaler's generic args are
// taken with what kelp does; other values fail with why.
func TestClusterAutoscalerGenericFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--cloud-provider=aws", "--logtostderr", "--logtostderr=true", "--stderrthreshold=info", "--v=4", "--scale-up-from-zero"},
		{"--cloud-provider", "aws", "--stderrthreshold=2", "--v", "0"},
	} {
		if err := parseController(args...); err != nil {
			t.Errorf("%q: %v", args, err)
		}
	}
	for arg, wants := range map[string][]string{
		"--cloud-provider=gce":       {`"--cloud-provider"`, "want aws", "AWS Auto Scaling groups only"},
		"--logtostderr=false":        {`"--logtostderr"`, "want true", "stderr only"},
		"--stderrthreshold=verbose":  {`"--stderrthreshold"`, "INFO, WARNING, ERROR or FATAL"},
		"--v=loud":                   {`"--v"`},
		"--scale-up-from-zero=false": {`"--scale-up-from-zero"`, "want true", "node templates"},
	} {
		testenv.ErrorContains(t, parseController(arg), wants...)
	}
}

// TestMaxGracefulTerminationSec: the seconds flag and the duration flag
// are one setting; given both, they must agree.
func TestMaxGracefulTerminationSec(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want time.Duration
		err  string
	}{
		{args: nil, want: 10 * time.Minute},
		{args: []string{"--max-graceful-termination-sec=120"}, want: 2 * time.Minute},
		{args: []string{"--max-graceful-termination=3m"}, want: 3 * time.Minute},
		{args: []string{"--max-graceful-termination=90s", "--max-graceful-termination-sec=90"}, want: 90 * time.Second},
		{args: []string{"--max-graceful-termination=2m", "--max-graceful-termination-sec=90"}, err: "--max-graceful-termination-sec 90 and --max-graceful-termination 2m0s: one setting under two names"},
		{args: []string{"--max-graceful-termination-sec=-1"}, err: "--max-graceful-termination-sec -1: must not be negative"},
	} {
		o, err := parseControllerFlags(t, tc.args...).options("dev")
		if tc.err != "" {
			testenv.ErrorContains(t, err, tc.err)
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.args, err)
			continue
		}
		if o.Termination.MaxGracefulTermination != tc.want || o.Autoscaler.Drain.MaxGracefulTermination != tc.want {
			t.Errorf("%q: termination %s, drain %s, want %s", tc.args, o.Termination.MaxGracefulTermination, o.Autoscaler.Drain.MaxGracefulTermination, tc.want)
		}
	}
}

// TestHealthFlags: the bounds of /healthz reach the controller's options.
func TestHealthFlags(t *testing.T) {
	o, err := parseControllerFlags(t, "--max-inactivity=3m", "--max-failing-time=4m", "--max-csr-queue-wait=2m").options("dev")
	if err != nil || o.Health.MaxInactivity != 3*time.Minute || o.Health.MaxFailingTime != 4*time.Minute || o.Health.MaxCSRQueueWait != 2*time.Minute {
		t.Fatalf("health %+v, %v", o.Health, err)
	}
	o, _ = parseControllerFlags(t, "--max-inactivity=-1s").options("dev")
	testenv.ErrorContains(t, o.Validate(), "max inactivity -1s: must not be negative")
}

// TestNodesFlag: --nodes takes cluster-autoscaler's MIN:MAX:NAME and a bare
// NAME, repeated or comma-separated, into names and kelp's bounds.
func TestNodesFlag(t *testing.T) {
	cmd := newControllerCommand()
	if err := cmd.ParseFlags([]string{"--nodes=1:10:general", "--nodes=legacy", "--nodes=0:3:gpu,batch"}); err != nil {
		t.Fatal(err)
	}
	f := nodeGroupFlags{}
	f.names, _ = cmd.Flags().GetStringSlice("nodes")
	cfg, err := f.config(&awsFlags{cluster: "dev"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"general", "legacy", "gpu", "batch"}; !slices.Equal(cfg.GroupNames, want) {
		t.Errorf("names %q, want %q", cfg.GroupNames, want)
	}
	if len(cfg.GroupBounds) != 2 || cfg.GroupBounds["general"] != (awscloud.GroupBounds{Min: 1, Max: 10}) || cfg.GroupBounds["gpu"] != (awscloud.GroupBounds{Max: 3}) {
		t.Errorf("bounds %+v", cfg.GroupBounds)
	}
	f.names = []string{"5:1:a", "1:2", "ok"}
	_, err = f.config(&awsFlags{cluster: "dev"})
	testenv.ErrorContains(t, err, `--nodes "5:1:a": minimum 5 is above maximum 1`, `--nodes "1:2": want MIN:MAX:NAME`)
}
