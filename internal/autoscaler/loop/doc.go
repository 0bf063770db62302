// Package loop runs kelp's autoscaler against a cluster and a cloud: it
// gathers the facts (Nodes, pods, DaemonSets, volumes from informers; node
// groups and failed launches from a [cloud.GroupLister]), calls the pure
// planner ([autoscaler.PlanScaleUp]) and acts on its plan through a
// [cloud.Scaler], then reports: Events on pods (TriggeredScaleUp,
// NotTriggerScaleUp), the status ConfigMap kube-system/kelp-status, and
// Prometheus metrics.
//
// # One cycle ([Autoscaler.RunOnce])
//
//  1. Refresh the node groups; failed launches ([ErrorTap]) and instances
//     that did not register a Node within MaxNodeProvisionTime back
//     their group off (exponentially, 5m to 30m); the group's target is
//     brought back to what exists, and stuck instances are terminated.
//  2. Build the snapshot: Ready Nodes and their pods; every group's
//     instances that are launched or requested but not yet Ready Nodes are
//     upcoming capacity, so the same pods never cause a second scale-up.
//  3. Plan, then raise each chosen group's target size (unless DryRun).
//  4. Emit Events and write the status from the plan's reasons.
//
// Cycles run when pods become unschedulable (batched: after BatchIdle
// without a new one, or BatchMax after the first) and every ScanInterval.
// The package keeps only what can be rebuilt (backoffs, event dedup);
// everything else is read from the cluster and the cloud each cycle, so a
// restart resumes.
package loop
