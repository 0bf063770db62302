package cli

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/kelp-dev/kelp/internal/autoscaler"
	"github.com/kelp-dev/kelp/internal/autoscaler/drain"
	"github.com/kelp-dev/kelp/internal/autoscaler/loop"
)

// autoscalerFlags are the autoscaler's flags, named as cluster-autoscaler's
// where it has them.
type autoscalerFlags struct {
	mode                    string
	expander                string
	priorityConfigMap       string
	maxNodesTotal           int
	coresTotal, memoryTotal string
	maxNodeProvisionTime    time.Duration
	initialBackoff          time.Duration
	maxBackoff              time.Duration
	scanInterval            time.Duration
	batchIdle, batchMax     time.Duration
	maxPlanningDuration     time.Duration
	maxNodesPerScaleUp      int
	batchQuietIdle          time.Duration
	dryRun                  bool
	scaleDownEnabled        bool
	scaleDown               autoscaler.ScaleDownOptions
	maxGracefulTermination  time.Duration
	health                  autoscaler.HealthOptions
	pending                 autoscaler.PendingOptions
	balanceSimilar          bool
}

func (f *autoscalerFlags) add(fs *pflag.FlagSet) {
	fs.StringVar(&f.mode, "autoscaler", "kelp", "autoscaler to run: kelp, or none to leave the pools to another autoscaler")
	fs.StringVar(&f.expander, "expander", "least-waste", "expanders choosing between pools, in order: "+strings.Join(autoscaler.ExpanderNames, ", "))
	fs.StringVar(&f.priorityConfigMap, "priority-configmap", loop.DefaultPriorityConfigMap, "namespace/name of the priority expander's ConfigMap (key \"priorities\")")
	fs.BoolVar(&f.balanceSimilar, "balance-similar-node-groups", false, "spread new nodes over pools alike but for their zone and name (same instance types, labels, taints), keeping their sizes balanced")
	fs.IntVar(&f.maxNodesTotal, "max-nodes-total", 0, "most nodes in the cluster (0: no limit)")
	fs.StringVar(&f.coresTotal, "cores-total", "", "most cores of node capacity in the cluster, MAX or 0:MAX (empty: no limit)")
	fs.StringVar(&f.memoryTotal, "memory-total", "", "most GiB of node memory in the cluster, MAX or 0:MAX (empty: no limit)")
	fs.DurationVar(&f.maxNodeProvisionTime, "max-node-provision-time", loop.DefaultMaxNodeProvisionTime, "how long an instance may take to become a Ready node before it is terminated and its pool backed off")
	fs.DurationVar(&f.initialBackoff, "initial-node-group-backoff-duration", autoscaler.DefaultInitialBackoff, "backoff of a pool after its first failed scale-up")
	fs.DurationVar(&f.maxBackoff, "max-node-group-backoff-duration", autoscaler.DefaultMaxBackoff, "longest backoff of a failing pool")
	fs.DurationVar(&f.scanInterval, "scan-interval", loop.DefaultScanInterval, "autoscaler cycle period when no pod asks for one")
	fs.DurationVar(&f.batchIdle, "batch-idle-duration", loop.DefaultBatchIdle, "start a cycle once no new unschedulable pod arrived for this long")
	fs.DurationVar(&f.batchMax, "batch-max-duration", loop.DefaultBatchMax, "start a cycle at the latest this long after the first unschedulable pod of a batch")
	fs.DurationVar(&f.maxPlanningDuration, "max-planning-duration", autoscaler.DefaultMaxPlanningDuration, "time budget of a cycle's scale-up plan: past it, the cycle applies what it planned and the next one plans the rest")
	fs.IntVar(&f.maxNodesPerScaleUp, "max-nodes-per-scaleup", autoscaler.DefaultMaxNodesPerScaleUp, "most new nodes one cycle plans, all pools together: past it, the cycle applies what it planned and the next one plans the rest (a guard, not a rate limit)")
	fs.DurationVar(&f.batchQuietIdle, "batch-quiet-idle-duration", 0, "start a cycle this long after an unschedulable pod that follows a quiet spell, unless more follow (default 200ms, at most --batch-idle-duration)")
	fs.BoolVar(&f.dryRun, "dry-run", false, "plan and report (events, status, metrics) without changing any pool or node")
	sd := autoscaler.DefaultScaleDownOptions()
	fs.BoolVar(&f.scaleDownEnabled, "scale-down-enabled", true, "remove nodes nobody needs")
	fs.Float64Var(&f.scaleDown.UtilizationThreshold, "scale-down-utilization-threshold", sd.UtilizationThreshold, "a node whose requested cpu and memory are both below this fraction of allocatable is a scale-down candidate")
	fs.DurationVar(&f.scaleDown.UnneededTime, "scale-down-unneeded-time", sd.UnneededTime, "how long a node must be unneeded before it is removed")
	fs.DurationVar(&f.scaleDown.DelayAfterAdd, "scale-down-delay-after-add", sd.DelayAfterAdd, "no scale-down for this long after a scale-up")
	fs.DurationVar(&f.scaleDown.DelayAfterDelete, "scale-down-delay-after-delete", sd.DelayAfterDelete, "no scale-down for this long after a node removal")
	fs.DurationVar(&f.scaleDown.DelayAfterFailure, "scale-down-delay-after-failure", sd.DelayAfterFailure, "no scale-down for this long after a failed removal")
	fs.IntVar(&f.scaleDown.MaxEmptyBulkDelete, "max-empty-bulk-delete", sd.MaxEmptyBulkDelete, "most empty nodes removed at once")
	fs.IntVar(&f.scaleDown.MaxDrainParallelism, "max-drain-parallelism", sd.MaxDrainParallelism, "most non-empty nodes drained at once")
	fs.Float64Var(&f.scaleDown.CandidatesPoolRatio, "scale-down-candidates-pool-ratio", sd.CandidatesPoolRatio, "fraction of the nodes whose removal (with pods to move) is simulated in one cycle, at least --scale-down-candidates-pool-min-count; the nodes unneeded in the last cycle first (both 0: no bound)")
	fs.IntVar(&f.scaleDown.CandidatesPoolMinCount, "scale-down-candidates-pool-min-count", sd.CandidatesPoolMinCount, "least number of nodes whose removal is simulated in one cycle (see --scale-down-candidates-pool-ratio)")
	fs.DurationVar(&f.scaleDown.UnreadyTime, "scale-down-unready-time", sd.UnreadyTime, "how long a node that is not Ready must be unneeded before it is removed")
	fs.BoolVar(&f.scaleDown.UnreadyEnabled, "scale-down-unready-enabled", sd.UnreadyEnabled, "remove nodes that are not Ready once unneeded for --scale-down-unready-time")
	fs.BoolVar(&f.scaleDown.IgnoreDaemonSetsUtilization, "ignore-daemonsets-utilization", sd.IgnoreDaemonSetsUtilization, "leave DaemonSet pods out of a node's utilization when deciding whether it is underutilized")
	fs.IntVar(&f.scaleDown.MaxBulkSoftTaintCount, "max-bulk-soft-taint-count", sd.MaxBulkSoftTaintCount, "most nodes whose DeletionCandidateOfClusterAutoscaler soft taint is put or removed in one cycle (0: no soft taints)")
	fs.DurationVar(&f.scaleDown.MaxBulkSoftTaintTime, "max-bulk-soft-taint-time", sd.MaxBulkSoftTaintTime, "longest time spent putting or removing soft taints in one cycle")
	fs.BoolVar(&f.scaleDown.SkipNodesWithLocalStorage, "skip-nodes-with-local-storage", sd.SkipNodesWithLocalStorage, "keep nodes with pods using emptyDir or hostPath volumes")
	fs.BoolVar(&f.scaleDown.SkipNodesWithSystemPods, "skip-nodes-with-system-pods", sd.SkipNodesWithSystemPods, "keep nodes with kube-system pods no PodDisruptionBudget covers")
	fs.IntVar(&f.health.OkTotalUnreadyCount, "ok-total-unready-count", autoscaler.DefaultOkTotalUnreadyCount, "number of unready nodes tolerated whatever their share: past it and past --max-total-unready-percentage, no scale-up or scale-down")
	fs.Float64Var(&f.health.MaxTotalUnreadyPercentage, "max-total-unready-percentage", autoscaler.DefaultMaxTotalUnreadyPercentage, "percentage of unready nodes past which (and past --ok-total-unready-count) the autoscaler neither scales up nor down")
	fs.IntVar(&f.pending.ExpendablePodsPriorityCutoff, "expendable-pods-priority-cutoff", autoscaler.DefaultExpendablePodsPriorityCutoff, "pods with a priority below this are expendable: they trigger no scale-up, and take no room when simulating (they neither block scale-down nor keep other pods from fitting)")
	fs.DurationVar(&f.pending.NewPodScaleUpDelay, "new-pod-scale-up-delay", autoscaler.DefaultNewPodScaleUpDelay, "pods younger than this trigger no scale-up yet (a pod's cluster-autoscaler.kubernetes.io/pod-scale-up-delay annotation may lengthen it)")
	fs.DurationVar(&f.maxGracefulTermination, "max-graceful-termination", drain.DefaultOptions().MaxGracefulTermination, "how long evictions refused by a PodDisruptionBudget are retried (by the autoscaler and when draining an instance held on kelp's drain hook), and the longest grace period given to an evicted pod")
}

// options returns nil when no autoscaler runs.
func (f *autoscalerFlags) options() (*loop.Options, error) {
	switch f.mode {
	case "none":
		return nil, nil
	case "kelp", "":
	default:
		return nil, fmt.Errorf("--autoscaler %q: want kelp or none", f.mode)
	}
	// Zero would read as "no budget" but be defaulted: refuse it.
	if f.maxPlanningDuration == 0 || f.maxNodesPerScaleUp == 0 {
		return nil, fmt.Errorf("--max-planning-duration %s, --max-nodes-per-scaleup %d: must be positive (the budget is a guard and cannot be turned off)",
			f.maxPlanningDuration, f.maxNodesPerScaleUp)
	}
	cores, err := parseTotal("--cores-total", f.coresTotal)
	if err != nil {
		return nil, err
	}
	memGiB, err := parseTotal("--memory-total", f.memoryTotal)
	if err != nil {
		return nil, err
	}
	o := loop.Options{
		Expanders: f.expander, PriorityConfigMap: f.priorityConfigMap,
		Limits:               autoscaler.Limits{MaxNodesTotal: f.maxNodesTotal, MaxCoresTotal: cores, MaxMemoryTotal: memGiB << 30},
		MaxNodeProvisionTime: f.maxNodeProvisionTime, InitialBackoff: f.initialBackoff, MaxBackoff: f.maxBackoff,
		ScanInterval: f.scanInterval, BatchIdle: f.batchIdle, BatchMax: f.batchMax, BatchQuietIdle: f.batchQuietIdle, DryRun: f.dryRun,
		MaxPlanningDuration: f.maxPlanningDuration, MaxNodesPerScaleUp: f.maxNodesPerScaleUp,
		ScaleDownEnabled: f.scaleDownEnabled, ScaleDown: f.scaleDown,
		Drain:  drain.Options{MaxGracefulTermination: f.maxGracefulTermination},
		Health: &f.health, Pending: &f.pending, BalanceSimilarNodeGroups: f.balanceSimilar,
	}
	o = o.WithDefaults()
	if err := o.Validate(); err != nil {
		return nil, err
	}
	return &o, nil
}

// parseTotal parses cluster-autoscaler's "MIN:MAX" or a plain "MAX"; kelp
// enforces only the maximum, so a minimum other than 0 is refused.
func parseTotal(flag, v string) (int64, error) {
	if v == "" {
		return 0, nil
	}
	lo, hi, ranged := strings.Cut(v, ":")
	if !ranged {
		hi, lo = lo, "0"
	}
	minV, err1 := strconv.ParseInt(lo, 10, 64)
	maxV, err2 := strconv.ParseInt(hi, 10, 64)
	switch {
	case err1 != nil || err2 != nil || maxV < 0:
		return 0, fmt.Errorf("%s %q: want MAX or MIN:MAX, non-negative integers", flag, v)
	case minV != 0:
		return 0, fmt.Errorf("%s %q: a minimum is not supported (kelp keeps each pool's own minSize); use 0:%d", flag, v, maxV)
	}
	return maxV, nil
}
