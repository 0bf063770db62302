package loop

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/kelp-dev/kelp/internal/autoscaler"
	"github.com/kelp-dev/kelp/internal/cloud"
)

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
	ScaleDown autoscaler.ScaleDownStatus
	// ScaleDownPlan is what scale-down planned: the nodes to remove and
	// why each other node stays (empty when scale-down was skipped).
	ScaleDownPlan autoscaler.ScaleDownPlan
	// Status and Events are the cycle's report (autoscaler.Report): what
	// the status ConfigMap and the Events say.
	Status autoscaler.Status
	Events []autoscaler.Event
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
	a.phase("cloud")
	facts, err := a.l.gatherCluster(a.pods, *a.o.Pending, start)
	if err != nil {
		a.d.Metrics.Errors.WithLabelValues("gather").Inc()
		return cyc, err
	}
	a.phase("gather")
	gf := relate(groups, facts, a.o.MaxNodeProvisionTime, a.d.Clock.Now())
	gf.preceding = a.raisedOver
	a.handleFailures(ctx, groups, a.launches.Next(groups), gf, &cyc)
	a.noteArrivals(groups, gf, &cyc)
	for i, g := range groups {
		groups[i] = autoscaler.LaunchableTemplate(autoscaler.TemplateFromNodes(g, gf.ready[g.ID]))
	}
	if a.sim != nil {
		a.sim.groups, a.sim.gf, a.sim.facts = groups, gf, facts
	}
	a.phase("failures")
	health := a.health(facts)
	if !health.Healthy {
		a.unhealthy(ctx, groups, gf, facts, health, &cyc)
		return cyc, nil
	}
	plan := a.scaleUp(ctx, groups, gf, facts, start, &cyc)
	a.phase("scale-up")
	// Scale-down sees the pods just placed on existing nodes bound there.
	sdFacts := facts
	var onUpcoming int
	sdFacts.snapshot, onUpcoming = autoscaler.BindPlaced(facts.snapshot, facts.pending, plan)
	// A simulation applies nothing, but skips scale-down as the cycle that
	// applied its plan would.
	scaledUp := len(cyc.Applied) > 0 || (a.sim != nil && len(plan.Increases) > 0)
	skip := autoscaler.ScaleDownSkip(scaledUp, onUpcoming)
	cyc.ScaleDown, cyc.ScaleDownPlan = a.runScaleDown(ctx, groups, gf, sdFacts, skip)
	a.phase("scale-down")
	a.report(ctx, groups, gf, facts, plan, &health, &cyc)
	if t := plan.Truncated; t != nil {
		a.truncated(t, len(plan.Deferred))
	}
	a.phase("report")
	return cyc, nil
}

// scaleUp plans and applies the cycle's scale-up, planning again (up to
// maxReplans times) when a group refuses to grow.
func (a *Autoscaler) scaleUp(ctx context.Context, groups []cloud.NodeGroup, gf groupFacts, facts clusterFacts, start time.Time, cyc *Cycle) autoscaler.Plan {
	in := a.scaleUpInput(ctx, groups, gf, facts)
	var plan autoscaler.Plan
	for attempt := 0; ; attempt++ {
		in.Now = a.d.Clock.Now()
		in.Backoff = a.backoffs.Active(in.Now)
		in.Budget = autoscaler.Budget{Deadline: in.Now.Add(a.o.MaxPlanningDuration), Now: a.d.Clock.Now, MaxNodes: a.o.MaxNodesPerScaleUp}
		plan = autoscaler.PlanScaleUp(in)
		if attempt == 0 {
			a.d.Metrics.CycleDuration.Observe(a.d.Clock.Since(start).Seconds())
		}
		failed := a.apply(ctx, groups, plan, cyc)
		// A truncated plan is not planned again: the next cycle goes on.
		if !failed || attempt == maxReplans || plan.Truncated != nil {
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
	return plan
}

// scaleUpInput is the scale-up input of the cycle, but for the times
// and the backoffs (set at each attempt).
func (a *Autoscaler) scaleUpInput(ctx context.Context, groups []cloud.NodeGroup, gf groupFacts, facts clusterFacts) autoscaler.Input {
	return autoscaler.Input{
		Snapshot: facts.snapshot, Pending: facts.pending, Groups: groups, Upcoming: gf.upcoming(groups),
		DaemonSets: facts.daemonSets, Limits: a.o.Limits, Expanders: a.expanders(ctx), BalanceSimilarNodeGroups: a.o.BalanceSimilarNodeGroups,
	}
}

// phase says the cycle's phase named ended, to the phase hook of
// benchmarks (onPhase, nil otherwise).
func (a *Autoscaler) phase(name string) {
	if a.onPhase != nil {
		a.onPhase(name)
	}
}

// truncated counts and logs a plan stopped by its budget, and asks for the
// next cycle at once (past the batch wait) to plan the pods deferred.
func (a *Autoscaler) truncated(t *autoscaler.Truncation, deferred int) {
	a.d.Metrics.PlanTruncated.WithLabelValues(string(t.Budget)).Inc()
	a.d.Logger.Warn("scale-up plan truncated by its budget: applied what was planned, the next cycle plans the rest",
		"budget", t.Budget, "reason", t.Reason, "rounds", t.Rounds, "deferredPods", deferred,
		"maxPlanningDuration", a.o.MaxPlanningDuration, "maxNodesPerScaleUp", a.o.MaxNodesPerScaleUp)
	select {
	case a.trigger <- struct{}{}:
	default:
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
		a.raisedOver[id] = failedLaunchIDs(g)
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
		cm, name, err := a.priorityConfigMap(ctx)
		switch {
		case apierrors.IsNotFound(err):
			a.d.Logger.Warn("priority expander has no configmap: all pools rank equal", "configmap", a.o.PriorityConfigMap)
		case err != nil:
			a.d.Logger.Error("read priority expander configmap", "configmap", name, "err", err)
		default:
			p, err := autoscaler.ParsePriorities(cm.Data[PriorityKey])
			if err != nil {
				if a.sim == nil && a.events.first("configmap/"+name, err.Error(), a.d.Clock.Now()) {
					a.d.Recorder.Event(cm, corev1.EventTypeWarning, "InvalidPriorities", err.Error())
				}
				a.d.Logger.Error("priority expander configmap is invalid: all pools rank equal", "configmap", name, "err", err)
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

// failedLaunchIDs returns the activity IDs of the failed launches g
// reports, nil when there are none.
func failedLaunchIDs(g cloud.NodeGroup) map[string]bool {
	var out map[string]bool
	for _, e := range g.Errors {
		if e.ActivityID == "" {
			continue
		}
		if out == nil {
			out = map[string]bool{}
		}
		out[e.ActivityID] = true
	}
	return out
}
