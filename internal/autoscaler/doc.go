// Package autoscaler owns kelp's autoscaling decisions, as pure functions
// of plain values:
//
//   - scale-up: given a cluster snapshot, the pending pods and the node
//     groups, [PlanScaleUp] decides which groups to grow, by how many nodes
//     of which instance type, and why every other pod cannot be helped.
//     Options are chosen by a chain of [Expander]s (least-waste, price,
//     priority, most-pods, random); a group's size bounds are checked by
//     internal/cloud (cloud.NodeGroup.Room, CheckSize), which [GrowTarget]
//     applies.
//   - scale-down: [PlanScaleDown] decides which nodes nobody needs and which
//     of them to remove now, and says for every other node why it stays
//     (see scaledown.go for the rules and the caller's loop).
//   - recovery: [PlanRecovery] decides what to do about failed launches and
//     instances that never became nodes (terminate, back off, lower the
//     target); [Backoffs] keeps the backoffs and [SettleScaleUps] says when
//     a scale-up is over.
//   - reporting: [Report] and [ReportScaleDown] compute the status
//     ConfigMap's content and the Events from the plans; [ScaleDownSkip]
//     says when scale-down sits a cycle out.
//
// The package is pure: no API calls, no clock (Now is an input), no
// logging, no goroutines. It builds on the [simulator] package's snapshot
// and predicates. The actuator of a node removal is autoscaler/drain; the
// controller that gathers facts and acts is autoscaler/loop.
//
// # Caller's loop
//
// A controller drives it like this, once per cycle:
//
//  1. Gather: Refresh the node groups (cloud.GroupLister) and read them; ask
//     a cloud.LaunchCursor for the failed launches new since the last
//     cycle; build a [simulator.Snapshot] of the Ready nodes and their
//     bound pods; list the pending pods as [simulator.PodInfo]; relate
//     instances to nodes.
//  2. Recover: call [PlanRecovery] with Now; terminate its Terminate
//     instances (cloud.Scaler.DeleteInstances), record its backoffs
//     ([Backoffs.Failed]) and lower the targets [GroupRecovery.LowerTo]
//     returns. Then [SettleScaleUps]: forget the failures of groups whose
//     nodes arrived ([Backoffs.Succeeded]).
//     Then [ClusterHealth]: while too much of the cluster is unready,
//     skip steps 3 to 5 and report why.
//  3. Plan: leave out the pending pods [SkipPending] names; resolve the
//     backoffs, limits and the expander chain ([ParseExpanders],
//     [ParsePriorities]) and call [PlanScaleUp] with Now
//     and a [Budget] (a deadline with the caller's clock, a node count).
//     It forks the snapshot and never mutates the caller's values. A plan
//     the budget truncated ([Plan.Truncated]) is applied like any other;
//     its [Plan.Deferred] pods are planned by the next cycle.
//  4. Act: for each [Increase], set the group's target to [GrowTarget] of
//     its current size (cloud.Scaler.SetTargetSize); a refusal backs the
//     group off and the caller plans again in the same cycle.
//  5. Scale down unless [ScaleDownSkip] says why not: [BindPlaced] binds the
//     pods just placed, [PlanScaleDown] chooses, autoscaler/drain removes;
//     [PlanSoftTaints] says which nodes get or lose the soft taint.
//  6. Report: [Report] and [ReportScaleDown] give the status and the Events
//     from the plans' reasons ([Plan.Unschedulable], [Plan.Unsupported],
//     [Plan.Skipped], [ScaleDownPlan.Blocked]), never by re-running the
//     simulation; the caller writes them.
package autoscaler
