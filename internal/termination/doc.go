// Package termination owns draining a node before its instance goes,
// whatever takes the instance away: a lower desired count, an instance
// refresh or a rebalance of its Auto Scaling group (the group holds the
// instance in Terminating:Wait on kelp's lifecycle hook), a spot
// interruption warning (a two-minute deadline no hook can extend), a
// rebalance recommendation or a scheduled maintenance.
//
// The core is pure. [Decide] takes the [Facts] of one departing instance
// (why and how it leaves, its Node, how many of its pods are still to be
// evicted, when the drain began, the last lifecycle heartbeat, the time)
// and returns a [Plan]: which steps the caller takes now (cordon and taint,
// evict with a grace period that fits the deadline, send a heartbeat,
// complete the lifecycle action, delete the Node) and why. It reads no
// clock and calls no API. [CauseOf] names the [Cause] of a group's
// termination from its scaling activity's words.
//
// The policy by cause, in [Decide]: an instance a hook holds is drained
// and let go; a spot interruption is drained at once against its deadline
// (the drain ends DeadlineMargin before it, each eviction's grace period
// capped to what is left); a rebalance recommendation only cordons the
// Node; a scheduled change cordons at once and drains from
// MaxGracefulTermination + DeadlineMargin before its start.
//
// A caller's duties, each round for each departing instance:
//
//  1. Resolve the Facts: the Departure from the group (Terminating:Wait on
//     kelp's hook) or from an interruption event; the Node by providerID;
//     the pods still on it (DaemonSet and mirror pods excepted); when the
//     drain began (kept on the Node, so a restarted controller resumes it).
//  2. Call [Decide].
//  3. Apply the Plan in this order: Cordon, Evict (each eviction's grace
//     period capped at Plan.EvictGrace), Heartbeat, then Complete and
//     DeleteNode; record an Event on the Node from Plan.Reason and
//     Plan.Message.
//  4. Decide again after Plan.RetryAfter unless Plan.Done.
package termination
