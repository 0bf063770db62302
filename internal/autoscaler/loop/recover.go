package loop

import (
	"context"
	"slices"

	"github.com/kelp-dev/kelp/internal/autoscaler"
	"github.com/kelp-dev/kelp/internal/cloud"
)

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
