// Package terminationctl drains the Nodes of instances their Auto Scaling
// group holds in Terminating:Wait on kelp's drain hook
// (pool.DrainHookName), whatever took them away (a lower desired count,
// TerminateInstanceInAutoScalingGroup, a rebalance, an instance refresh).
//
// The [Controller] gathers the facts of each waiting instance every period
// (one Refresh of the managed groups, the Node by providerID, the pods
// still on it, when the drain began: the Node's kelp.dev/drain-started
// annotation, so a restarted controller resumes), asks the pure core
// ([termination.Decide]) and applies its Plan: cordon and taint, evict
// through the Eviction API with the grace period capped (an eviction a
// PodDisruptionBudget refuses is retried next round), heartbeat the
// lifecycle action, complete it with CONTINUE, delete the Node. An Event
// on the Node says why it goes; metrics count drains by cause and outcome.
//
// Every departure is counted as a scale-in for now: the group's activity
// is not read to tell an instance refresh or a rebalance apart.
package terminationctl
