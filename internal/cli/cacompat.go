package cli

import (
	"fmt"
	"strconv"

	"github.com/spf13/pflag"
)

// addClusterAutoscalerFlags adds to `kelp controller` cluster-autoscaler's
// generic flags (--v, --logtostderr, --stderrthreshold, --cloud-provider,
// --scale-up-from-zero)
// and its flags kelp does not support, each of which fails with why
// (unsupportedCAFlags). docs/migrate-from-cluster-autoscaler.md lists them
// all, with kelp's equivalents.
func addClusterAutoscalerFlags(fs *pflag.FlagSet) {
	addKlogFlags(fs)
	fs.Var(onlyValue{value: "aws", why: "kelp runs on AWS Auto Scaling groups only"}, "cloud-provider", "accepted for cluster-autoscaler's args: aws is the only value")
	fs.Var(onlyValue{value: "true", why: "kelp always scales pools up from zero, from their node templates"}, "scale-up-from-zero", "accepted for cluster-autoscaler's args: kelp scales pools up from zero (true is the only value)")
	fs.Lookup("scale-up-from-zero").NoOptDefVal = "true"
	for _, u := range unsupportedCAFlags {
		fs.Var(unsupportedValue(u.why), u.name, "not supported: "+u.why)
		fs.Lookup(u.name).NoOptDefVal = "true" // a bare --flag fails too
		_ = fs.MarkHidden(u.name)
	}
}

// unsupportedCAFlags are cluster-autoscaler's flags that kelp does not
// take, with why and what to use instead: given to `kelp controller`, each
// fails with that text rather than "unknown flag".
var unsupportedCAFlags = []struct{ name, why string }{
	{"address", "use --probe-addr, which serves /metrics, /healthz and /readyz"},
	{"kubernetes", "use --kubeconfig (empty: the in-cluster config)"},
	{"cloud-config", "kelp reads AWS through the SDK's default chain; use --region and, for another endpoint, --endpoint"},
	{"aws-use-static-instance-list", "kelp's instance catalog (capacity and prices) is compiled in and dated; there is no list to fetch"},
	{"namespace", "kelp's Lease and status ConfigMap are in kube-system"},
	{"write-status-configmap", "kelp always writes its status to kube-system/kelp-status"},
	{"status-config-map-name", "kelp's status ConfigMap is kube-system/kelp-status"},
	{"leader-elect-lease-duration", "kelp's Lease (kube-system/kelp-controller) lasts 15s, renewed within 10s, retried every 2s"},
	{"leader-elect-renew-deadline", "kelp's Lease (kube-system/kelp-controller) lasts 15s, renewed within 10s, retried every 2s"},
	{"leader-elect-retry-period", "kelp's Lease (kube-system/kelp-controller) lasts 15s, renewed within 10s, retried every 2s"},
	{"leader-elect-resource-lock", "kelp's lock is always a Lease"},
	{"leader-elect-resource-name", "kelp's Lease is kube-system/kelp-controller"},
	{"leader-elect-resource-namespace", "kelp's Lease is kube-system/kelp-controller"},
	{"estimator", "kelp's estimator is its scheduling simulator (bin packing); there is no other"},
	{"scale-down-gpu-utilization-threshold", "kelp's scale-down weighs cpu and memory (--scale-down-utilization-threshold)"},
	{"scale-down-non-empty-candidates-count", "use --scale-down-candidates-pool-ratio and --scale-down-candidates-pool-min-count"},
	{"max-scale-down-parallelism", "use --max-empty-bulk-delete and --max-drain-parallelism"},
	{"max-pod-eviction-time", "use --max-graceful-termination (or --max-graceful-termination-sec): how long refused evictions are retried"},
	{"max-nodegroup-binpacking-duration", "use --max-planning-duration: the time budget of a cycle's scale-up plan"},
	{"unremovable-node-recheck-timeout", "kelp simulates the removal of candidates again every cycle (bounded by --scale-down-candidates-pool-ratio and --scale-down-candidates-pool-min-count)"},
	{"gpu-total", "kelp does not limit GPUs; use --max-nodes-total, --cores-total and --memory-total"},
	{"node-autoprovisioning-enabled", "kelp scales the pools it is given; create pools with kelp pool create"},
	{"max-autoprovisioned-node-group-count", "kelp does not create groups by itself"},
	{"enforce-node-group-min-size", "kelp leaves a group below its minimum to the Auto Scaling group, which raises it"},
	{"node-group-backoff-reset-timeout", "a pool's backoff is forgotten after a successful scale-up, or once the pool has been quiet for --max-node-group-backoff-duration"},
	{"scale-down-simulation-timeout", "scale-down's simulation is bounded by --scale-down-candidates-pool-ratio and --scale-down-candidates-pool-min-count"},
	{"node-deletion-delay-timeout", "kelp deletes the Node as it terminates the instance"},
	{"daemonset-eviction-for-empty-nodes", "kelp does not evict DaemonSet pods: the instance's termination stops them"},
	{"daemonset-eviction-for-occupied-nodes", "kelp does not evict DaemonSet pods: the instance's termination stops them"},
	{"emit-per-nodegroup-metrics", "kelp's metrics carry the pool (node group) as a label already"},
	{"record-duplicated-events", "kelp repeats an unchanged event about the same object only after a quiet interval"},
	{"grpc-expander-url", "kelp's expanders are built in (--expander)"},
	{"grpc-expander-cert", "kelp's expanders are built in (--expander)"},
	{"cordon-node-before-terminating", "kelp always taints a node it removes NoSchedule (ToBeDeletedByClusterAutoscaler) before draining it, rather than cordoning it"},
	{"skip-nodes-with-custom-controller-pods", "kelp moves a pod owned by any controller; only a pod with no controller keeps its node"},
	{"ignore-mirror-pods-utilization", "kelp always leaves mirror (static) pods out of a node's utilization"},
	{"feature-gates", "kelp has no feature gates"},
	{"regional", "a GCE option"},
	{"log-dir", "kelp logs to stderr only"},
	{"log-file", "kelp logs to stderr only"},
	{"alsologtostderr", "kelp logs to stderr only"},
	{"skip-headers", "use --log-format=text or json"},
}

// onlyValue is a cluster-autoscaler flag that kelp takes with one value:
// what kelp does anyway. Any other value fails with why.
type onlyValue struct{ value, why string }

func (o onlyValue) String() string { return o.value }
func (o onlyValue) Type() string {
	if _, err := strconv.ParseBool(o.value); err == nil {
		return "bool"
	}
	return "string"
}
func (o onlyValue) Set(v string) error {
	want, wantBool := strconv.ParseBool(o.value)
	got, gotBool := strconv.ParseBool(v)
	if v == o.value || (wantBool == nil && gotBool == nil && want == got) {
		return nil
	}
	return fmt.Errorf("want %s: %s", o.value, o.why)
}

// unsupportedValue refuses every value: the flag is cluster-autoscaler's
// and kelp does not take it.
type unsupportedValue string

func (u unsupportedValue) String() string { return "" }
func (u unsupportedValue) Type() string   { return "string" }
func (u unsupportedValue) Set(string) error {
	return fmt.Errorf("cluster-autoscaler's flag is not supported by kelp: %s (docs/migrate-from-cluster-autoscaler.md)", string(u))
}
