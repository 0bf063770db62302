package cli

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// caFlags are cluster-autoscaler's flags (its config/flags package) that
// people are likely to have in their Deployment's args.
var caFlags = []string{
	"address", "alsologtostderr", "aws-use-static-instance-list", "balance-similar-node-groups", "cloud-config", "cloud-provider", "cluster-name", "cordon-node-before-terminating", "cores-total",
	"daemonset-eviction-for-empty-nodes", "daemonset-eviction-for-occupied-nodes", "emit-per-nodegroup-metrics",
	"enforce-node-group-min-size", "estimator", "expander", "expendable-pods-priority-cutoff", "feature-gates", "gpu-total",
	"grpc-expander-cert", "grpc-expander-url", "ignore-daemonsets-utilization", "ignore-mirror-pods-utilization",
	"initial-node-group-backoff-duration", "kube-client-burst", "kube-client-qps", "kubeconfig", "kubernetes", "leader-elect",
	"leader-elect-lease-duration", "leader-elect-renew-deadline", "leader-elect-resource-lock", "leader-elect-resource-name",
	"leader-elect-resource-namespace", "leader-elect-retry-period", "log-dir", "log-file", "logtostderr",
	"max-autoprovisioned-node-group-count", "max-bulk-soft-taint-count", "max-bulk-soft-taint-time", "max-drain-parallelism",
	"max-empty-bulk-delete", "max-failing-time", "max-graceful-termination-sec", "max-inactivity", "max-node-group-backoff-duration",
	"max-node-provision-time", "max-nodegroup-binpacking-duration", "max-nodes-per-scaleup", "max-nodes-total", "max-pod-eviction-time",
	"max-scale-down-parallelism", "max-total-unready-percentage", "memory-total", "namespace", "new-pod-scale-up-delay",
	"node-autoprovisioning-enabled", "node-deletion-delay-timeout", "node-group-auto-discovery", "node-group-backoff-reset-timeout",
	"nodes", "ok-total-unready-count", "profiling", "record-duplicated-events", "regional", "scale-down-candidates-pool-min-count",
	"scale-down-candidates-pool-ratio", "scale-down-delay-after-add", "scale-down-delay-after-delete", "scale-down-delay-after-failure",
	"scale-down-enabled", "scale-down-gpu-utilization-threshold", "scale-down-non-empty-candidates-count", "scale-down-simulation-timeout",
	"scale-down-unneeded-time", "scale-down-unready-enabled", "scale-down-unready-time", "scale-down-utilization-threshold", "scale-up-from-zero", "scan-interval", "skip-headers",
	"skip-nodes-with-custom-controller-pods", "skip-nodes-with-local-storage", "skip-nodes-with-system-pods",
	"status-config-map-name", "stderrthreshold", "unremovable-node-recheck-timeout", "v", "write-status-configmap",
}

// TestMigrationGuideNamesEveryCAFlag: docs/migrate-from-cluster-autoscaler.md
// names every cluster-autoscaler flag kelp refuses and every one it takes
// under cluster-autoscaler's name, so the guide stays true as flags come.
func TestMigrationGuideNamesEveryCAFlag(t *testing.T) {
	guide, err := os.ReadFile("../../docs/migrate-from-cluster-autoscaler.md")
	if err != nil {
		t.Fatal(err)
	}
	named := func(flag string) bool {
		return regexp.MustCompile("`--" + regexp.QuoteMeta(flag) + "[`= ]").Match(guide)
	}
	for _, u := range unsupportedCAFlags {
		if !named(u.name) {
			t.Errorf("the guide does not name --%s, which kelp refuses", u.name)
		}
	}
	fs := newControllerCommand().Flags()
	for _, name := range caFlags {
		if f := fs.Lookup(name); f != nil && !f.Hidden && !named(name) {
			t.Errorf("the guide does not name --%s, which kelp takes as cluster-autoscaler does", name)
		}
	}
	fs.VisitAll(func(f *pflag.Flag) {
		if !f.Hidden && strings.Contains(f.Usage, "cluster-autoscaler") && !named(f.Name) {
			t.Errorf("the guide does not name --%s, whose usage speaks of cluster-autoscaler", f.Name)
		}
	})
}
