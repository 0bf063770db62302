package loop

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"

	"github.com/kelp-dev/kelp/internal/autoscaler"
	"github.com/kelp-dev/kelp/internal/autoscaler/drain"
	"github.com/kelp-dev/kelp/internal/cloud"
)

// Deps are what the autoscaler runs against.
type Deps struct {
	Client kubernetes.Interface
	// Informers is started by the caller after New.
	Informers informers.SharedInformerFactory
	// Groups are read once per cycle: Refresh, then NodeGroups. Their
	// failed launches are level-triggered (cloud.NodeGroup.Errors), so other
	// controllers may refresh the same provider.
	Groups   cloud.GroupLister
	Scaler   cloud.Scaler
	Recorder record.EventRecorder
	Metrics  *Metrics
	Logger   *slog.Logger
	Clock    clock.Clock
	// Rand drives the random expander; seeded from the clock when nil.
	Rand *rand.Rand
	// Registry receives the drain's metrics when scale-down is enabled.
	Registry prometheus.Registerer
}

// Autoscaler grows pools for unschedulable pods. Build it with New before
// the informers start; Run it, or call RunOnce.
type Autoscaler struct {
	o        Options
	d        Deps
	l        listers
	synced   []cache.InformerSynced
	trigger  chan struct{}
	backoffs *autoscaler.Backoffs
	// launches is this reader's position in the groups' failed launches.
	launches cloud.LaunchCursor
	events   *eventLog
	status   *statusWriter
	// pods are the bound pods compiled by the last cycle (gatherCluster).
	pods *podCache
	// onPhase, when set (benchmarks), is called as each phase of a cycle
	// ends: cloud, gather, failures, scale-up, scale-down, report.
	onPhase func(name string)
	// lastScaleUp is the last scale-up, for the status, and lastScaleUpAt
	// its time, for scale-down's delay after add.
	lastScaleUp   *autoscaler.ScaleUpRecord
	lastScaleUpAt time.Time
	sd            *scaleDown // nil when scale-down is disabled
	// scaler is d.Scaler: every size change, the drain's too, goes through it.
	scaler *serialScaler
	// growing holds, per group, the size its last scale-up asked for,
	// until that many nodes are Ready or the group fails.
	growing map[string]int
	// raisedOver holds, per group, the activity IDs of the failed launches
	// reported when scale-up last raised its target: they do not hold
	// back the capacity asked for since (autoscaler.Upcoming).
	raisedOver map[string]map[string]bool
	// newPending counts the pods seen becoming unschedulable (podChanged);
	// seenPending is the count batch last read, lastNew when it last saw
	// it grow.
	newPending  atomic.Int64
	seenPending int64
	lastNew     time.Time
	// cycles are when Run last finished and succeeded a cycle (LastCycles).
	cycles cycleTimes
	// sim is set by Simulate: the cycle changes nothing, writes no status
	// and records no event, and keeps what it planned from.
	sim *simState
}

// New validates the options and registers the informers the autoscaler
// reads.
func New(o Options, d Deps) (*Autoscaler, error) {
	o = o.WithDefaults()
	if err := o.Validate(); err != nil {
		return nil, fmt.Errorf("invalid autoscaler options: %w", err)
	}
	if d.Client == nil || d.Informers == nil || d.Groups == nil || d.Scaler == nil || d.Recorder == nil || d.Metrics == nil {
		return nil, errors.New("autoscaler: client, informers, groups, scaler, recorder and metrics are required")
	}
	f := d.Informers
	a := newAutoscaler(o, d, listers{
		nodes: f.Core().V1().Nodes().Lister(), pods: f.Core().V1().Pods().Informer().GetIndexer(),
		namespaces: f.Core().V1().Namespaces().Lister(), daemonSets: f.Apps().V1().DaemonSets().Lister(),
		pvcs: f.Core().V1().PersistentVolumeClaims().Lister(), pvs: f.Core().V1().PersistentVolumes().Lister(),
		csiNodes: f.Storage().V1().CSINodes().Lister(), storageClasses: f.Storage().V1().StorageClasses().Lister(),
	})
	a.status = &statusWriter{client: d.Client, refresh: 6 * o.ScanInterval}
	d = a.d // defaults filled in, the serial scaler
	if o.ScaleDownEnabled {
		if d.Registry == nil {
			d.Registry = prometheus.NewRegistry()
		}
		dr, err := drain.New(drain.Deps{Client: d.Client, Terminator: d.Scaler, Recorder: d.Recorder,
			Metrics: drain.NewMetrics(d.Registry), Logger: d.Logger.With("component", "drain"), Clock: d.Clock}, o.Drain)
		if err != nil {
			return nil, err
		}
		a.sd = &scaleDown{opts: o.ScaleDown, drainer: dr, pdbs: f.Policy().V1().PodDisruptionBudgets().Lister()}
		a.synced = append(a.synced, f.Policy().V1().PodDisruptionBudgets().Informer().HasSynced)
	}
	podInformer := f.Core().V1().Pods().Informer()
	if _, ok := podInformer.GetIndexer().GetIndexers()[PodsByNode]; !ok {
		if err := podInformer.AddIndexers(cache.Indexers{PodsByNode: podsByNode}); err != nil {
			return nil, fmt.Errorf("index pods by node: %w", err)
		}
	}
	if _, err := podInformer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { a.podChanged(nil, obj) },
		UpdateFunc: func(old, obj any) { a.podChanged(old, obj) },
	}); err != nil {
		return nil, fmt.Errorf("watch pods: %w", err)
	}
	a.synced = append(a.synced,
		podInformer.HasSynced, f.Core().V1().Nodes().Informer().HasSynced,
		f.Core().V1().Namespaces().Informer().HasSynced, f.Apps().V1().DaemonSets().Informer().HasSynced,
		f.Core().V1().PersistentVolumeClaims().Informer().HasSynced, f.Core().V1().PersistentVolumes().Informer().HasSynced,
		f.Storage().V1().CSINodes().Informer().HasSynced, f.Storage().V1().StorageClasses().Informer().HasSynced)
	return a, nil
}

// newAutoscaler builds an Autoscaler reading l, with d's defaults filled
// in; New and Simulate add what acts and what reports.
func newAutoscaler(o Options, d Deps, l listers) *Autoscaler {
	// Scale-up and node removals change the same groups' sizes: one at a
	// time, each from the provider's current snapshot.
	scaler := &serialScaler{Scaler: d.Scaler}
	d.Scaler = scaler
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.Clock == nil {
		d.Clock = clock.RealClock{}
	}
	if d.Rand == nil {
		seed := uint64(d.Clock.Now().UnixNano())
		d.Rand = rand.New(rand.NewPCG(seed, seed>>32))
	}
	return &Autoscaler{
		o: o, d: d, l: l, scaler: scaler, trigger: make(chan struct{}, 1), growing: map[string]int{},
		raisedOver: map[string]map[string]bool{},
		backoffs:   autoscaler.NewBackoffs(o.InitialBackoff, o.MaxBackoff),
		events:     newEventLog(),
		pods:       newPodCache(),
	}
}

// podChanged triggers a cycle for an unschedulable pod, and counts it
// when it was not unschedulable before (old is nil for an added pod).
func (a *Autoscaler) podChanged(old, obj any) {
	if p, ok := obj.(*corev1.Pod); ok && Unschedulable(p) {
		if o, ok := old.(*corev1.Pod); !ok || !Unschedulable(o) {
			a.newPending.Add(1)
		}
		select {
		case a.trigger <- struct{}{}:
		default:
		}
	}
}

// Run runs cycles until ctx ends: a batch of unschedulable pods or the scan
// interval starts one. It waits for the informers to sync first.
func (a *Autoscaler) Run(ctx context.Context) {
	if !cache.WaitForCacheSync(ctx.Done(), a.synced...) {
		return
	}
	if a.sd != nil {
		// Removals use ctx; on a stop they fail and untaint their nodes.
		defer a.sd.removing.Wait()
		// A previous process may have died mid-removal.
		if err := a.sd.drainer.Recover(ctx); err != nil {
			a.d.Logger.Error("recover nodes left tainted by an unfinished removal", "err", err)
		}
	}
	if !a.o.DryRun {
		a.cleanSoftTaints(ctx)
	}
	a.d.Logger.Info("autoscaler running", "expanders", a.o.Expanders, "dryRun", a.o.DryRun,
		"scanInterval", a.o.ScanInterval, "maxNodeProvisionTime", a.o.MaxNodeProvisionTime)
	resync := a.d.Clock.NewTimer(a.o.ScanInterval)
	defer resync.Stop()
	for {
		trigger := "resync"
		select {
		case <-ctx.Done():
			return
		case <-resync.C():
		case <-a.trigger:
			trigger = "pods"
			if !a.batch(ctx) {
				return
			}
		}
		_, err := a.RunOnce(ctx)
		if err != nil && ctx.Err() == nil {
			a.d.Logger.Error("autoscaler cycle failed", "trigger", trigger, "err", err)
		}
		a.cycles.done(a.d.Clock.Now(), err)
		a.d.Metrics.Cycles.WithLabelValues(trigger).Inc()
		resync.Stop()
		resync = a.d.Clock.NewTimer(a.o.ScanInterval)
	}
}

// batch waits for the batch a trigger opened to close (cycleStart); false
// when ctx ended.
func (a *Autoscaler) batch(ctx context.Context) bool {
	now := a.d.Clock.Now()
	b := pendingBatch{prev: a.lastNew, first: now, last: now}
	b.saw(a.newPods(), now)
	if b.news > 0 {
		a.lastNew = now
	}
	for {
		wait := cycleStart(a.o, b).Sub(a.d.Clock.Now())
		if wait <= 0 {
			return true
		}
		timer := a.d.Clock.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return false
		case <-timer.C():
			return true
		case <-a.trigger:
			timer.Stop()
			now := a.d.Clock.Now()
			b.last = now
			if n := a.newPods(); n > 0 {
				b.saw(n, now)
				a.lastNew = now
			}
		}
	}
}

// newPods returns how many pods became unschedulable since the last call.
func (a *Autoscaler) newPods() int {
	n := a.newPending.Load()
	d := n - a.seenPending
	a.seenPending = n
	return int(d)
}

// pendingBatch is what a batch has seen: when the loop received its first
// and its last trigger; how many pods newly unschedulable (news) and when
// the first of them; and when the loop last saw a pod newly unschedulable
// before this batch (prev; zero: never). The other triggers are pods the
// scheduler marked unschedulable again.
type pendingBatch struct {
	prev, first, last, firstNew time.Time
	news                        int
}

func (b *pendingBatch) saw(news int, at time.Time) {
	if news > 0 && b.news == 0 {
		b.firstNew = at
	}
	b.news += news
}

// cycleStart returns when the batch's cycle starts if no further pod
// arrives. A lone pod newly unschedulable after a quiet spell (no other
// for BatchIdle) starts a cycle BatchQuietIdle after it. Otherwise (a
// second new pod, new pods soon after the last, or only pods marked
// unschedulable again) the batch is a stream: a cycle BatchIdle after its
// last trigger. Either way the cycle starts at most BatchMax after the
// batch's first trigger.
func cycleStart(o Options, b pendingBatch) time.Time {
	end := b.last.Add(o.BatchIdle)
	if b.news == 1 && (b.prev.IsZero() || b.firstNew.Sub(b.prev) >= o.BatchIdle) {
		end = b.firstNew.Add(o.BatchQuietIdle)
	}
	return minTime(end, b.first.Add(o.BatchMax))
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// Wait waits for the node removals in flight (tests).
func (a *Autoscaler) Wait() {
	if a.sd != nil {
		a.sd.removing.Wait()
	}
}
