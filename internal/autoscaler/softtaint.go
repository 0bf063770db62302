package autoscaler

import (
	"maps"
	"slices"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// DeletionCandidateTaint is cluster-autoscaler's soft taint
// (PreferNoSchedule, value the unix time it was put) on nodes found
// unneeded: the scheduler prefers other nodes for new pods, so an
// unneeded node stays empty until it is removed.
const DeletionCandidateTaint = "DeletionCandidateOfClusterAutoscaler"

// DefaultMaxBulkSoftTaintCount and DefaultMaxBulkSoftTaintTime are
// cluster-autoscaler's --max-bulk-soft-taint-count and
// --max-bulk-soft-taint-time.
const (
	DefaultMaxBulkSoftTaintCount = 10
	DefaultMaxBulkSoftTaintTime  = 3 * time.Second
)

// DeletionCandidate returns the soft taint put at now.
func DeletionCandidate(now time.Time) corev1.Taint {
	return corev1.Taint{Key: DeletionCandidateTaint, Value: strconv.FormatInt(now.Unix(), 10), Effect: corev1.TaintEffectPreferNoSchedule}
}

// HasDeletionCandidate reports whether node carries the soft taint.
func HasDeletionCandidate(node *corev1.Node) bool {
	return slices.ContainsFunc(node.Spec.Taints, func(t corev1.Taint) bool { return t.Key == DeletionCandidateTaint })
}

// SoftTaintInput is what [PlanSoftTaints] needs.
type SoftTaintInput struct {
	// Tainted are the nodes carrying the soft taint now.
	Tainted map[string]bool
	// Unneeded are the nodes scale-down found unneeded (ScaleDownPlan's).
	Unneeded map[string]time.Time
	// Removing are the nodes being removed (to-be-deleted taint): left
	// alone.
	Removing map[string]bool
	// MaxCount bounds the changes (0: soft tainting is off).
	MaxCount int
}

// SoftTaintChanges are the nodes to untaint and to taint, in that order,
// each sorted.
type SoftTaintChanges struct {
	Untaint, Taint []string
	// Deferred counts the changes past MaxCount, for a later cycle.
	Deferred int
}

// PlanSoftTaints decides, as cluster-autoscaler's
// UpdateSoftDeletionTaints, which nodes lose the soft taint (no longer
// unneeded) and which get it (unneeded, not yet tainted, not being
// removed): untainting first, at most MaxCount changes in all.
func PlanSoftTaints(in SoftTaintInput) SoftTaintChanges {
	var c SoftTaintChanges
	if in.MaxCount <= 0 {
		return c
	}
	budget := in.MaxCount
	for _, n := range slices.Sorted(maps.Keys(in.Tainted)) {
		if _, unneeded := in.Unneeded[n]; !in.Tainted[n] || unneeded || in.Removing[n] {
			continue
		}
		if budget == 0 {
			c.Deferred++
			continue
		}
		c.Untaint = append(c.Untaint, n)
		budget--
	}
	for _, n := range slices.Sorted(maps.Keys(in.Unneeded)) {
		if in.Tainted[n] || in.Removing[n] {
			continue
		}
		if budget == 0 {
			c.Deferred++
			continue
		}
		c.Taint = append(c.Taint, n)
		budget--
	}
	return c
}
