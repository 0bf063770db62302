// Package scenario owns kelp's seeded scale-up scenarios and the
// references PlanScaleUp is measured against: [Generate] builds a
// reproducible [autoscaler.Input] (workload, pools drawn from the instance
// type catalog, partly filled existing nodes), [LPBound] computes the
// linear-programming lower bound on the cost and the number of new nodes
// any plan needs, and [FirstFitDecreasing] is a plain first-fit-decreasing
// baseline built on the simulator's predicates.
//
// The package is pure (no IO, no clock) and deterministic: the same
// [Spec] gives the same input, and the references depend only on their
// input. The distributions the generator draws from are documented in
// docs/benchmarks.md ("Scale-up quality and decision time").
package scenario
