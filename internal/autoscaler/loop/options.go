package loop

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/kelp-dev/kelp/internal/autoscaler"
	"github.com/kelp-dev/kelp/internal/autoscaler/drain"
)

// Defaults of [Options], as cluster-autoscaler's where it has the setting.
const (
	DefaultScanInterval         = 10 * time.Second
	DefaultBatchIdle            = time.Second
	DefaultBatchQuietIdle       = 200 * time.Millisecond
	DefaultBatchMax             = 10 * time.Second
	DefaultMaxNodeProvisionTime = 15 * time.Minute
	DefaultPriorityConfigMap    = "kube-system/kelp-priority-expander"
	// StatusConfigMap is where each cycle writes what it saw and did.
	StatusConfigMap = "kelp-status"
	// PriorityKey is the priority ConfigMap's key, as cluster-autoscaler's.
	PriorityKey = "priorities"
)

// Options configure the autoscaler. WithDefaults, then Validate, once.
type Options struct {
	// Expanders is the expander chain, e.g. "priority,least-waste"
	// (autoscaler.ParseExpanders); "" is least-waste.
	Expanders string
	// PriorityConfigMap is namespace/name of the priority expander's
	// ConfigMap (key "priorities", cluster-autoscaler's format), read every
	// cycle so edits apply at once.
	PriorityConfigMap string
	// Limits bound the whole cluster.
	Limits autoscaler.Limits
	// MaxNodeProvisionTime is how long an instance may take to become a
	// Ready node before it is terminated and its pool backed off.
	MaxNodeProvisionTime time.Duration
	// InitialBackoff and MaxBackoff bound a failing pool's backoff.
	InitialBackoff, MaxBackoff time.Duration
	// BatchIdle and BatchMax batch unschedulable pods: a cycle starts
	// BatchIdle after the last new one, or BatchMax after the first.
	BatchIdle, BatchMax time.Duration
	// BatchQuietIdle is the wait after an unschedulable pod that comes
	// after a quiet spell (none for BatchIdle) when no other follows it
	// within that time: one pod on an idle cluster scales up at once,
	// while a burst is still batched by BatchIdle and BatchMax. Zero means
	// DefaultBatchQuietIdle, or BatchIdle when that is shorter.
	BatchQuietIdle time.Duration
	// ScanInterval is the period of cycles when no pod asks for one.
	ScanInterval time.Duration
	// DryRun plans and reports but never changes a pool or a node.
	DryRun bool
	// ScaleDownEnabled removes nodes nobody needs (see ScaleDown).
	ScaleDownEnabled bool
	// ScaleDown tunes scale-down; the zero value means
	// autoscaler.DefaultScaleDownOptions.
	ScaleDown autoscaler.ScaleDownOptions
	// Drain tunes node removal; zero fields get drain.DefaultOptions'.
	Drain drain.Options
	// MaxPlanningDuration and MaxNodesPerScaleUp are the budget of one
	// scale-up plan (autoscaler.Budget): past either, the cycle applies
	// what it planned, reports the plan truncated and the next cycle plans
	// the rest. Zero means autoscaler.DefaultMaxPlanningDuration and
	// autoscaler.DefaultMaxNodesPerScaleUp.
	MaxPlanningDuration time.Duration
	MaxNodesPerScaleUp  int
	// Health bounds the unready nodes past which the autoscaler neither
	// scales up nor down (autoscaler.ClusterHealth); nil means
	// autoscaler.DefaultHealthOptions.
	Health *autoscaler.HealthOptions
	// Pending says which unschedulable pods scale-up leaves out
	// (autoscaler.SkipPending): expendable ones, too new ones; nil means
	// autoscaler.DefaultPendingOptions.
	Pending *autoscaler.PendingOptions
	// BalanceSimilarNodeGroups spreads new nodes over similar groups,
	// balancing their sizes (autoscaler.Input.BalanceSimilarNodeGroups).
	BalanceSimilarNodeGroups bool
}

// WithDefaults fills in the zero fields.
func (o Options) WithDefaults() Options {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&o.MaxNodeProvisionTime, DefaultMaxNodeProvisionTime)
	def(&o.InitialBackoff, autoscaler.DefaultInitialBackoff)
	def(&o.MaxBackoff, autoscaler.DefaultMaxBackoff)
	def(&o.BatchIdle, DefaultBatchIdle)
	def(&o.BatchMax, DefaultBatchMax)
	def(&o.BatchQuietIdle, min(DefaultBatchQuietIdle, o.BatchIdle))
	def(&o.ScanInterval, DefaultScanInterval)
	def(&o.MaxPlanningDuration, autoscaler.DefaultMaxPlanningDuration)
	if o.MaxNodesPerScaleUp == 0 {
		o.MaxNodesPerScaleUp = autoscaler.DefaultMaxNodesPerScaleUp
	}
	if o.ScaleDown == (autoscaler.ScaleDownOptions{}) {
		o.ScaleDown = autoscaler.DefaultScaleDownOptions()
	}
	dd := drain.DefaultOptions()
	def(&o.Drain.MaxGracefulTermination, dd.MaxGracefulTermination)
	def(&o.Drain.PodDeletionHeadroom, dd.PodDeletionHeadroom)
	def(&o.Drain.RetryInterval, dd.RetryInterval)
	def(&o.Drain.PollInterval, dd.PollInterval)
	if o.PriorityConfigMap == "" {
		o.PriorityConfigMap = DefaultPriorityConfigMap
	}
	if o.Pending == nil {
		p := autoscaler.DefaultPendingOptions()
		o.Pending = &p
	}
	if o.Health == nil {
		h := autoscaler.DefaultHealthOptions()
		o.Health = &h
	}
	return o
}

// Validate reports every problem at once, naming the option.
func (o Options) Validate() error {
	var errs []error
	positive := func(name string, d time.Duration) {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("%s %s: must be positive", name, d))
		}
	}
	positive("max-node-provision-time", o.MaxNodeProvisionTime)
	positive("initial backoff", o.InitialBackoff)
	positive("max backoff", o.MaxBackoff)
	positive("batch-idle-duration", o.BatchIdle)
	positive("batch-max-duration", o.BatchMax)
	positive("scan-interval", o.ScanInterval)
	positive("max-planning-duration", o.MaxPlanningDuration)
	if o.MaxNodesPerScaleUp <= 0 {
		errs = append(errs, fmt.Errorf("max-nodes-per-scaleup %d: must be positive", o.MaxNodesPerScaleUp))
	}
	positive("batch-quiet-idle-duration", o.BatchQuietIdle)
	if o.BatchQuietIdle > o.BatchIdle {
		errs = append(errs, fmt.Errorf("batch-quiet-idle-duration %s: must be at most batch-idle-duration %s", o.BatchQuietIdle, o.BatchIdle))
	}
	if o.BatchMax < o.BatchIdle {
		errs = append(errs, fmt.Errorf("batch-max-duration %s: must be at least batch-idle-duration %s", o.BatchMax, o.BatchIdle))
	}
	if o.MaxBackoff < o.InitialBackoff {
		errs = append(errs, fmt.Errorf("max backoff %s: must be at least the initial backoff %s", o.MaxBackoff, o.InitialBackoff))
	}
	if o.Limits.MaxNodesTotal < 0 || o.Limits.MaxCoresTotal < 0 || o.Limits.MaxMemoryTotal < 0 {
		errs = append(errs, errors.New("max-nodes-total, cores-total and memory-total: must not be negative"))
	}
	if ns, name, ok := strings.Cut(o.PriorityConfigMap, "/"); !ok || ns == "" || name == "" {
		errs = append(errs, fmt.Errorf("priority configmap %q: want namespace/name", o.PriorityConfigMap))
	}
	if _, err := autoscaler.ParseExpanders(o.Expanders, autoscaler.ExpanderDeps{
		Priorities: autoscaler.Priorities{}, Rand: rand.New(rand.NewPCG(0, 0)),
	}); err != nil {
		errs = append(errs, err)
	}
	if o.Health != nil {
		if err := o.Health.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if o.Pending != nil {
		if err := o.Pending.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if o.ScaleDownEnabled {
		if err := o.ScaleDown.Validate(); err != nil {
			errs = append(errs, err)
		}
		if err := o.Drain.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
