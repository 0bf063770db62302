// Package loop runs kelp's autoscaler against a cluster and a cloud: it
// gathers the facts (Nodes, pods, DaemonSets, volumes and
// PodDisruptionBudgets from informers; node groups and their failed
// launches from a [cloud.GroupLister]), calls the pure cores of package
// autoscaler, and acts through a [cloud.Scaler] and autoscaler/drain. It
// decides nothing itself: every decision, and the content of every Event
// and of the status ConfigMap kube-system/kelp-status, comes from a core;
// the loop writes them and the Prometheus metrics.
//
// # One cycle ([Autoscaler.RunOnce])
//
//  1. Refresh the node groups and read them; the groups' failed launches
//     are level-triggered (cloud.NodeGroup.Errors), so the autoscaler keeps
//     its own cloud.LaunchCursor and other controllers may refresh the same
//     provider.
//  2. Recover (autoscaler.PlanRecovery): failed launches that no launch of
//     their group followed, and instances that did not register a Node
//     within MaxNodeProvisionTime, back their group off (exponentially, 5m to 30m); stuck instances are terminated and
//     the group's target is brought back to what exists. A group whose
//     last scale-up's nodes are all Ready forgets its past failures
//     (autoscaler.SettleScaleUps).
//  3. Build the snapshot: Ready Nodes and their pods; every group's
//     upcoming capacity (autoscaler.Upcoming: instances not yet Ready
//     Nodes within MaxNodeProvisionTime, and requested ones while the
//     group has no unresolved launch failure) is simulated as nodes, so
//     the same pods never cause a second scale-up.
//  4. Plan scale-up within its budget (MaxPlanningDuration, read through
//     the injected clock, and MaxNodesPerScaleUp), then raise each chosen
//     group's target size (unless DryRun), one size change at a time, from
//     the group's current size in the provider's snapshot; a refusal backs
//     the group off and re-plans. A plan stopped by its budget is applied
//     as it stands and not re-planned; the cycle asks for the next one at
//     once, which sees the nodes just asked for as upcoming and plans the
//     pods deferred.
//  5. Scale down (when enabled), unless this cycle scaled up or pending
//     pods wait for upcoming nodes: plan (autoscaler.PlanScaleDown) on the
//     snapshot with the just-placed pods bound, then remove the chosen
//     nodes in the background (autoscaler/drain). At start-up, nodes left
//     tainted by a removal that did not finish are untainted first.
//  6. Report (autoscaler.Report, autoscaler.ReportScaleDown): Events on pods
//     (TriggeredScaleUp, NotTriggerScaleUp, ScaleUpBudgetExhausted), on
//     nodes (ScaleDownBlocked) and, for a truncated plan, a Warning on the
//     status ConfigMap, deduplicated; the status ConfigMap, written when it
//     changed.
//
// Cycles run when pods become unschedulable (batched: BatchQuietIdle
// after a lone pod that follows a quiet spell, else after BatchIdle
// without a new one, or BatchMax after the first) and every ScanInterval.
// A cycle reads the pods of its snapshot's nodes and the unbound ones
// through the pod informer's index by node (PodsByNode).
// [Simulate] runs one such cycle over objects in memory (listers built on
// indexers of them) and a group snapshot, changing nothing: its scaler
// refuses every change, it writes no status and records no Event, and it
// skips scale-down after a scale-up as the applied cycle would. `kelp
// simulate` and `kelp explain pod` (package whatif) are built on it.
//
// The package keeps only what can be rebuilt (backoffs, the launch cursor,
// when nodes were first seen unneeded, event dedup); everything else is
// read from the cluster and the cloud each cycle, so a restart resumes.
package loop
