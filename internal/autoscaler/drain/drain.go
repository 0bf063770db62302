package drain

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"

	"github.com/kelp-dev/kelp/internal/autoscaler"
	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/termination"
)

// Taint keys put on a node being removed, both NoSchedule.
const (
	// TaintToBeDeleted is kelp's own; Recover looks for it.
	TaintToBeDeleted = autoscaler.ToBeDeletedTaint
	// TaintCAToBeDeleted is cluster-autoscaler's, for tools that read it.
	TaintCAToBeDeleted = autoscaler.CAToBeDeletedTaint
)

// Event reasons on the Node (and ScaleDown on each evicted pod), as
// cluster-autoscaler names them.
const (
	EventScaleDown        = "ScaleDown"
	EventScaleDownFailed  = "ScaleDownFailed"
	EventScaleDownAborted = "ScaleDownAborted" // untainted by Recover
)

// Step is one step of a removal, in order.
type Step string

// Steps of [Drainer.Remove].
const (
	StepTaint        Step = "Taint"
	StepEvict        Step = "Evict"
	StepWaitForPods  Step = "WaitForPods"
	StepTerminate    Step = "Terminate"
	StepDeleteNode   Step = "DeleteNode"
	stepUntaintLabel      = "Untaint" // metrics only
)

// Errors wrapped by [Error]; test with errors.Is.
var (
	// ErrEvictionBlocked: a PodDisruptionBudget kept refusing an eviction
	// until MaxGracefulTermination.
	ErrEvictionBlocked = errors.New("eviction blocked by a PodDisruptionBudget")
	// ErrPodsRemain: pods other than DaemonSet and mirror pods are still on
	// the node (not gone in time, or new), so the instance is not
	// terminated.
	ErrPodsRemain = errors.New("pods remain on the node")
	// ErrInstanceMismatch: the node's providerID does not name the
	// instance to terminate.
	ErrInstanceMismatch = errors.New("node's providerID does not name the instance")
	// ErrAlreadyRemoving: this Drainer is removing the node already.
	ErrAlreadyRemoving = errors.New("node is being removed already")
)

// Error is a failed removal: the step that failed and why. Untainted says
// whether the taints were removed again (false only when the instance was
// terminated, or removing them failed too: Err then says so).
type Error struct {
	Node      string
	Step      Step
	Err       error
	Untainted bool
}

func (e *Error) Error() string {
	return fmt.Sprintf("remove node %s: step %s: %v", e.Node, e.Step, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Terminator terminates instances and lowers their group's desired
// capacity; cloud.Scaler is one.
type Terminator interface {
	DeleteInstances(ctx context.Context, group string, ids []string) error
}

var _ Terminator = cloud.Scaler(nil)

// Options are the drain's tunables.
type Options struct {
	// MaxGracefulTermination bounds both the time evictions are retried
	// and each pod's grace period (--max-graceful-termination).
	MaxGracefulTermination time.Duration
	// PodDeletionHeadroom is added to the longest grace period used when
	// waiting for evicted pods to be gone.
	PodDeletionHeadroom time.Duration
	// RetryInterval is the first wait before retrying refused evictions;
	// it doubles (jittered) up to 10× itself.
	RetryInterval time.Duration
	// PollInterval between checks that evicted pods are gone.
	PollInterval time.Duration
}

// DefaultOptions returns cluster-autoscaler's defaults.
func DefaultOptions() Options {
	return Options{MaxGracefulTermination: 10 * time.Minute, PodDeletionHeadroom: 30 * time.Second,
		RetryInterval: time.Second, PollInterval: time.Second}
}

// Validate returns every problem of o at once.
func (o Options) Validate() error {
	var errs []error
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"max graceful termination", o.MaxGracefulTermination}, {"retry interval", o.RetryInterval}, {"poll interval", o.PollInterval}} {
		if d.v <= 0 {
			errs = append(errs, fmt.Errorf("drain %s %v: must be positive", d.name, d.v))
		}
	}
	if o.PodDeletionHeadroom < 0 {
		errs = append(errs, fmt.Errorf("drain pod deletion headroom %v: must not be negative", o.PodDeletionHeadroom))
	}
	return errors.Join(errs...)
}

// Deps are what a Drainer acts through.
type Deps struct {
	Client     kubernetes.Interface
	Terminator Terminator
	Recorder   record.EventRecorder
	Metrics    *Metrics
	Logger     *slog.Logger // nil: slog.Default()
	Clock      clock.Clock  // nil: the real clock
}

// Drainer removes nodes, several at once if asked to (one per node).
type Drainer struct {
	d    Deps
	opts Options

	mu     sync.Mutex
	active map[string]bool
}

// New returns a Drainer, or every problem of deps and opts.
func New(deps Deps, opts Options) (*Drainer, error) {
	var errs []error
	if deps.Client == nil {
		errs = append(errs, errors.New("drain: no Kubernetes client"))
	}
	if deps.Terminator == nil {
		errs = append(errs, errors.New("drain: no Terminator"))
	}
	if deps.Recorder == nil {
		errs = append(errs, errors.New("drain: no event recorder"))
	}
	if deps.Metrics == nil {
		errs = append(errs, errors.New("drain: no metrics (NewMetrics)"))
	}
	if err := opts.Validate(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	if deps.Clock == nil {
		deps.Clock = clock.RealClock{}
	}
	return &Drainer{d: deps, opts: opts, active: map[string]bool{}}, nil
}

// Active returns the nodes being removed now (the planner's InProgress).
func (d *Drainer) Active() map[string]bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return maps.Clone(d.active)
}

// Request names the node to remove and its instance.
type Request struct {
	Node       string
	Group      string
	InstanceID string
}

// Remove removes one node: taint, evict, wait, terminate, delete (see the
// package doc). It returns nil once the Node is deleted, or an [*Error].
// ctx bounds the whole removal; cleaning up after a failure uses its own
// short deadline, so it happens even when ctx is cancelled.
func (d *Drainer) Remove(ctx context.Context, req Request) error {
	if !d.begin(req.Node) {
		return &Error{Node: req.Node, Step: StepTaint, Err: ErrAlreadyRemoving}
	}
	defer d.end(req.Node)
	log := d.d.Logger.With("node", req.Node, "group", req.Group, "instance", req.InstanceID)
	r := &removal{Drainer: d, req: req, log: log}
	err := r.run(ctx)
	if err == nil {
		d.d.Metrics.Removals.With(prometheus.Labels{"group": req.Group}).Inc()
		log.Info("node removed", "evicted", r.evicted)
		return nil
	}
	e := &Error{Node: req.Node, Step: r.step, Err: err}
	d.d.Metrics.Failures.With(prometheus.Labels{"step": string(r.step)}).Inc()
	if !r.terminated && r.node != nil {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if uerr := d.untaint(cctx, req.Node); uerr != nil {
			e.Err = errors.Join(err, fmt.Errorf("remove taints: %w", uerr))
			d.d.Metrics.Failures.With(prometheus.Labels{"step": stepUntaintLabel}).Inc()
		} else {
			e.Untainted = true
		}
	}
	if r.node != nil {
		d.d.Recorder.Eventf(r.node, corev1.EventTypeWarning, EventScaleDownFailed, "kelp failed to remove the node at step %s (untainted: %t): %v", e.Step, e.Untainted, e.Err)
	}
	log.Warn("node removal failed", "step", e.Step, "untainted", e.Untainted, "err", e.Err)
	return e
}

func (d *Drainer) begin(node string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.active[node] {
		return false
	}
	d.active[node] = true
	return true
}

func (d *Drainer) end(node string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.active, node)
}

// Recover untaints every node that carries kelp's taint and that this
// Drainer is not removing (left by a process that died mid-removal), but
// for nodes whose instance is being drained before it goes (annotated
// termination.AnnotationDrainStarted: the drain controller owns them).
// Call it at start-up, before the first plan. It returns every failure.
func (d *Drainer) Recover(ctx context.Context) error {
	nodes, err := d.d.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("recover: list nodes: %w", err)
	}
	active := d.Active()
	var errs []error
	for i := range nodes.Items {
		n := &nodes.Items[i]
		if active[n.Name] || !hasTaint(n, TaintToBeDeleted) || n.Annotations[termination.AnnotationDrainStarted] != "" {
			continue
		}
		if err := d.untaint(ctx, n.Name); err != nil {
			errs = append(errs, fmt.Errorf("recover: %w", err))
			continue
		}
		d.d.Metrics.Recovered.Inc()
		d.d.Recorder.Event(n, corev1.EventTypeNormal, EventScaleDownAborted, "kelp found the node tainted to-be-deleted by a removal that did not finish, and untainted it")
		d.d.Logger.Info("untainted node left by an unfinished removal", "node", n.Name)
	}
	return errors.Join(errs...)
}

func hasTaint(n *corev1.Node, key string) bool {
	for _, t := range n.Spec.Taints {
		if t.Key == key {
			return true
		}
	}
	return false
}

// podNames renders pod keys for errors, at most ten.
func podNames(pods []*corev1.Pod) string {
	var names []string
	for i, p := range pods {
		if i == 10 {
			names = append(names, fmt.Sprintf("and %d more", len(pods)-10))
			break
		}
		names = append(names, p.Namespace+"/"+p.Name)
	}
	return strings.Join(names, ", ")
}

// ignorable reports the errors a deletion treats as done.
func ignorable(err error) bool { return err == nil || apierrors.IsNotFound(err) }
