package autoscaler

import (
	"fmt"
	"slices"
	"time"
)

// Budget bounds the work of one [PlanScaleUp] call. It is a guard against a
// plan that would take too long or simulate too many nodes, not a rate
// limit: a plan stopped by its budget is applied as it stands and the
// pods left are planned by the next cycle, which sees the nodes just asked
// for as upcoming. The zero value is unlimited.
//
// The budget is checked between rounds only (a round places one
// equivalence class: on the room already there, then on the new nodes the
// expanders choose for it), so a truncated plan holds whole rounds and is
// as consistent as a complete one.
type Budget struct {
	// Deadline is the time by which planning stops starting rounds; the
	// zero time means no deadline. It is compared with Now, which the
	// caller supplies (the planner reads no clock of its own): without
	// Now, Deadline is ignored.
	Deadline time.Time
	Now      func() time.Time
	// MaxNodes bounds the new nodes of the plan, all groups together
	// (cluster-autoscaler's --max-nodes-per-scaleup); 0 means no bound. A
	// round never plans past it: the room of every option is capped by
	// what is left of it.
	MaxNodes int
}

// Defaults of a cycle's budget (the autoscaler's --max-planning-duration
// and --max-nodes-per-scaleup). They are guards, not the way plans are
// kept fast: the diverse workload of internal/autoscaler/scenario at
// 10,000 pods must plan completely within them (TestDefaultBudget). It
// plans 2,010 new nodes with the default least-waste expander: the node
// default is about 2.5 times that, where cluster-autoscaler's 1,000 would
// truncate it. It takes 4.7-7.4 CPU seconds (the plan's consolidation
// included), 5-14 s of wall time on a loaded 2-core machine, and would
// take 21 s at the 480 pods/s floor the planner is held to: the time
// default is above all three, and equals
// cluster-autoscaler's 10 s per node group for that workload's three
// groups. docs/autoscaler.md has the figures and their commands.
const (
	DefaultMaxPlanningDuration = 30 * time.Second
	DefaultMaxNodesPerScaleUp  = 5000
)

// BudgetLimit names the budget that stopped a plan.
type BudgetLimit string

// The budgets of [Budget].
const (
	BudgetTime  BudgetLimit = "time"
	BudgetNodes BudgetLimit = "nodes"
)

// Truncation says that, and why, a plan stopped before every pending pod
// was considered.
type Truncation struct {
	Budget BudgetLimit
	// Rounds are the rounds planned before the budget was reached.
	Rounds int
	// Reason says which budget was reached, for the status and events.
	Reason string
}

// spent returns the truncation when the budget is reached at this round
// boundary, nil when planning may go on.
func (p *planner) spent() *Truncation {
	b := p.in.Budget
	if b.MaxNodes > 0 {
		if n := p.newNodes(); n >= b.MaxNodes {
			return &Truncation{Budget: BudgetNodes, Rounds: p.rounds,
				Reason: fmt.Sprintf("node budget reached: %d new node(s) planned (max %d per cycle)", n, b.MaxNodes)}
		}
	}
	if !b.Deadline.IsZero() && b.Now != nil && !b.Now().Before(b.Deadline) {
		return &Truncation{Budget: BudgetTime, Rounds: p.rounds,
			Reason: fmt.Sprintf("planning time budget reached after %d round(s)", p.rounds)}
	}
	return nil
}

// newNodes counts the new nodes planned so far.
func (p *planner) newNodes() int {
	n := 0
	for _, g := range p.grown {
		n += g
	}
	return n
}

// budgetRoom caps room n, bounded by limit why, by what is left of the
// node budget.
func (p *planner) budgetRoom(n int, why roomLimit) (int, roomLimit) {
	b := p.in.Budget.MaxNodes
	if b <= 0 {
		return n, why
	}
	if left := b - p.newNodes(); left < n {
		return left, roomLimit{"node budget reached (%d new nodes per cycle)", int64(b)}
	}
	return n, why
}

// truncate stops the plan at t: the pods of the classes left are deferred
// to the next cycle.
func (p *planner) truncate(t *Truncation, classes []*class) {
	p.plan.Truncated = t
	for _, c := range classes {
		for _, q := range c.pods {
			p.plan.Deferred = append(p.plan.Deferred, q.Key())
		}
	}
	slices.Sort(p.plan.Deferred)
}
