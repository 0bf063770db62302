// Package whatif answers what kelp's autoscaler would do with a cluster,
// changing nothing: it reads a snapshot (files of `kubectl get -o json`,
// or one listing of an API server), makes the node groups of a pools file
// as the cloud would report them (or wraps a live cloud's groups, read
// only), runs one cycle through autoscaler/loop's Simulate (the
// controller's own gathering and planning), and renders the plan
// (`kelp simulate`) or one pod's case, pool by pool (`kelp explain pod`).
package whatif
