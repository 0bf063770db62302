package loop

import (
	"slices"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/kelp-dev/kelp/internal/autoscaler"
)

// TestTruncatedCycleContinues: a cycle whose plan reaches the node budget
// applies what it planned, says so in the status, Events and metrics, asks
// for the next cycle, and the next cycles plan the rest, the nodes asked
// for counted as upcoming.
func TestTruncatedCycleContinues(t *testing.T) {
	h := newHarness(t, Options{MaxNodesPerScaleUp: 2}, testGroup(t, "general", "m5.large", 0, 10))
	h.pods("web", 5, "1500m", nil) // one a node: five nodes in all
	h.waitUnschedulable(5)

	for _, step := range []struct {
		sets     []string
		deferred int
		// podEvents are the deferred pods' events: one each, not repeated
		// for the same reason (eventRepeat).
		podEvents int
	}{
		{sets: []string{"general=2"}, deferred: 3, podEvents: 3},
		{sets: []string{"general=2", "general=4"}, deferred: 1, podEvents: 0},
		{sets: []string{"general=2", "general=4", "general=5"}},
	} {
		c := h.runOnce()
		if got := h.cloud.setCalls(); !slices.Equal(got, step.sets) {
			t.Fatalf("scale-ups %v, want %v; plan %+v", got, step.sets, c.Plan)
		}
		st, ev := h.status(), h.drainEvents()
		truncs := testutil.ToFloat64(h.a.d.Metrics.PlanTruncated.WithLabelValues(string(autoscaler.BudgetNodes)))
		asked := false
		select {
		case <-h.a.trigger:
			asked = true
		default:
		}
		if step.deferred == 0 {
			if c.Plan.Truncated != nil || st.LastDecision.Truncated != nil || asked {
				t.Fatalf("last cycle truncated: %+v, status %+v, next cycle asked %v", c.Plan.Truncated, st.LastDecision.Truncated, asked)
			}
			if truncs != 2 {
				t.Errorf("kelp_autoscaler_plan_truncated_total{budget=nodes} = %v, want 2", truncs)
			}
			if st.LastDecision.ScaleUp != 1 || st.LastDecision.FitExisting != 4 {
				t.Errorf("last decision %+v: want 4 pods on upcoming nodes, 1 scaled up", st.LastDecision)
			}
			break
		}
		if c.Plan.Truncated == nil || c.Plan.Truncated.Budget != autoscaler.BudgetNodes || len(c.Plan.Deferred) != step.deferred {
			t.Fatalf("plan truncated %+v deferred %v, want the node budget, %d deferred", c.Plan.Truncated, c.Plan.Deferred, step.deferred)
		}
		if tr := st.LastDecision.Truncated; tr == nil || tr.Budget != "nodes" || tr.DeferredPods != step.deferred ||
			st.LastDecision.NoScaleUp != 0 {
			t.Fatalf("status decision %+v truncated %+v: want %d deferred pods, none unhelpable", st.LastDecision, tr, step.deferred)
		}
		if got := matching(ev, "Normal", autoscaler.ReasonScaleUpBudgetExhausted, "the next cycle plans it"); len(got) != step.podEvents {
			t.Errorf("%d budget events on pods, want %d: %v", len(got), step.podEvents, ev)
		}
		if got := matching(ev, "Warning", autoscaler.ReasonScaleUpBudgetExhausted, "node budget reached"); len(got) != 1 {
			t.Errorf("want one Warning on the status, got %v", ev)
		}
		if !asked {
			t.Error("a truncated cycle did not ask for the next one")
		}
	}
}
