package localcloud

import (
	"fmt"
	"slices"
	"time"
)

// Instance refresh, as Auto Scaling does it with the Rolling strategy: the
// instances of a group not yet on the desired launch template are replaced
// in batches. With MaxHealthyPercentage above 100 the replacements are
// launched first (the group grows up to that share of its desired
// capacity) and the old instances leave once they are in service and warm;
// at 100 old instances leave first, as many as MinHealthyPercentage lets
// go, and the group launches their replacements. Old instances leave
// through leave(), so the terminating hooks hold them, and the next batch
// waits for them to be terminated. The refresh lives in its group (it is
// persisted with it) and advances from the reconcile loop; at its end a
// DesiredConfiguration becomes the group's launch template. refresh_api.go
// is the API.

// Instance refresh statuses, as AWS spells them.
const (
	refreshPending    = "Pending"
	refreshInProgress = "InProgress"
	refreshSuccessful = "Successful"
	refreshFailed     = "Failed"
	refreshCancelling = "Cancelling"
	refreshCancelled  = "Cancelled"
)

// refreshPreferences are a refresh's Preferences, defaulted.
type refreshPreferences struct {
	MinHealthyPercentage  int
	MaxHealthyPercentage  int
	InstanceWarmup        *int  `json:",omitempty"` // seconds; nil: the group's health check grace period
	CheckpointPercentages []int `json:",omitempty"` // stored, not acted on
	CheckpointDelay       *int  `json:",omitempty"`
	SkipMatching          bool
}

// instanceRefresh is one instance refresh of a group.
type instanceRefresh struct {
	ID, Status    string
	StatusReason  string `json:",omitempty"`
	Start, End    time.Time
	Prefs         refreshPreferences
	Desired       *templateSpec `json:",omitempty"` // DesiredConfiguration.LaunchTemplate, as given
	Target        templateSpec  // the template and resolved version replacements launch from
	ToReplace     []string      // instance ids, fixed at the start
	InstancesLeft int           // of ToReplace, not yet terminated (as last advanced)
}

// active reports whether the refresh has not ended.
func (r *instanceRefresh) active() bool {
	return r.Status == refreshPending || r.Status == refreshInProgress || r.Status == refreshCancelling
}

// percentage is PercentageComplete.
func (r *instanceRefresh) percentage() int {
	switch {
	case r.Status == refreshSuccessful:
		return 100
	case len(r.ToReplace) == 0:
		return 0
	}
	return (len(r.ToReplace) - r.InstancesLeft) * 100 / len(r.ToReplace)
}

// activeRefresh returns the group's refresh that has not ended, or nil.
func (g *group) activeRefresh() *instanceRefresh {
	for i := range g.Refreshes {
		if g.Refreshes[i].active() {
			return &g.Refreshes[i]
		}
	}
	return nil
}

// bounds returns the fewest healthy instances and the most active ones a
// refresh of g allows: MinHealthyPercentage of the desired capacity rounded
// up, MaxHealthyPercentage rounded down but at least one above it when
// above 100.
func (p refreshPreferences) bounds(desired int) (minHealthy, maxActive int) {
	minHealthy = (desired*p.MinHealthyPercentage + 99) / 100
	maxActive = desired * p.MaxHealthyPercentage / 100
	if p.MaxHealthyPercentage > 100 && maxActive == desired && desired > 0 {
		maxActive++
	}
	return minHealthy, max(maxActive, desired)
}

// refreshView is a group's instances as its refresh sees them.
type refreshView struct {
	old     []*instance // active instances still to replace
	leaving int         // instances to replace on their way out
	healthy int         // active instances in service and warm
	fresh   int         // active instances not to replace
}

// refreshView sorts g's instances for r at now and arms the timer of the
// next warm-up's end. c.mu must be held.
func (c *Cloud) refreshView(g *group, r *instanceRefresh, now time.Time) refreshView {
	warmup := time.Duration(g.HealthCheckGracePeriod) * time.Second
	if r.Prefs.InstanceWarmup != nil {
		warmup = time.Duration(*r.Prefs.InstanceWarmup) * time.Second
	}
	c.armWarmup(g, warmup, now)
	var v refreshView
	for _, inst := range c.groupInstances(g.Name) {
		replace := slices.Contains(r.ToReplace, inst.ID)
		switch {
		case !inst.State.active():
			if replace {
				v.leaving++
			}
			continue
		case replace:
			v.old = append(v.old, inst)
		default:
			v.fresh++
		}
		if inst.State == stateInService && !now.Before(inst.StateTime.Add(warmup)) {
			v.healthy++
		}
	}
	return v
}

// refreshCapacity returns the number of active instances g aims at while
// r runs, the group as it launches (from the refresh's template) and the
// cause of those launches. c.mu must be held.
func (c *Cloud) refreshCapacity(g *group, r *instanceRefresh, active []*instance, now time.Time) (int, *group, string) {
	launchAs := g.clone()
	launchAs.Cause = ""
	spec := r.Target
	if g.Mixed != nil {
		launchAs.Mixed.Template = spec
	} else {
		launchAs.Template = &spec
	}
	cause := fmt.Sprintf("At %s an instance was launched in response to an instance refresh (%s), increasing the capacity "+
		"from %d.", causeTime(now), r.ID, len(active))
	if r.Status == refreshCancelling {
		return g.Desired, launchAs, cause
	}
	_, maxActive := r.Prefs.bounds(g.Desired)
	v := c.refreshView(g, r, now)
	return g.Desired + min(len(v.old), maxActive-g.Desired), launchAs, cause
}

// advanceRefresh moves g's active refresh on: it starts, ends, or sends
// the next batch of old instances out of the group. c.mu must be held.
func (c *Cloud) advanceRefresh(g *group, now time.Time) {
	r := g.activeRefresh()
	if r == nil {
		return
	}
	v := c.refreshView(g, r, now)
	next := *r
	next.InstancesLeft = len(v.old) + v.leaving
	ng := g.clone()
	ch := &changes{}
	var outs []outcome
	switch {
	case !c.targetExists(r.Target):
		next.Status, next.End = refreshFailed, now
		next.StatusReason = fmt.Sprintf("Launch template %s version %s, which the instance refresh launches from, no longer exists.",
			r.Target.ID, r.Target.Version)
	case r.Status == refreshCancelling:
		if v.leaving == 0 {
			next.Status, next.StatusReason, next.End = refreshCancelled, "The instance refresh was cancelled.", now
		}
	case len(v.old) == 0 && v.leaving == 0 && v.healthy == g.Desired && v.fresh == g.Desired:
		next.Status, next.End, next.StatusReason = refreshSuccessful, now, ""
		if r.Desired != nil {
			ng.Template, ng.Mixed = refreshedTemplate(ng, *r.Desired)
		}
	default:
		next.Status = refreshInProgress
		if v.leaving == 0 {
			var err error
			outs, err = c.refreshBatch(ch, g, r, v, now)
			if err != nil {
				c.log.Error("instance refresh", "group", g.Name, "refresh", r.ID, "error", err)
				return
			}
		}
	}
	if next.Status == r.Status && next.InstancesLeft == r.InstancesLeft && len(outs) == 0 {
		return
	}
	ng.Refreshes[slices.IndexFunc(ng.Refreshes, func(x instanceRefresh) bool { return x.ID == r.ID })] = next
	ch.putGroup(ng)
	if err := c.commit(ch); err != nil {
		c.log.Error("instance refresh: commit", "group", g.Name, "error", err)
		return
	}
	if next.Status != r.Status {
		c.log.Info("instance refresh", "group", g.Name, "refresh", r.ID, "status", next.Status)
	}
	c.follow(outs)
	if !next.active() {
		c.trigger()
	}
}

// refreshedTemplate returns g's launch template and mixed policy with the
// refresh's desired template in place.
func refreshedTemplate(g *group, spec templateSpec) (*templateSpec, *mixedPolicy) {
	if g.Mixed != nil {
		m := *g.Mixed
		m.Template = spec
		return nil, &m
	}
	return &spec, nil
}

// refreshBatch sends the next batch of old instances out of g through its
// terminating hooks, in ch: as many as keep MinHealthyPercentage of the
// desired capacity healthy, at least one when every active instance is
// healthy. c.mu must be held.
func (c *Cloud) refreshBatch(ch *changes, g *group, r *instanceRefresh, v refreshView, now time.Time) ([]outcome, error) {
	minHealthy, _ := r.Prefs.bounds(g.Desired)
	n := v.healthy - minHealthy
	if n < 1 && v.healthy == len(v.old)+v.fresh && v.healthy > 0 {
		n = 1
	}
	var outs []outcome
	for _, inst := range v.old {
		if len(outs) >= n {
			break
		}
		cause := fmt.Sprintf("At %s an instance was taken out of service in response to an instance refresh (%s).  "+
			"At %s instance %s was selected for termination.", causeTime(now), r.ID, causeTime(now), inst.ID)
		out, err := c.leave(ch, g, inst, cause, "Client.UserInitiatedShutdown", now)
		if err != nil {
			return nil, fmt.Errorf("replace instance %s: %w", inst.ID, err)
		}
		outs = append(outs, out)
	}
	return outs, nil
}

// wakeRefresh runs a reconcile pass soon when the group has an active
// refresh: one of its instances changed state. c.mu must be held.
func (c *Cloud) wakeRefresh(name string) {
	if g := c.st.groups[name]; g != nil && g.activeRefresh() != nil {
		c.trigger()
	}
}

// refreshTimer is the key of the timer that wakes a group's refresh when
// its next instance is warm.
func refreshTimer(group string) string { return "refresh/" + group }

// armWarmup wakes the refresh of g when its first instance still warming
// up is warm. c.mu must be held.
func (c *Cloud) armWarmup(g *group, warmup time.Duration, now time.Time) {
	var first time.Time
	for _, inst := range c.groupInstances(g.Name) {
		warm := inst.StateTime.Add(warmup)
		if inst.State == stateInService && warm.After(now) && (first.IsZero() || warm.Before(first)) {
			first = warm
		}
	}
	if first.IsZero() {
		c.stopTimer(refreshTimer(g.Name))
		return
	}
	c.goLater(refreshTimer(g.Name), first.Sub(now), c.trigger)
}

// targetExists reports whether the template version a refresh launches
// from still exists. c.mu must be held.
func (c *Cloud) targetExists(spec templateSpec) bool {
	t, _, err := c.resolveSpec(spec)
	return err == nil && t != nil
}
