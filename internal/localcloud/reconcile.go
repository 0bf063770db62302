package localcloud

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"
)

// loop runs reconcile passes: at once, on every trigger and at every tick
// of the injected clock. Ticks also give spot interruption notices and
// forget old terminated instances.
func (c *Cloud) loop() {
	ticker := c.clock.NewTicker(c.interval)
	defer ticker.Stop()
	c.reconcile(false)
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-c.kick:
			c.reconcile(false)
		case <-ticker.C():
			c.reconcile(true)
		}
	}
}

func (c *Cloud) reconcile(tick bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	now := c.clock.Now().UTC()
	if tick {
		c.rollSpotInterruptions(now)
		c.collectGarbage(now)
	}
	for _, name := range slices.Sorted(maps.Keys(c.st.groups)) {
		c.advanceRefresh(c.st.groups[name], now)
		c.reconcileGroup(c.st.groups[name], now)
	}
}

// reconcileGroup launches or terminates instances toward the desired
// capacity. c.mu must be held.
func (c *Cloud) reconcileGroup(g *group, now time.Time) {
	var active []*instance
	for _, inst := range c.groupInstances(g.Name) {
		if inst.State.active() {
			active = append(active, inst)
		}
	}
	target, launchAs, cause := g.Desired, g, ""
	if r := g.activeRefresh(); r != nil {
		target, launchAs, cause = c.refreshCapacity(g, r, active, now)
	}
	switch {
	case len(active) < target:
		if now.Before(c.retryAt[g.Name]) {
			return
		}
		delete(c.retryAt, g.Name)
		if cause == "" {
			cause = groupCause(g, fmt.Sprintf("At %s an instance was started in response to a difference between desired and actual "+
				"capacity, increasing the capacity from %d to %d.", causeTime(now), len(active), target))
		}
		c.scaleOut(launchAs, active, target-len(active), cause, now)
	case len(active) > target:
		c.scaleIn(g, active, len(active)-target, now)
	}
}

// groupInstances returns the group's instances that are not terminated,
// oldest first. c.mu must be held.
func (c *Cloud) groupInstances(name string) []*instance {
	var out []*instance
	for _, inst := range c.st.instances {
		if inst.Group == name && inst.State != stateTerminated {
			out = append(out, inst)
		}
	}
	slices.SortFunc(out, func(a, b *instance) int {
		return cmp.Or(a.LaunchTime.Compare(b.LaunchTime), cmp.Compare(a.ID, b.ID))
	})
	return out
}

// groupCause returns the pending user cause of g followed by what the
// reconcile loop does about it.
func groupCause(g *group, what string) string {
	if g.Cause == "" {
		return what
	}
	return g.Cause + "  " + what
}

// scaleOut launches n instances into g (the group as it launches: an
// instance refresh gives its own template), with cause. Failed launches are
// recorded as Failed activities and delay the next attempt by one reconcile
// interval. c.mu must be held.
func (c *Cloud) scaleOut(g *group, active []*instance, n int, cause string, now time.Time) {
	ls := c.newLaunchState(g, active)
	ch := &changes{}
	m := meta{IPCursor: maps.Clone(c.st.meta.IPCursor)}
	ch.meta = &m
	spotFlags := c.capacityTypes(g, ls, n)
	var launched []*instance
	failed := false
	for _, spot := range spotFlags {
		inst, fails := c.launchOne(ch, g, ls, spot, cause, now)
		failed = failed || fails > 0
		if inst == nil {
			break
		}
		launched = append(launched, inst)
		ls.add(inst)
	}
	if stored := c.st.groups[g.Name]; len(launched) > 0 && stored.Cause != "" {
		ng := stored.clone()
		ng.Cause = ""
		ch.putGroup(ng)
	}
	if err := c.commit(ch); err != nil {
		c.log.Error("scale out: commit", "group", g.Name, "error", err)
		return
	}
	if failed {
		c.retryAt[g.Name] = now.Add(c.interval)
	}
	for _, inst := range launched {
		c.log.Info("instance launched", "instance", inst.ID, "group", g.Name, "type", inst.Type, "zone", inst.Zone,
			"spot", inst.Spot, "ip", inst.PrivateIP)
		c.scheduleBoot(inst.ID, c.faults.bootDelay(c.rnd))
	}
}

// capacityTypes returns, for each of n launches, whether it is spot:
// on-demand first, as the distribution splits them, or the template's
// market type for a group without MixedInstancesPolicy.
func (c *Cloud) capacityTypes(g *group, ls *launchState, n int) []bool {
	out := make([]bool, n)
	if g.Mixed == nil {
		spot := false
		if t, v, err := c.resolveSpec(*g.Template); err == nil && t != nil {
			spot = v.Data.spot()
		}
		for i := range out {
			out[i] = spot
		}
		return out
	}
	od, _ := splitLaunches(g.Mixed.Distribution, ls.onDemand, ls.spot, n)
	for i := od; i < n; i++ {
		out[i] = true
	}
	return out
}

// scaleIn takes n of the active instances out of g, chosen by its
// termination policies, through its terminating hooks. c.mu must be held.
func (c *Cloud) scaleIn(g *group, active []*instance, n int, now time.Time) {
	var vs []victim
	onDemand, spot := 0, 0
	current := c.currentTemplate(g)
	for _, inst := range active {
		version, _ := strconv.ParseInt(inst.Template.Version, 10, 64)
		vs = append(vs, victim{ID: inst.ID, Zone: inst.Zone, Spot: inst.Spot, Protected: inst.ProtectedFromScaleIn,
			Current: inst.Template == current, Version: version, LaunchTime: inst.LaunchTime})
		if inst.Spot {
			spot++
		} else {
			onDemand++
		}
	}
	rule := scaleInRule{Zones: g.Zones, Policies: g.TerminationPolicies, Now: now}
	if g.Mixed != nil {
		target := onDemandTarget(g.Mixed.Distribution, g.Desired)
		rule.ExcessOnDemand, rule.ExcessSpot = max(0, onDemand-target), max(0, spot-(g.Desired-target))
	}
	ids := chooseVictims(vs, n, rule)
	ch := &changes{}
	var outs []outcome
	for _, id := range ids {
		cause := groupCause(g, fmt.Sprintf("At %s an instance was taken out of service in response to a difference between "+
			"desired and actual capacity, shrinking the capacity from %d to %d.  At %s instance %s was selected for termination.",
			causeTime(now), len(active), len(active)-len(ids), causeTime(now), id))
		out, err := c.leave(ch, g, c.st.instances[id], cause, "Client.UserInitiatedShutdown", now)
		if err != nil {
			c.log.Error("scale in", "group", g.Name, "error", err)
			return
		}
		outs = append(outs, out)
	}
	if g.Cause != "" && len(ids) > 0 {
		ng := g.clone()
		ng.Cause = ""
		ch.putGroup(ng)
	}
	if err := c.commit(ch); err != nil {
		c.log.Error("scale in: commit", "group", g.Name, "error", err)
		return
	}
	c.log.Info("scaling in", "group", g.Name, "terminating", ids)
	c.follow(outs)
}

// currentTemplate returns the template and resolved version g launches
// from now ({} when it no longer exists). c.mu must be held.
func (c *Cloud) currentTemplate(g *group) templateSpec {
	t, v, err := c.resolveSpec(g.baseTemplate())
	if err != nil || t == nil {
		return templateSpec{}
	}
	return templateSpec{ID: t.ID, Name: t.Name, Version: fmt.Sprint(v.Number)}
}

// collectGarbage forgets instances terminated longer ago than the
// retention, and the oldest activities of groups above the cap. c.mu must
// be held.
func (c *Cloud) collectGarbage(now time.Time) {
	ch := &changes{}
	for id, inst := range c.st.instances {
		if inst.State == stateTerminated && now.Sub(inst.StateTime) > c.retention {
			ch.deleteInstance(id)
		}
	}
	byGroup := map[string][]*activity{}
	for _, a := range c.st.activities {
		byGroup[a.Group] = append(byGroup[a.Group], a)
	}
	for _, acts := range byGroup {
		if len(acts) <= maxActivitiesPerGroup {
			continue
		}
		slices.SortFunc(acts, func(a, b *activity) int { return cmp.Compare(activityKey(a), activityKey(b)) })
		for _, a := range acts[maxActivitiesPerGroup:] {
			ch.deleteActivity(a.ID)
		}
	}
	if err := c.commit(ch); err != nil {
		c.log.Error("collect garbage", "error", err)
	}
}
