// Package terminationctl drains the Nodes of departing instances: those
// their Auto Scaling group holds in Terminating:Wait on kelp's drain hook
// (pool.DrainHookName), whatever took them away (a lower desired count,
// TerminateInstanceInAutoScalingGroup, a rebalance, an instance refresh, a
// spot interruption), and those the interruption queue warns of (a spot
// interruption, a rebalance recommendation, a scheduled change).
//
// The [Controller] gathers the facts of each departing instance every
// period, and at once after a notice (one Refresh of the managed groups;
// the cause from the group's scaling activity, [termination.CauseOf]; the
// Node by providerID; the pods still on it; when the drain began and the
// warning, both kept on the Node so a restarted controller resumes), asks
// the pure core ([termination.Decide], whose policy by cause it follows)
// and applies its Plan: cordon and taint, evict through the Eviction API
// with the grace period capped (an eviction a PodDisruptionBudget refuses
// is retried next round), heartbeat the lifecycle action (at a third of
// the hook's heartbeat timeout, read through [HookReader]), complete it
// with CONTINUE, delete the Node. An Event on the Node says why it goes;
// metrics count drains by cause and outcome and notices by kind and
// outcome; the status ConfigMap's "drains" key lists the drains in
// progress.
//
// [Controller.Notify] is the interruption queue's handler. It is safe to
// call while Run runs: it shares with the rounds only an inbox and the
// Node's annotations.
package terminationctl
