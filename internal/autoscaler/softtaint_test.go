package autoscaler

import (
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// TestPlanSoftTaints: unneeded nodes get the soft taint, nodes needed again
// lose it, nodes being removed are left alone, untainting first within
// the count.
func TestPlanSoftTaints(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	set := func(names ...string) map[string]bool {
		m := map[string]bool{}
		for _, n := range names {
			m[n] = true
		}
		return m
	}
	unneeded := func(names ...string) map[string]time.Time {
		m := map[string]time.Time{}
		for _, n := range names {
			m[n] = now
		}
		return m
	}
	for _, tc := range []struct {
		name           string
		in             SoftTaintInput
		untaint, taint []string
		deferred       int
	}{
		{name: "nothing", in: SoftTaintInput{MaxCount: 10}},
		{name: "unneeded nodes are tainted", in: SoftTaintInput{Unneeded: unneeded("b", "a"), MaxCount: 10}, taint: []string{"a", "b"}},
		{name: "already tainted: unchanged", in: SoftTaintInput{Tainted: set("a"), Unneeded: unneeded("a"), MaxCount: 10}},
		{name: "needed again: untainted", in: SoftTaintInput{Tainted: set("a", "b"), Unneeded: unneeded("b"), MaxCount: 10}, untaint: []string{"a"}},
		{name: "being removed: left alone", in: SoftTaintInput{Tainted: set("a"), Unneeded: unneeded("b"), Removing: set("a", "b"), MaxCount: 10}},
		{name: "untaint first within the count", in: SoftTaintInput{Tainted: set("a", "b"), Unneeded: unneeded("c", "d"), MaxCount: 3},
			untaint: []string{"a", "b"}, taint: []string{"c"}, deferred: 1},
		{name: "count 0: off", in: SoftTaintInput{Tainted: set("a"), Unneeded: unneeded("b"), MaxCount: 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := PlanSoftTaints(tc.in)
			if !slices.Equal(c.Untaint, tc.untaint) || !slices.Equal(c.Taint, tc.taint) || c.Deferred != tc.deferred {
				t.Fatalf("got untaint %v, taint %v, deferred %d; want %v, %v, %d", c.Untaint, c.Taint, c.Deferred, tc.untaint, tc.taint, tc.deferred)
			}
		})
	}
	taint := DeletionCandidate(now)
	if taint.Effect != corev1.TaintEffectPreferNoSchedule || taint.Value != "1796558400" || taint.Key != "DeletionCandidateOfClusterAutoscaler" {
		t.Fatalf("taint %+v", taint)
	}
	if !HasDeletionCandidate(&corev1.Node{Spec: corev1.NodeSpec{Taints: []corev1.Taint{taint}}}) || HasDeletionCandidate(&corev1.Node{}) {
		t.Fatal("HasDeletionCandidate")
	}
	if !TransientTaint(taint) {
		t.Fatal("a template must not copy the soft taint")
	}
}
