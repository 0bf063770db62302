package localcloud

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/kelp-dev/kelp/internal/catalog"
)

// Instance lifecycle: Pending --boot ok--> InService --> Terminating
// --runtime stopped--> Terminated; a failed boot goes from Pending (or, after
// a restart, InService) through Terminating to Terminated at once. The
// lifecycle hooks' wait states are hookwait.go's.

// scheduleBoot boots the instance after delay on the injected clock.
// c.mu must be held.
func (c *Cloud) scheduleBoot(id string, delay time.Duration) {
	if delay <= 0 {
		c.goLocked(func() { c.boot(id) })
		return
	}
	c.goLater(id, delay, func() { c.boot(id) })
}

// instanceInfo describes inst for the Runtime. c.mu must be held.
func (c *Cloud) instanceInfo(inst *instance) InstanceInfo {
	info := InstanceInfo{ID: inst.ID, InstanceType: inst.Type, ImageID: inst.ImageID, Region: c.region.Name,
		AvailabilityZone: inst.Zone, SubnetID: inst.SubnetID, VPCID: c.region.vpcOf(inst.SubnetID), AccountID: AccountID,
		PrivateIP: inst.PrivateIP, PrivateDNSName: inst.PrivateDNS, CapacityType: catalog.CapacityTypeOnDemand,
		GroupName: inst.Group, LaunchTime: inst.LaunchTime, Tags: map[string]string{}}
	if inst.Spot {
		info.CapacityType = catalog.CapacityTypeSpot
	}
	if z, ok := c.region.zone(inst.Zone); ok {
		info.AvailabilityZoneID = z.ID
	}
	if it, err := catalog.Lookup(inst.Type); err == nil {
		info.Architecture = string(it.Architecture)
	}
	for _, t := range inst.Tags {
		info.Tags[t.Key] = t.Value
	}
	return info
}

// boot runs the Runtime's Boot for a Pending instance (or an InService one
// after a restart) and records the outcome.
func (c *Cloud) boot(id string) {
	c.mu.Lock()
	inst := c.st.instances[id]
	if c.closed || inst == nil || !inst.State.runs() {
		c.mu.Unlock()
		return
	}
	info, ctx := c.instanceInfo(inst), c.ctx
	userData, derr := decodeUserData(inst.UserData)
	c.mu.Unlock()

	err := derr
	if err == nil {
		err = c.runtime.Boot(ctx, info, userData)
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	if ctx.Err() != nil || c.closed { // closing: the next Start boots it again
		return
	}
	inst = c.st.instances[id]
	switch {
	case inst == nil || !inst.State.runs(): // terminated while booting
		if err == nil {
			c.goLocked(func() { c.runtime.Stop(id) })
		}
	case err != nil:
		c.failBoot(inst, err)
	case inst.State == statePending:
		c.markInService(inst)
	}
}

// markInService completes a launch, or waits on the group's launching
// hooks first. c.mu must be held.
func (c *Cloud) markInService(inst *instance) {
	now := c.clock.Now().UTC()
	ch := &changes{}
	if waiting, ok := c.waitForLaunch(ch, inst, now); ok {
		if err := c.commit(ch); err != nil {
			c.log.Error("wait for launch: commit", "instance", inst.ID, "error", err)
			return
		}
		c.log.Info("instance waits on launching hooks", "instance", inst.ID, "group", inst.Group)
		c.armActions(waiting)
		return
	}
	next, err := inst.transition(stateInService, now)
	if err != nil {
		c.log.Error("mark in service", "error", err)
		return
	}
	ch.putInstance(next)
	if a := c.st.activities[inst.LaunchActivity]; a != nil && a.StatusCode == activityInProgress {
		na := *a
		na.StatusCode, na.Progress, na.End = activitySuccessful, 100, now
		ch.putActivity(&na)
	}
	if err := c.commit(ch); err != nil {
		c.log.Error("mark in service: commit", "instance", inst.ID, "error", err)
		return
	}
	c.log.Info("instance in service", "instance", inst.ID, "group", inst.Group, "dns", inst.PrivateDNS)
	c.wakeRefresh(inst.Group)
}

// failBoot terminates an instance whose Boot failed and fails its launch
// activity. The group tries again after a reconcile interval. c.mu must be
// held.
func (c *Cloud) failBoot(inst *instance, bootErr error) {
	now := c.clock.Now().UTC()
	msg := "Instance failed to boot: " + bootErr.Error()
	if inst.State == stateTerminatingWait { // after a restart: it was leaving anyway
		ch := &changes{}
		stop, err := c.proceedTermination(ch, inst, now)
		if err == nil {
			err = c.commit(ch)
		}
		if err != nil {
			c.log.Error("fail boot", "instance", inst.ID, "error", err)
			return
		}
		c.startStops([]stopRequest{stop})
		return
	}
	terminating, err := inst.transition(stateTerminating, now)
	if err != nil {
		c.log.Error("fail boot", "error", err)
		return
	}
	next, err := terminating.transition(stateTerminated, now)
	if err != nil {
		c.log.Error("fail boot", "error", err)
		return
	}
	next.StateReason, next.StateMessage = "Server.InternalError", "Server.InternalError: "+msg
	ch := &changes{}
	ch.putInstance(next)
	if a := c.st.activities[inst.LaunchActivity]; a != nil && a.open() {
		na := *a
		na.StatusCode, na.StatusMessage, na.Progress, na.End = activityFailed, msg, 100, now
		ch.putActivity(&na)
	} else {
		g := c.st.groups[inst.Group]
		a := &activity{ID: newRequestID(), Group: inst.Group, Description: "Terminating EC2 instance: " + inst.ID,
			Cause:      fmt.Sprintf("At %s instance %s failed to boot again after the local cloud restarted.", causeTime(now), inst.ID),
			StatusCode: activityFailed, StatusMessage: msg, Progress: 100, Start: now, End: now,
			Details: activityDetails(inst.Zone, inst.SubnetID)}
		if g != nil {
			a.GroupARN = g.ARN
		}
		ch.putActivity(a)
	}
	if err := c.commit(ch); err != nil {
		c.log.Error("fail boot: commit", "instance", inst.ID, "error", err)
		return
	}
	c.log.Warn("instance failed to boot", "instance", inst.ID, "group", inst.Group, "error", bootErr)
	c.retryAt[inst.Group] = now.Add(c.interval)
	id := inst.ID
	c.goLocked(func() { c.runtime.Stop(id) })
}

// stopRequest is a termination begun and not finished: the Runtime's Stop,
// then Terminated.
type stopRequest struct {
	InstanceID, ActivityID string
}

// beginTermination moves inst to Terminating with an InProgress activity,
// in ch. reason is the EC2 state reason code. c.mu must be held.
func (c *Cloud) beginTermination(ch *changes, g *group, inst *instance, cause, reason string, now time.Time) (stopRequest, error) {
	if inst == nil {
		return stopRequest{}, errors.New("begin termination: no such instance")
	}
	next, err := inst.transition(stateTerminating, now)
	if err != nil {
		return stopRequest{}, fmt.Errorf("begin termination: %w", err)
	}
	c.stopTimer(inst.ID)
	c.stopTimer(hookTimer(inst.ID))
	next.Actions = nil
	setStateReason(next, reason)
	a := &activity{ID: newRequestID(), Group: inst.Group, Description: "Terminating EC2 instance: " + inst.ID,
		Cause: cause, StatusCode: activityInProgress, Progress: 0, Start: now, Details: activityDetails(inst.Zone, inst.SubnetID)}
	if g != nil {
		a.GroupARN = g.ARN
	}
	next.TerminateActivity = a.ID
	if la := c.st.activities[inst.LaunchActivity]; la != nil && la.open() {
		nla := *la
		nla.StatusCode, nla.StatusMessage, nla.Progress, nla.End = activityCancelled, "Instance terminated before it was in service.", 100, now
		ch.putActivity(&nla)
	}
	ch.putInstance(next)
	ch.putActivity(a)
	return stopRequest{InstanceID: inst.ID, ActivityID: a.ID}, nil
}

// startStops finishes the terminations in the background. c.mu must be held.
func (c *Cloud) startStops(stops []stopRequest) {
	for _, s := range stops {
		c.goLocked(func() { c.finishTermination(s) })
	}
}

// finishTermination stops the runtime, then marks the instance Terminated.
func (c *Cloud) finishTermination(s stopRequest) {
	c.runtime.Stop(s.InstanceID)
	c.mu.Lock()
	defer c.mu.Unlock()
	inst := c.st.instances[s.InstanceID]
	if inst == nil || !inst.State.stopping() {
		return
	}
	now := c.clock.Now().UTC()
	next, err := inst.transition(stateTerminated, now)
	if err != nil {
		c.log.Error("finish termination", "error", err)
		return
	}
	ch := &changes{}
	ch.putInstance(next)
	if a := c.st.activities[s.ActivityID]; a != nil {
		na := *a
		na.StatusCode, na.Progress, na.End = activitySuccessful, 100, now
		ch.putActivity(&na)
	}
	if err := c.commit(ch); err != nil {
		c.log.Error("finish termination: commit", "instance", s.InstanceID, "error", err)
		return
	}
	c.log.Info("instance terminated", "instance", s.InstanceID, "group", inst.Group)
	c.wakeRefresh(inst.Group)
}

// rollSpotInterruptions gives each running spot instance an interruption
// notice with the configured probability. c.mu must be held.
func (c *Cloud) rollSpotInterruptions(now time.Time) {
	rate := c.faults.SpotInterruption.Rate
	if rate <= 0 {
		return
	}
	for _, id := range slices.Sorted(maps.Keys(c.st.instances)) {
		inst := c.st.instances[id]
		if inst.Spot && inst.State == stateInService && inst.InterruptAt.IsZero() && c.rnd.chance(rate) {
			if err := c.noticeSpot(inst, now); err != nil {
				c.log.Error("spot interruption notice", "instance", id, "error", err)
			}
		}
	}
}

// InterruptSpotInstance gives a running spot instance its interruption
// notice now: it terminates after the notice period (Faults
// SpotInterruption.Notice) and its group replaces it.
func (c *Cloud) InterruptSpotInstance(id string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	inst := c.st.instances[id]
	switch {
	case inst == nil:
		return fmt.Errorf("interrupt spot instance %s: no such instance", id)
	case !inst.Spot || !inst.State.runs():
		return fmt.Errorf("interrupt spot instance %s: not a running spot instance", id)
	case !inst.InterruptAt.IsZero():
		return nil
	}
	return c.noticeSpot(inst, c.clock.Now().UTC())
}

// noticeSpot records the notice and schedules the interruption; in a
// group with terminating hooks the instance starts leaving at once, into
// Terminating:Wait. c.mu must be held.
func (c *Cloud) noticeSpot(inst *instance, now time.Time) error {
	notice := c.faults.interruptionNotice()
	next := inst.clone()
	next.InterruptAt = now.Add(notice)
	ch := &changes{}
	ch.putInstance(next)
	var out outcome
	if g := c.st.groups[inst.Group]; g != nil && len(g.hooksOf(transitionTerminating)) > 0 && next.State.active() {
		cause := fmt.Sprintf("At %s an instance was taken out of service in response to an EC2 Spot Instance interruption notice.",
			causeTime(now))
		var err error
		if out, err = c.leave(ch, g, next, cause, "Server.SpotInstanceTermination", now); err != nil {
			return fmt.Errorf("notice spot interruption of %s: %w", inst.ID, err)
		}
	}
	if err := c.commit(ch); err != nil {
		return fmt.Errorf("notice spot interruption of %s: %w", inst.ID, err)
	}
	id, at := inst.ID, next.InterruptAt
	c.goLater(id, notice, func() { c.interrupt(id) })
	if out.wait != nil {
		c.follow([]outcome{out})
	}
	if n, ok := c.runtime.(SpotInterruptionNotifier); ok {
		c.goLocked(func() { n.NotifySpotInterruption(id, at) })
	}
	c.log.Info("spot interruption notice", "instance", id, "terminateAt", at)
	return nil
}

// interrupt terminates a spot instance whose notice ran out, whatever its
// lifecycle hooks say.
func (c *Cloud) interrupt(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	inst := c.st.instances[id]
	if inst == nil || !inst.State.runs() {
		return
	}
	now := c.clock.Now().UTC()
	cause := fmt.Sprintf("At %s an instance was taken out of service in response to an EC2 Spot Instance interruption notice.", causeTime(now))
	ch := &changes{}
	stop, err := c.terminateNow(ch, c.st.groups[inst.Group], inst, cause, "Server.SpotInstanceTermination", now)
	if err != nil || stop == nil {
		c.log.Error("spot interruption", "instance", id, "error", err)
		return
	}
	if err := c.commit(ch); err != nil {
		c.log.Error("spot interruption: commit", "instance", id, "error", err)
		return
	}
	c.log.Info("spot instance interrupted", "instance", id, "group", inst.Group)
	c.startStops([]stopRequest{*stop})
	c.trigger()
}

// resumeLocked picks up where the last run stopped: boots Pending and
// running instances (InService, or waiting on lifecycle hooks) again under
// their ids, re-arms spot notices and lifecycle action timeouts and
// finishes terminations. c.mu must be held.
func (c *Cloud) resumeLocked() {
	now := c.clock.Now().UTC()
	for _, id := range slices.Sorted(maps.Keys(c.st.instances)) {
		inst := c.st.instances[id]
		switch {
		case inst.Group == "" && inst.State.active(): // RunInstance's: never booted
		case inst.State == statePending:
			c.scheduleBoot(id, c.faults.bootDelay(c.rnd))
		case inst.State.runs():
			c.goLocked(func() { c.boot(id) })
			if !inst.InterruptAt.IsZero() {
				c.goLater(id, max(0, inst.InterruptAt.Sub(now)), func() { c.interrupt(id) })
			}
			c.armActions(inst)
		case inst.State.stopping():
			c.startStops([]stopRequest{{InstanceID: id, ActivityID: inst.TerminateActivity}})
		}
	}
}
