// Package clusterview assembles what kelp's web view and `kelp status`
// show: pure functions from the objects a replica watches (Nodes, pending
// Pods, node CSRs, kelp's Events, the status ConfigMap the leading
// autoscaler publishes) and, where a replica has one, the cloud's snapshot
// of its groups, to a [View] — pools with their bounds, instances by state
// and nodes by phase, pending pods with why they wait and what kelp decided,
// and a timeline of decisions. [Ring] keeps the samples the plots draw.
//
// Nothing here calls an API or reads a clock: the caller lists the objects,
// sets Input.Now and calls [Build]. Every string of a View has passed
// [Redact], so no bootstrap token id reaches a page or a terminal.
package clusterview
