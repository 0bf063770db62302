package loop

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"

	"github.com/kelp-dev/kelp/internal/autoscaler"
	"github.com/kelp-dev/kelp/internal/autoscaler/drain"
	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/simulator"
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
	// DrainHooks let tests stop a node removal at a step.
	DrainHooks drain.Hooks
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
	// lastScaleUp is the last scale-up, for the status, and lastScaleUpAt
	// its time, for scale-down's delay after add.
	lastScaleUp   *scaleUpRecord
	lastScaleUpAt time.Time
	sd            *scaleDown // nil when scale-down is disabled
	// scaler is d.Scaler: every size change, the drain's too, goes through it.
	scaler *serialScaler
	// growing holds, per group, the size its last scale-up asked for,
	// until that many nodes are Ready or the group fails.
	growing map[string]int
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
	f := d.Informers
	a := &Autoscaler{
		o: o, d: d, scaler: scaler, trigger: make(chan struct{}, 1), growing: map[string]int{},
		backoffs: autoscaler.NewBackoffs(o.InitialBackoff, o.MaxBackoff),
		events:   newEventLog(),
		status:   &statusWriter{client: d.Client, refresh: 6 * o.ScanInterval},
		l: listers{
			nodes: f.Core().V1().Nodes().Lister(), pods: f.Core().V1().Pods().Lister(),
			namespaces: f.Core().V1().Namespaces().Lister(), daemonSets: f.Apps().V1().DaemonSets().Lister(),
			pvcs: f.Core().V1().PersistentVolumeClaims().Lister(), pvs: f.Core().V1().PersistentVolumes().Lister(),
		},
	}
	if o.ScaleDownEnabled {
		if d.Registry == nil {
			d.Registry = prometheus.NewRegistry()
		}
		dr, err := drain.New(drain.Deps{Client: d.Client, Terminator: d.Scaler, Recorder: d.Recorder,
			Metrics: drain.NewMetrics(d.Registry), Logger: d.Logger.With("component", "drain"), Clock: d.Clock, Hooks: d.DrainHooks}, o.Drain)
		if err != nil {
			return nil, err
		}
		a.sd = &scaleDown{opts: o.ScaleDown, drainer: dr, pdbs: f.Policy().V1().PodDisruptionBudgets().Lister()}
		a.synced = append(a.synced, f.Policy().V1().PodDisruptionBudgets().Informer().HasSynced)
	}
	podInformer := f.Core().V1().Pods().Informer()
	if _, err := podInformer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { a.podChanged(obj) },
		UpdateFunc: func(_, obj any) { a.podChanged(obj) },
	}); err != nil {
		return nil, fmt.Errorf("watch pods: %w", err)
	}
	a.synced = append(a.synced,
		podInformer.HasSynced, f.Core().V1().Nodes().Informer().HasSynced,
		f.Core().V1().Namespaces().Informer().HasSynced, f.Apps().V1().DaemonSets().Informer().HasSynced,
		f.Core().V1().PersistentVolumeClaims().Informer().HasSynced, f.Core().V1().PersistentVolumes().Informer().HasSynced)
	return a, nil
}

func (a *Autoscaler) podChanged(obj any) {
	if p, ok := obj.(*corev1.Pod); ok && Unschedulable(p) {
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
		if _, err := a.RunOnce(ctx); err != nil && ctx.Err() == nil {
			a.d.Logger.Error("autoscaler cycle failed", "trigger", trigger, "err", err)
		}
		a.d.Metrics.Cycles.WithLabelValues(trigger).Inc()
		resync.Stop()
		resync = a.d.Clock.NewTimer(a.o.ScanInterval)
	}
}

// batch waits until no unschedulable pod has arrived for BatchIdle, or
// BatchMax has passed; false when ctx ended.
func (a *Autoscaler) batch(ctx context.Context) bool {
	deadline := a.d.Clock.NewTimer(a.o.BatchMax)
	defer deadline.Stop()
	for {
		idle := a.d.Clock.NewTimer(a.o.BatchIdle)
		select {
		case <-ctx.Done():
			idle.Stop()
			return false
		case <-deadline.C():
			idle.Stop()
			return true
		case <-idle.C():
			return true
		case <-a.trigger:
			idle.Stop()
		}
	}
}

// Cycle is what one RunOnce saw and did.
type Cycle struct {
	Plan autoscaler.Plan
	// Applied are the target sizes set, by group (empty in dry-run).
	Applied map[string]int
	// BackedOff are the groups backed off in this cycle, with the reason.
	BackedOff map[string]string
	// Terminated are the instances terminated for not becoming nodes.
	Terminated []string
	// ScaleDown is what scale-down saw and started.
	ScaleDown ScaleDownStatus
}

// Wait waits for the node removals in flight (tests).
func (a *Autoscaler) Wait() {
	if a.sd != nil {
		a.sd.removing.Wait()
	}
}

// maxReplans bounds the re-plans after a failed scale-up in one cycle.
const maxReplans = 3

// RunOnce runs one cycle: refresh, handle failures, plan, act, report.
func (a *Autoscaler) RunOnce(ctx context.Context) (Cycle, error) {
	start := a.d.Clock.Now()
	cyc := Cycle{Applied: map[string]int{}, BackedOff: map[string]string{}}
	if err := a.d.Groups.Refresh(ctx); err != nil {
		a.d.Metrics.Errors.WithLabelValues("refresh").Inc()
		return cyc, fmt.Errorf("refresh node groups: %w", err)
	}
	groups, err := a.d.Groups.NodeGroups(ctx)
	if err != nil {
		a.d.Metrics.Errors.WithLabelValues("refresh").Inc()
		return cyc, fmt.Errorf("list node groups: %w", err)
	}
	facts, err := a.l.gatherCluster()
	if err != nil {
		a.d.Metrics.Errors.WithLabelValues("gather").Inc()
		return cyc, err
	}
	gf := relate(groups, facts, a.o.MaxNodeProvisionTime, a.d.Clock.Now())
	a.handleFailures(ctx, groups, a.launches.Next(groups), gf, &cyc)
	a.noteArrivals(groups, gf, &cyc)
	for i, g := range groups {
		groups[i] = autoscaler.TemplateFromNodes(g, gf.ready[g.ID])
	}
	chain := a.expanders(ctx)
	in := autoscaler.Input{
		Snapshot: facts.snapshot, Pending: facts.pending, Groups: groups, Upcoming: gf.upcoming(groups),
		DaemonSets: facts.daemonSets, Limits: a.o.Limits, Expanders: chain,
	}
	var plan autoscaler.Plan
	for attempt := 0; ; attempt++ {
		in.Now = a.d.Clock.Now()
		in.Backoff = a.backoffs.Active(in.Now)
		plan = autoscaler.PlanScaleUp(in)
		if attempt == 0 {
			a.d.Metrics.CycleDuration.Observe(a.d.Clock.Since(start).Seconds())
		}
		failed := a.apply(ctx, groups, plan, &cyc)
		if !failed || attempt == maxReplans {
			break
		}
		// A group refused to grow and is backed off: plan its pods onto the
		// next option now, not a cycle later.
		for i, g := range groups {
			if t, ok := cyc.Applied[g.ID]; ok {
				groups[i].TargetSize = t
			}
		}
		in.Groups, in.Upcoming = groups, gf.upcoming(groups)
	}
	cyc.Plan = plan
	if len(cyc.Applied) > 0 {
		a.lastScaleUpAt = a.d.Clock.Now()
	}
	sdFacts, onUpcoming := withPlacedPods(facts, plan)
	skip := ""
	switch {
	case len(cyc.Applied) > 0:
		skip = "scaled up in this cycle"
	case onUpcoming > 0:
		skip = fmt.Sprintf("%d pending pod(s) wait for upcoming nodes", onUpcoming)
	}
	cyc.ScaleDown = a.runScaleDown(ctx, groups, gf, sdFacts, skip)
	a.report(ctx, groups, gf, facts, plan, &cyc)
	return cyc, nil
}

// handleFailures acts on autoscaler.PlanRecovery: terminates the
// instances that did not register a Node in time, backs the failing groups
// off and lowers their targets to what exists. groups is updated in place.
func (a *Autoscaler) handleFailures(ctx context.Context, groups []cloud.NodeGroup, launches []cloud.GroupError, gf groupFacts, cyc *Cycle) {
	now := a.d.Clock.Now()
	rec := autoscaler.PlanRecovery(autoscaler.RecoveryInput{
		Groups: groups, Launches: launches, Unregistered: gf.unregistered, Existing: gf.existingAll(groups),
		MaxNodeProvisionTime: a.o.MaxNodeProvisionTime, Now: now,
	})
	for _, r := range rec.Groups {
		for _, kind := range r.Kinds {
			a.d.Metrics.Backoffs.WithLabelValues(r.Group, kind).Inc()
		}
		if len(r.Kept) > 0 {
			a.d.Logger.Warn("instances did not register a node, but the group is at its min size: left to the cloud",
				"group", r.Group, "instances", r.Kept)
		}
		if r.BackOff == "" {
			continue
		}
		b := a.backoffs.Failed(r.Group, r.BackOff, now)
		cyc.BackedOff[r.Group] = r.BackOff
		a.d.Logger.Warn("pool backed off", "group", r.Group, "until", b.Until, "reason", r.BackOff)
		if a.o.DryRun {
			continue
		}
		a.recover(ctx, groups, r, cyc)
	}
}

// recover terminates a group's stuck instances and lowers its target, as
// r says.
func (a *Autoscaler) recover(ctx context.Context, groups []cloud.NodeGroup, r autoscaler.GroupRecovery, cyc *Cycle) {
	terminated := 0
	if len(r.Terminate) > 0 {
		if err := a.d.Scaler.DeleteInstances(ctx, r.Group, r.Terminate); err != nil {
			a.d.Metrics.Errors.WithLabelValues("terminate").Inc()
			a.d.Logger.Error("terminate instances that did not register a node", "group", r.Group, "instances", r.Terminate, "err", err)
		} else {
			a.d.Logger.Warn("terminated instances that did not register a node", "group", r.Group, "instances", r.Terminate, "after", a.o.MaxNodeProvisionTime)
			cyc.Terminated = append(cyc.Terminated, r.Terminate...)
			terminated = len(r.Terminate)
		}
	}
	i := slices.IndexFunc(groups, func(g cloud.NodeGroup) bool { return g.ID == r.Group })
	if i < 0 {
		return
	}
	g := &groups[i]
	g.TargetSize = r.TargetAfter(terminated)
	target, lower := r.LowerTo(terminated)
	if !lower {
		return
	}
	if err := a.d.Scaler.SetTargetSize(ctx, g.ID, target); err != nil {
		a.d.Metrics.Errors.WithLabelValues("scale-up").Inc()
		a.d.Logger.Error("lower target of failed pool", "group", g.ID, "target", target, "err", err)
		return
	}
	a.d.Logger.Info("lowered target of failed pool", "group", g.ID, "from", g.TargetSize, "to", target)
	g.TargetSize = target
}

// noteArrivals acts on autoscaler.SettleScaleUps: a group's past failures
// are forgotten once the nodes of its last scale-up are Ready.
func (a *Autoscaler) noteArrivals(groups []cloud.NodeGroup, gf groupFacts, cyc *Cycle) {
	ready := make(map[string]int, len(gf.ready))
	for id, nodes := range gf.ready {
		ready[id] = len(nodes)
	}
	s := autoscaler.SettleScaleUps(groups, a.growing, ready, cyc.BackedOff)
	for _, id := range s.Succeeded {
		a.backoffs.Succeeded(id)
	}
	for _, id := range s.Over {
		delete(a.growing, id)
	}
}

// apply raises the targets of the plan's groups (one call per group) and
// reports whether a group refused, in which case it is backed off.
func (a *Autoscaler) apply(ctx context.Context, groups []cloud.NodeGroup, plan autoscaler.Plan, cyc *Cycle) (failed bool) {
	delta := map[string]int{}
	for _, inc := range plan.Increases {
		delta[inc.Group] += inc.Delta
	}
	for _, id := range slices.Sorted(maps.Keys(delta)) {
		i := slices.IndexFunc(groups, func(g cloud.NodeGroup) bool { return g.ID == id })
		if i < 0 {
			continue
		}
		g := groups[i]
		if a.o.DryRun {
			a.d.Logger.Info("dry run: would scale up", "group", id, "from", g.TargetSize, "to", max(g.TargetSize, g.MinSize)+delta[id])
			continue
		}
		target, err := a.scaler.grow(ctx, a.d.Groups, id, delta[id])
		if err != nil {
			a.d.Metrics.Errors.WithLabelValues("scale-up").Inc()
			why := fmt.Sprintf("scale-up to %d failed: %v", target, err)
			b := a.backoffs.Failed(id, why, a.d.Clock.Now())
			a.d.Metrics.Backoffs.WithLabelValues(id, autoscaler.KindScaleUpFailed).Inc()
			cyc.BackedOff[id] = why
			a.d.Logger.Error("scale up", "group", id, "target", target, "err", err, "backoffUntil", b.Until)
			failed = true
			continue
		}
		cyc.Applied[id] = target
		a.growing[id] = target
		a.d.Metrics.NodesRequested.WithLabelValues(id).Add(float64(delta[id]))
		a.d.Logger.Info("scaled up", "group", id, "from", g.TargetSize, "to", target)
	}
	return failed
}

// expanders builds the chain, reading the priority ConfigMap when the
// chain has the priority expander. A missing or invalid ConfigMap makes the
// priority expander neutral, with a log line and a Warning event.
func (a *Autoscaler) expanders(ctx context.Context) autoscaler.Chain {
	deps := autoscaler.ExpanderDeps{Priorities: autoscaler.Priorities{}, Rand: a.d.Rand}
	if slices.Contains(strings.Split(strings.ReplaceAll(a.o.Expanders, " ", ""), ","), "priority") {
		ns, name, _ := strings.Cut(a.o.PriorityConfigMap, "/")
		cm, err := a.d.Client.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			a.d.Logger.Warn("priority expander has no configmap: all pools rank equal", "configmap", a.o.PriorityConfigMap)
		case err != nil:
			a.d.Logger.Error("read priority expander configmap", "configmap", a.o.PriorityConfigMap, "err", err)
		default:
			p, err := autoscaler.ParsePriorities(cm.Data[PriorityKey])
			if err != nil {
				if a.events.first("configmap/"+a.o.PriorityConfigMap, err.Error(), a.d.Clock.Now()) {
					a.d.Recorder.Event(cm, corev1.EventTypeWarning, "InvalidPriorities", err.Error())
				}
				a.d.Logger.Error("priority expander configmap is invalid: all pools rank equal", "configmap", a.o.PriorityConfigMap, "err", err)
			} else {
				deps.Priorities = p
			}
		}
	}
	chain, err := autoscaler.ParseExpanders(a.o.Expanders, deps)
	if err != nil { // validated in New; kept safe
		return autoscaler.Chain{autoscaler.LeastWaste()}
	}
	return chain
}

// timeNow is for the status; it keeps the RFC 3339 form in one place.
func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// serialScaler lets one size change through at a time, so that a scale-up
// computed from a fresh size and a removal's decrement never overwrite each
// other.
type serialScaler struct {
	cloud.Scaler
	mu sync.Mutex
}

func (s *serialScaler) SetTargetSize(ctx context.Context, group string, n int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.Scaler.SetTargetSize(ctx, group, n)
}

func (s *serialScaler) DeleteInstances(ctx context.Context, group string, ids []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.Scaler.DeleteInstances(ctx, group, ids)
}

// grow raises group's size by delta (autoscaler.GrowTarget) from its
// current size in the provider's snapshot, read under the scaler's lock: a
// removal may have lowered it since the cycle began, and the provider
// updates its cached snapshot on every Scaler call. It returns the size
// set.
func (s *serialScaler) grow(ctx context.Context, groups cloud.GroupLister, group string, delta int) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	all, err := groups.NodeGroups(ctx)
	if err != nil {
		return 0, fmt.Errorf("read group %s: %w", group, err)
	}
	i := slices.IndexFunc(all, func(g cloud.NodeGroup) bool { return g.ID == group })
	if i < 0 {
		return 0, fmt.Errorf("group %s: %w", group, cloud.ErrNotFound)
	}
	target, err := autoscaler.GrowTarget(all[i], delta)
	if err != nil {
		return target, err
	}
	return target, s.Scaler.SetTargetSize(ctx, group, target)
}

// withPlacedPods returns facts whose snapshot (a fork) has the pending pods
// the plan placed on existing nodes bound there, as the scheduler is about
// to: scale-down then neither removes the room they need nor counts those
// nodes idle. It also counts the pods placed on upcoming nodes.
func withPlacedPods(facts clusterFacts, plan autoscaler.Plan) (clusterFacts, int) {
	if len(plan.Placed) == 0 {
		return facts, 0
	}
	infos := make(map[string]simulator.PodInfo, len(facts.pending))
	for _, info := range facts.pending {
		infos[info.Pod.Namespace+"/"+info.Pod.Name] = info
	}
	fork, onUpcoming := facts.snapshot.Fork(), 0
	for _, key := range slices.Sorted(maps.Keys(plan.Placed)) {
		node := plan.Placed[key]
		if _, real := facts.snapshot.Node(node); !real {
			onUpcoming++
			continue
		}
		if info, ok := infos[key]; ok {
			_ = fork.AddPod(node, simulator.NewPod(info)) // a pod that no longer fits is the scheduler's to place
		}
	}
	facts.snapshot = fork
	return facts, onUpcoming
}
