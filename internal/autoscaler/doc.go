// Package autoscaler owns kelp's scale-up planning: given a cluster
// snapshot, the pending pods and the node groups, [PlanScaleUp] decides
// which groups to grow, by how many nodes of which instance type, and why
// every other pod cannot be helped. Options are chosen by a chain of
// [Expander]s (least-waste, price, priority, most-pods, random).
//
// The package is pure: no API calls, no clock (Now is an input), no
// logging, no goroutines. It builds on the [simulator] package's snapshot
// and predicates.
//
// # Caller's loop
//
// A controller drives it like this:
//
//  1. Gather: build a [simulator.Snapshot] of the Ready nodes and their
//     bound pods, list the pending pods as [simulator.PodInfo], read the
//     node groups (cloud.GroupLister), count for each group the instances
//     launched but not yet registered as nodes ([Input.Upcoming]), and
//     resolve the backoffs, limits and the expander chain ([ParseExpanders],
//     [ParsePriorities]) once.
//  2. Plan: call [PlanScaleUp] with Now. It forks the snapshot and never
//     mutates the caller's values.
//  3. Act: for each [Increase], raise the group's target size by Delta
//     (cloud.Scaler.SetTargetSize(TargetSize+Delta)); a capacity error backs
//     the group off and the caller plans again in the same cycle.
//  4. Report: render events and status from the plan's reasons
//     ([Plan.Unschedulable], [Plan.Unsupported], [Plan.Skipped]), never by
//     re-running the simulation.
package autoscaler
