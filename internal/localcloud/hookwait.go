package localcloud

import (
	"fmt"
	"slices"
	"time"
)

// An instance that leaves its group by scale-in, by
// TerminateInstanceInAutoScalingGroup or by a spot interruption notice goes
// through the group's terminating hooks: InService -> Terminating:Wait
// (its runtime keeps running) -> Terminating:Proceed once every action is
// completed, abandoned or timed out -> Terminated. A launched instance
// goes through the launching hooks: Pending -> Pending:Wait ->
// Pending:Proceed -> InService, or, abandoned, Terminating -> Terminated.
// EC2 TerminateInstances, a failed boot and a force delete skip the hooks;
// a spot interruption terminates at its deadline whatever they say.

// lifecycleAction is one hook's action on a waiting instance.
type lifecycleAction struct {
	Hook, Token, DefaultResult string
	HeartbeatTimeout           int       // seconds
	Deadline                   time.Time // heartbeat deadline; heartbeats push it back
	GlobalDeadline             time.Time // the longest the instance may wait on the hook
}

// expiry is when the action times out.
func (a lifecycleAction) expiry() time.Time {
	if a.GlobalDeadline.Before(a.Deadline) {
		return a.GlobalDeadline
	}
	return a.Deadline
}

// newActions starts an action for each hook.
func newActions(hooks []lifecycleHook, now time.Time) []lifecycleAction {
	var out []lifecycleAction
	for _, h := range hooks {
		out = append(out, lifecycleAction{Hook: h.Name, Token: newRequestID(), DefaultResult: h.DefaultResult,
			HeartbeatTimeout: h.HeartbeatTimeout, Deadline: now.Add(time.Duration(h.HeartbeatTimeout) * time.Second),
			GlobalDeadline: now.Add(time.Duration(h.globalTimeout()) * time.Second)})
	}
	return out
}

// outcome is what a change to an instance leaves to do once committed:
// stop its runtime, or arm the timer of the actions it waits on.
type outcome struct {
	stop *stopRequest
	wait *instance
}

// follow does what the outcomes leave to do. c.mu must be held and the
// changes committed.
func (c *Cloud) follow(outs []outcome) {
	for _, o := range outs {
		if o.stop != nil {
			c.startStops([]stopRequest{*o.stop})
		}
		if o.wait != nil {
			c.armActions(o.wait)
		}
	}
	if len(outs) > 0 {
		c.trigger()
	}
}

// hookTimer is the key of an instance's lifecycle action timer.
func hookTimer(id string) string { return id + "/hook" }

// stopTimer cancels the timer of key. c.mu must be held.
func (c *Cloud) stopTimer(key string) {
	if t, ok := c.timers[key]; ok {
		t.Stop()
		delete(c.timers, key)
	}
}

// leave takes inst out of g, in ch: through g's terminating hooks into
// Terminating:Wait when it has any, else straight to Terminating. reason is
// the EC2 state reason code the instance terminates with. c.mu must be held.
func (c *Cloud) leave(ch *changes, g *group, inst *instance, cause, reason string, now time.Time) (outcome, error) {
	var hooks []lifecycleHook
	if g != nil {
		hooks = g.hooksOf(transitionTerminating)
	}
	if len(hooks) == 0 {
		stop, err := c.beginTermination(ch, g, inst, cause, reason, now)
		return outcome{stop: &stop}, err
	}
	next, err := inst.transition(stateTerminatingWait, now)
	if err != nil {
		return outcome{}, fmt.Errorf("leave group: %w", err)
	}
	if inst.InterruptAt.IsZero() { // a boot not begun never will: the spot deadline stays
		c.stopTimer(inst.ID)
	}
	c.stopTimer(hookTimer(inst.ID))
	next.StateReason, next.StateMessage = "", ""
	next.TerminateReason = reason
	next.Actions = newActions(hooks, now)
	a := &activity{ID: newRequestID(), Group: inst.Group, GroupARN: g.ARN, Description: "Terminating EC2 instance: " + inst.ID,
		Cause: cause, StatusCode: activityMidLifecycle, Start: now, Details: activityDetails(inst.Zone, inst.SubnetID)}
	next.TerminateActivity = a.ID
	if la := c.st.activities[inst.LaunchActivity]; la != nil && la.open() {
		nla := *la
		nla.StatusCode, nla.StatusMessage, nla.Progress, nla.End = activityCancelled, "Instance terminated before it was in service.", 100, now
		ch.putActivity(&nla)
	}
	ch.putInstance(next)
	ch.putActivity(a)
	return outcome{wait: next}, nil
}

// terminateNow terminates inst at once, skipping any hooks, in ch: an
// instance in Terminating:Wait proceeds, a running one begins terminating.
// It returns nil for an instance already on its way. c.mu must be held.
func (c *Cloud) terminateNow(ch *changes, g *group, inst *instance, cause, reason string, now time.Time) (*stopRequest, error) {
	switch {
	case inst.State == stateTerminatingWait:
		stop, err := c.proceedTermination(ch, inst, now)
		return &stop, err
	case inst.State.active():
		stop, err := c.beginTermination(ch, g, inst, cause, reason, now)
		return &stop, err
	}
	return nil, nil
}

// proceedTermination moves inst from Terminating:Wait to
// Terminating:Proceed, in ch: its runtime stops next. c.mu must be held.
func (c *Cloud) proceedTermination(ch *changes, inst *instance, now time.Time) (stopRequest, error) {
	next, err := inst.transition(stateTerminatingProceed, now)
	if err != nil {
		return stopRequest{}, fmt.Errorf("proceed termination: %w", err)
	}
	c.stopTimer(hookTimer(inst.ID))
	next.Actions = nil
	setStateReason(next, next.TerminateReason)
	if a := c.st.activities[inst.TerminateActivity]; a != nil && a.open() {
		na := *a
		na.StatusCode, na.Progress = activityInProgress, 50
		ch.putActivity(&na)
	}
	ch.putInstance(next)
	return stopRequest{InstanceID: inst.ID, ActivityID: inst.TerminateActivity}, nil
}

// completeAction ends the actions of inst that match (all of them on
// ABANDON), in ch. When none is left the instance proceeds: a terminating
// one to Terminating:Proceed whatever the result, a launching one to
// InService on CONTINUE or to Terminating on ABANDON. c.mu must be held.
func (c *Cloud) completeAction(ch *changes, g *group, inst *instance, match func(lifecycleAction) bool, result string,
	now time.Time) outcome {
	next := inst.clone()
	next.Actions = slices.DeleteFunc(next.Actions, match)
	if result != resultAbandon && len(next.Actions) > 0 {
		ch.putInstance(next)
		return outcome{wait: next}
	}
	next.Actions = nil
	switch {
	case inst.State == stateTerminatingWait:
		stop, err := c.proceedTermination(ch, next, now)
		if err != nil {
			c.log.Error("complete lifecycle action", "error", err)
			return outcome{}
		}
		return outcome{stop: &stop}
	case result == resultContinue:
		c.completeLaunch(ch, next, now)
		return outcome{}
	}
	return c.abandonLaunch(ch, g, next, now)
}

// completeLaunch moves inst from Pending:Wait through Pending:Proceed to
// InService and ends its launch activity, in ch. c.mu must be held.
func (c *Cloud) completeLaunch(ch *changes, inst *instance, now time.Time) {
	c.stopTimer(hookTimer(inst.ID))
	proceed, err := inst.transition(statePendingProceed, now)
	if err == nil {
		inst, err = proceed.transition(stateInService, now)
	}
	if err != nil {
		c.log.Error("complete launch", "error", err)
		return
	}
	ch.putInstance(inst)
	if a := c.st.activities[inst.LaunchActivity]; a != nil && a.open() {
		na := *a
		na.StatusCode, na.Progress, na.End = activitySuccessful, 100, now
		ch.putActivity(&na)
	}
	c.log.Info("instance in service", "instance", inst.ID, "group", inst.Group, "dns", inst.PrivateDNS)
}

// abandonLaunch terminates an instance whose launch was abandoned and
// fails its launch activity, in ch. c.mu must be held.
func (c *Cloud) abandonLaunch(ch *changes, g *group, inst *instance, now time.Time) outcome {
	c.stopTimer(hookTimer(inst.ID))
	cause := fmt.Sprintf("At %s instance %s was taken out of service: its launch lifecycle action was abandoned.", causeTime(now), inst.ID)
	stop, err := c.beginTermination(ch, g, inst, cause, "Client.UserInitiatedShutdown", now)
	if err != nil {
		c.log.Error("abandon launch", "error", err)
		return outcome{}
	}
	if a := c.st.activities[inst.LaunchActivity]; a != nil && a.open() {
		na := *a
		na.StatusCode, na.Progress, na.End = activityFailed, 100, now
		na.StatusMessage = "Instance failed to complete user's Lifecycle Action: Lifecycle Action Completed with ABANDON Result"
		ch.putActivity(&na)
	}
	return outcome{stop: &stop}
}

// armActions (re)arms the timer of the earliest action inst waits on.
// c.mu must be held.
func (c *Cloud) armActions(inst *instance) {
	if !inst.State.waiting() || len(inst.Actions) == 0 {
		return
	}
	first := slices.MinFunc(inst.Actions, func(a, b lifecycleAction) int { return a.expiry().Compare(b.expiry()) }).expiry()
	id := inst.ID
	c.goLater(hookTimer(id), first.Sub(c.clock.Now()), func() { c.expireActions(id) })
}

// expireActions applies the default result of the actions of an instance
// that timed out: ABANDON if any of them says so, else CONTINUE.
func (c *Cloud) expireActions(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	inst := c.st.instances[id]
	if c.closed || inst == nil || !inst.State.waiting() {
		return
	}
	now := c.clock.Now().UTC()
	expired := func(a lifecycleAction) bool { return !a.expiry().After(now) }
	if !slices.ContainsFunc(inst.Actions, expired) {
		c.armActions(inst) // a heartbeat pushed the deadline back
		return
	}
	result := resultContinue
	for _, a := range inst.Actions {
		if expired(a) && a.DefaultResult == resultAbandon {
			result = resultAbandon
		}
	}
	ch := &changes{}
	out := c.completeAction(ch, c.st.groups[inst.Group], inst, expired, result, now)
	if err := c.commit(ch); err != nil {
		c.log.Error("lifecycle action timeout: commit", "instance", id, "error", err)
		return
	}
	c.log.Info("lifecycle action timed out", "instance", id, "group", inst.Group, "result", result)
	c.follow([]outcome{out})
}

// waitForLaunch puts a booted instance of a group with launching hooks in
// Pending:Wait, in ch; ok is false when the group has none. c.mu must be
// held.
func (c *Cloud) waitForLaunch(ch *changes, inst *instance, now time.Time) (*instance, bool) {
	g := c.st.groups[inst.Group]
	if g == nil || len(g.hooksOf(transitionLaunching)) == 0 {
		return nil, false
	}
	next, err := inst.transition(statePendingWait, now)
	if err != nil {
		c.log.Error("wait for launch", "error", err)
		return nil, false
	}
	next.Actions = newActions(g.hooksOf(transitionLaunching), now)
	ch.putInstance(next)
	if a := c.st.activities[inst.LaunchActivity]; a != nil && a.open() {
		na := *a
		na.StatusCode, na.Progress = activityMidLifecycle, 50
		ch.putActivity(&na)
	}
	return next, true
}

// setStateReason sets the EC2 state reason of an instance that terminates.
func setStateReason(inst *instance, reason string) {
	inst.StateReason = reason
	inst.StateMessage = reason + ": " + map[string]string{
		"Client.UserInitiatedShutdown":   "User initiated shutdown",
		"Server.SpotInstanceTermination": "Spot instance termination",
	}[reason]
}
