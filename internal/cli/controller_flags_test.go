package cli

import (
	"testing"

	"github.com/spf13/pflag"
	"k8s.io/client-go/rest"

	"github.com/kelp-dev/kelp/internal/approver"
	"github.com/kelp-dev/kelp/internal/controller"
	"github.com/kelp-dev/kelp/internal/testenv"
)

func parseControllerFlags(t *testing.T, args ...string) *controllerFlags {
	t.Helper()
	var f controllerFlags
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	f.add(fs, "")
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return &f
}

func TestControllerPolicyFlags(t *testing.T) {
	o, err := parseControllerFlags(t).options("dev")
	if err != nil || o.Approver.ServingSANs != approver.SANsAnyPrivateIP || o.Approver.FloodHeadroom != approver.DefaultFloodHeadroom {
		t.Fatalf("defaults: %+v %v, want any-private-ip and the default headroom", o.Approver, err)
	}
	o, err = parseControllerFlags(t, "--serving-sans=primary-ip", "--flood-headroom=300").options("dev")
	if err != nil || o.Approver.ServingSANs != approver.SANsPrimaryIP || o.Approver.FloodHeadroom != 300 {
		t.Fatalf("set: %+v %v", o.Approver, err)
	}
	_, err = parseControllerFlags(t, "--serving-sans=all", "--flood-headroom=0", "--join-window=10s").options("dev")
	testenv.ErrorContains(t, err, `--serving-sans "all": want any-private-ip or primary-ip`, "--flood-headroom 0: must be at least 1",
		"--join-window 10s: must be at least 1m")
}

// TestCSRCommandsTakeThePolicyFlags: explain and approve judge with the
// controller's settings, and refuse bad ones before reading anything.
func TestCSRCommandsTakeThePolicyFlags(t *testing.T) {
	for _, cmd := range []string{"explain", "approve"} {
		_, _, err := kelp(t, "csr", cmd, "some-csr", "--cluster-name=dev", "--serving-sans=all", "--kubeconfig=/nonexistent")
		testenv.ErrorContains(t, err, `--serving-sans "all": want any-private-ip or primary-ip`)
	}
}

// TestKubeAPIFlags: the controller's client runs at the documented
// defaults, not client-go's 5 QPS; bad limits are refused by name.
func TestKubeAPIFlags(t *testing.T) {
	o, err := parseControllerFlags(t).options("dev")
	if err != nil || o.KubeAPI.QPS != controller.DefaultKubeAPIQPS || o.KubeAPI.Burst != controller.DefaultKubeAPIBurst {
		t.Fatalf("defaults: %+v %v", o.KubeAPI, err)
	}
	o, err = parseControllerFlags(t, "--kube-client-qps=20", "--kube-client-burst=40").options("dev")
	if err != nil || o.KubeAPI.QPS != 20 || o.KubeAPI.Burst != 40 {
		t.Fatalf("set: %+v %v", o.KubeAPI, err)
	}
	var cfg rest.Config
	o.KubeAPI.Apply(&cfg)
	if cfg.QPS != 20 || cfg.Burst != 40 {
		t.Errorf("applied %v/%d, want 20/40", cfg.QPS, cfg.Burst)
	}
	o, _ = parseControllerFlags(t, "--kube-api-qps=50", "--kube-client-burst=10").options("dev")
	testenv.ErrorContains(t, o.Validate(), "kube client burst 10: must be at least the qps (50)")
	o, _ = parseControllerFlags(t, "--kube-api-qps=-1").options("dev")
	testenv.ErrorContains(t, o.Validate(), "kube client qps -1: must be positive")
}
