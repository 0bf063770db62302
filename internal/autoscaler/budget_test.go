package autoscaler

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/simulator"
)

// budgetPending are three classes that each need new nodes of their own on
// m5.xlarge (one pod a node, none fits beside another's): a round each, 2
// nodes each, largest first (big, mid, small).
func budgetPending() []simulator.PodInfo {
	pending := replicas(2, "big", "cpu", "3500m")
	pending = append(pending, replicas(2, "mid", "cpu", "3")...)
	return append(pending, replicas(2, "small", "cpu", "2500m")...)
}

// clockAfter returns a clock that reads before deadline for its first k
// calls and at deadline from then on: the budget runs out after k rounds.
func clockAfter(deadline time.Time, k int) func() time.Time {
	calls := 0
	return func() time.Time {
		calls++
		if calls <= k {
			return deadline.Add(-time.Second)
		}
		return deadline
	}
}

func TestPlanScaleUpBudget(t *testing.T) {
	deadline := time.Date(2025, 1, 1, 0, 0, 10, 0, time.UTC)
	all := []string{"default/big-0", "default/big-1", "default/mid-0", "default/mid-1", "default/small-0", "default/small-1"}
	tests := []struct {
		name     string
		budget   Budget
		want     []string // increases
		planned  int      // pods planned onto new nodes: the first of all
		truncate BudgetLimit
		rounds   int
	}{
		{name: "no budget", want: []string{"g/m5.xlarge+6"}, planned: 6},
		{name: "time: reached before the first round", budget: Budget{Deadline: deadline, Now: clockAfter(deadline, 0)},
			truncate: BudgetTime},
		{name: "time: reached after round 1", budget: Budget{Deadline: deadline, Now: clockAfter(deadline, 1)},
			want: []string{"g/m5.xlarge+2"}, planned: 2, truncate: BudgetTime, rounds: 1},
		{name: "time: reached after round 2", budget: Budget{Deadline: deadline, Now: clockAfter(deadline, 2)},
			want: []string{"g/m5.xlarge+4"}, planned: 4, truncate: BudgetTime, rounds: 2},
		{name: "time: enough for every round", budget: Budget{Deadline: deadline, Now: clockAfter(deadline, 3)},
			want: []string{"g/m5.xlarge+6"}, planned: 6},
		{name: "time: a deadline without a clock is ignored", budget: Budget{Deadline: deadline},
			want: []string{"g/m5.xlarge+6"}, planned: 6},
		{name: "nodes: reached at round 1's end", budget: Budget{MaxNodes: 2},
			want: []string{"g/m5.xlarge+2"}, planned: 2, truncate: BudgetNodes, rounds: 1},
		{name: "nodes: round 2 capped to what is left", budget: Budget{MaxNodes: 3},
			want: []string{"g/m5.xlarge+3"}, planned: 3, truncate: BudgetNodes, rounds: 2},
		{name: "nodes: enough", budget: Budget{MaxNodes: 6}, want: []string{"g/m5.xlarge+6"}, planned: 6},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := Input{Pending: budgetPending(), Groups: []cloud.NodeGroup{group(t, "g", 100, "m5.xlarge")}, Budget: tc.budget}
			p := PlanScaleUp(in)
			checkAccounted(t, in, p)
			if got := deltas(p); !slices.Equal(got, tc.want) {
				t.Errorf("increases = %v, want %v", got, tc.want)
			}
			if p.Totals.Pods != tc.planned {
				t.Errorf("pods planned = %d, want %d", p.Totals.Pods, tc.planned)
			}
			if len(p.Unschedulable) != 0 {
				t.Errorf("unschedulable = %v, want none: deferred pods are not unhelpable", p.Unschedulable)
			}
			if tc.truncate == "" {
				if p.Truncated != nil || len(p.Deferred) != 0 {
					t.Errorf("truncated %+v, deferred %v; want a complete plan", p.Truncated, p.Deferred)
				}
				return
			}
			if p.Truncated == nil {
				t.Fatalf("not truncated, want truncated by the %s budget", tc.truncate)
			}
			if p.Truncated.Budget != tc.truncate || p.Truncated.Rounds != tc.rounds || !strings.Contains(p.Truncated.Reason, "budget reached") {
				t.Errorf("truncated = %+v, want budget %s after %d round(s)", *p.Truncated, tc.truncate, tc.rounds)
			}
			if !slices.Equal(p.Deferred, all[tc.planned:]) {
				t.Errorf("deferred = %v, want %v", p.Deferred, all[tc.planned:])
			}
		})
	}
}

// TestPlanScaleUpBudgetContinues applies truncated plans cycle after cycle,
// the nodes asked for counted as upcoming, until the plan is complete: the
// cycles together ask for the nodes one unbounded plan asks for.
func TestPlanScaleUpBudgetContinues(t *testing.T) {
	g := group(t, "g", 100, "m5.xlarge")
	full := PlanScaleUp(Input{Pending: budgetPending(), Groups: []cloud.NodeGroup{g}})
	var steps []string
	for cycle := range 5 {
		in := Input{Pending: budgetPending(), Groups: []cloud.NodeGroup{g}, Upcoming: map[string]int{"g": g.TargetSize},
			Budget: Budget{MaxNodes: 4}}
		p := PlanScaleUp(in)
		checkAccounted(t, in, p)
		steps = append(steps, fmt.Sprintf("+%d placed %d deferred %d", p.Totals.Nodes, len(p.Placed), len(p.Deferred)))
		g.TargetSize += p.Totals.Nodes
		if p.Truncated == nil {
			break
		}
		if cycle == 4 {
			t.Fatalf("still truncated after 5 cycles: %v", steps)
		}
	}
	want := []string{"+4 placed 0 deferred 2", "+2 placed 4 deferred 0"}
	if !slices.Equal(steps, want) || g.TargetSize != full.Totals.Nodes {
		t.Errorf("cycles = %v to %d nodes, want %v to %d", steps, g.TargetSize, want, full.Totals.Nodes)
	}
}

func TestReportTruncated(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	plan := Plan{
		Increases: []Increase{{Group: "a", InstanceType: "m5.large", Delta: 2, Pods: []string{"ns/p1", "ns/p2"}}},
		Truncated: &Truncation{Budget: BudgetNodes, Rounds: 1, Reason: "node budget reached: 2 new node(s) planned (max 2 per cycle)"},
		Deferred:  []string{"ns/p3", "ns/p4"},
	}
	in := ReportInput{Plan: plan, Groups: []cloud.NodeGroup{{ID: "a", MaxSize: 10}}, Applied: map[string]int{"a": 2}, Pending: 4, Now: now}
	st, events := Report(in)
	want := &TruncatedStatus{Budget: "nodes", Reason: plan.Truncated.Reason, Rounds: 1, DeferredPods: 2, DeferredExamples: []string{"ns/p3", "ns/p4"}}
	if !reflect.DeepEqual(st.LastDecision.Truncated, want) {
		t.Errorf("truncated status = %+v, want %+v", st.LastDecision.Truncated, want)
	}
	if st.LastDecision.NoScaleUp != 0 || st.LastDecision.ScaleUp != 2 {
		t.Errorf("decision = %+v: deferred pods are neither scaled up nor unhelpable", st.LastDecision)
	}
	var got []string
	for _, e := range events {
		if e.Reason == ReasonScaleUpBudgetExhausted {
			got = append(got, e.Kind+"/"+e.Key+" "+e.Type)
		}
	}
	wantEv := []string{"Pod/ns/p3 Normal", "Pod/ns/p4 Normal", "Status/ Warning"}
	if !slices.Equal(got, wantEv) {
		t.Errorf("budget events = %v, want %v", got, wantEv)
	}
	if last := events[len(events)-1]; !strings.Contains(last.Message, "2 pod(s) left for the next cycle") {
		t.Errorf("status warning = %q", last.Message)
	}
	body, err := st.Render(false)
	if err != nil || !strings.Contains(body, "truncated:\n    budget: nodes\n") || !strings.Contains(body, "deferredPods: 2") {
		t.Errorf("rendering: %v\n%s", err, body)
	}
	st, events = Report(ReportInput{Plan: Plan{}, Now: now})
	if st.LastDecision.Truncated != nil || len(events) != 0 {
		t.Errorf("complete plan: truncated %+v, events %v", st.LastDecision.Truncated, events)
	}
}
