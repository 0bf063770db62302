package termination

import (
	"fmt"
	"time"
)

// Plan is what to do for one departing instance now, in this order:
// Cordon, Evict, Heartbeat, Complete, DeleteNode.
type Plan struct {
	// Cordon: mark the Node unschedulable and taint it.
	Cordon bool
	// CordonOnly: the drain has not begun (a warning that only cordons,
	// see Decide); the caller must not stamp the drain's start on the Node.
	CordonOnly bool
	// Evict: evict every pod left, through the Eviction API (PDBs hold),
	// each with a grace period of at most EvictGrace.
	Evict      bool
	EvictGrace time.Duration
	// Heartbeat: extend the held lifecycle action.
	Heartbeat bool
	// Complete: complete the lifecycle action with CONTINUE.
	Complete bool
	// DeleteNode: delete the Node; its instance goes now.
	DeleteNode bool
	// Done: nothing more to do for this departure.
	Done bool
	// GaveUp: the drain ended at its bound with pods left: a Warning.
	GaveUp bool
	// Reason is a CamelCase reason for the Node's Event and the metrics;
	// Message says why the node goes and how far the drain is.
	Reason, Message string
	// RetryAfter is when to decide again, unless Done.
	RetryAfter time.Duration
}

// Reasons of a Plan.
const (
	ReasonDraining        = "Draining"
	ReasonDrained         = "Drained"
	ReasonDrainedWaiting  = "DrainedAwaitingTermination"
	ReasonDrainTimedOut   = "DrainTimedOut"
	ReasonCordoned        = "Cordoned"
	ReasonNoNode          = "NoNode"
	defaultRetry          = 5 * time.Second
	minRetry              = time.Second
	completeResultMessage = "lifecycle action completed with CONTINUE"
)

// Decide returns what to do now for the departing instance of f. It is
// pure: the same facts always give the same Plan.
//
// An instance whose group holds it on kelp's hook is drained, then let go
// (the action completed with CONTINUE, the Node deleted). A drain ends at
// its bound, the earlier of MaxGracefulTermination after it began and
// DeadlineMargin before a hard deadline: then the instance is let go with
// the pods left (GaveUp), each eviction's grace period capped to what is
// left of the bound.
//
// A warning no hook holds (yet) follows the policy of its cause:
//
//   - a spot interruption is drained at once against its deadline and left
//     to EC2 to take (the node stays cordoned);
//   - a rebalance recommendation only cordons the Node (CordonOnly, Done):
//     no new pods land on it, and its pods stay until the group (capacity
//     rebalancing, through the hook) or EC2 (an interruption notice) acts,
//     as aws-node-termination-handler does by default;
//   - a scheduled change cordons the Node at once and drains it from
//     MaxGracefulTermination + DeadlineMargin before its start.
//
// Once a hook holds the instance, the hook's drain applies, still bound by
// the warning's deadline.
func Decide(f Facts) Plan {
	o := f.Options.WithDefaults()
	why := f.why()
	held := f.Hook != ""
	if f.Node == nil {
		return Plan{Complete: held, Done: true, Reason: ReasonNoNode, Message: why + ": it has no Node; nothing to drain" + completed(held)}
	}
	if f.Cordoned && f.PodsLeft == 0 {
		if !held {
			return Plan{Done: true, Reason: ReasonDrainedWaiting, Message: why + ": drained; the node stays cordoned until its instance goes"}
		}
		return Plan{Complete: true, DeleteNode: true, Done: true, Reason: ReasonDrained, Message: why + ": drained" + completed(true)}
	}
	if !held {
		if p, ok := f.cordonOnly(o, why); ok {
			return p
		}
	}
	bound := f.bound(o)
	if f.PodsLeft > 0 && !f.Now.Before(bound) {
		p := Plan{Cordon: !f.Cordoned, Complete: held, DeleteNode: held, Done: true, GaveUp: true, Reason: ReasonDrainTimedOut,
			Message: fmt.Sprintf("%s: %d pods still on the node at %s, the end of its drain; letting it go", why, f.PodsLeft, stamp(bound))}
		if held {
			p.Message += "; " + completeResultMessage
		}
		return p
	}
	p := Plan{Cordon: !f.Cordoned, Evict: f.PodsLeft > 0, EvictGrace: bound.Sub(f.Now), Reason: ReasonDraining,
		Message: fmt.Sprintf("%s: draining, %d pods to evict by %s", why, f.PodsLeft, stamp(bound))}
	if f.PodsLeft == 0 {
		p.Message = why + ": cordoning; no pod to evict"
	}
	p.RetryAfter = min(defaultRetry, bound.Sub(f.Now))
	if held {
		next := f.lastHeartbeat().Add(o.HeartbeatInterval)
		if !f.Now.Before(next) {
			p.Heartbeat, next = true, f.Now.Add(o.HeartbeatInterval)
		}
		p.RetryAfter = min(p.RetryAfter, next.Sub(f.Now))
	}
	p.RetryAfter = max(p.RetryAfter, minRetry)
	return p
}

// cordonOnly is the Plan of a warning that cordons the Node without
// draining it yet: a rebalance recommendation, or a scheduled change whose
// drain window (MaxGracefulTermination + DeadlineMargin before its start)
// has not opened and whose drain has not begun.
func (f Facts) cordonOnly(o Options, why string) (Plan, bool) {
	switch f.Cause {
	case CauseRebalanceRecommendation:
		return Plan{Cordon: !f.Cordoned, CordonOnly: true, Done: true, Reason: ReasonCordoned,
			Message: why + ": cordoned so no new pods land; its pods stay until its group or EC2 takes it"}, true
	case CauseScheduledChange:
		drainAt := f.Deadline.Add(-o.MaxGracefulTermination - o.DeadlineMargin)
		if f.Deadline.IsZero() || !f.DrainStarted.IsZero() || !f.Now.Before(drainAt) {
			return Plan{}, false
		}
		return Plan{Cordon: !f.Cordoned, CordonOnly: true, Reason: ReasonCordoned, RetryAfter: max(drainAt.Sub(f.Now), minRetry),
			Message: fmt.Sprintf("%s: cordoned so no new pods land; draining from %s", why, stamp(drainAt))}, true
	}
	return Plan{}, false
}

// bound is when the drain ends: MaxGracefulTermination after it began (or
// now, when it has not), and DeadlineMargin before a hard deadline.
func (f Facts) bound(o Options) time.Time {
	start := f.DrainStarted
	if start.IsZero() {
		start = f.Now
	}
	b := start.Add(o.MaxGracefulTermination)
	if !f.Deadline.IsZero() {
		if d := f.Deadline.Add(-o.DeadlineMargin); d.Before(b) {
			b = d
		}
	}
	return b
}

// lastHeartbeat is when the held action was last extended: the last
// heartbeat, or when the hook began holding it.
func (f Facts) lastHeartbeat() time.Time {
	if f.LastHeartbeat.After(f.NoticedAt) {
		return f.LastHeartbeat
	}
	return f.NoticedAt
}

// why says, for the Node's Events, why the instance goes.
func (f Facts) why() string {
	switch {
	case f.Cause == CauseSpotInterruption && !f.Deadline.IsZero():
		return fmt.Sprintf("instance %s gets a spot interruption at %s", f.InstanceID, stamp(f.Deadline))
	case f.Cause == CauseRebalanceRecommendation:
		return fmt.Sprintf("instance %s has a rebalance recommendation: its spot capacity is at elevated risk", f.InstanceID)
	case f.Cause == CauseScheduledChange:
		return fmt.Sprintf("instance %s has scheduled maintenance at %s", f.InstanceID, stamp(f.Deadline))
	case f.Cause == CauseUnknown || f.Cause == "":
		return fmt.Sprintf("instance %s is being terminated by its group %s", f.InstanceID, f.Group)
	}
	return fmt.Sprintf("instance %s is being terminated by its group %s: %s", f.InstanceID, f.Group, f.Cause)
}

func completed(held bool) string {
	if !held {
		return ""
	}
	return "; " + completeResultMessage
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "(no deadline)"
	}
	return t.UTC().Format(time.RFC3339)
}
