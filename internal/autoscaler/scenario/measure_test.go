package scenario

import (
	"fmt"
	"testing"
	"time"

	"github.com/kelp-dev/kelp/internal/autoscaler"
)

// chains are the expander chains the quality figures are taken with.
var chains = []struct {
	name  string
	chain autoscaler.Chain
}{
	{"least-waste", nil},
	{"price", autoscaler.Chain{autoscaler.Price(), autoscaler.LeastWaste()}},
}

// figures are one scenario's plan and references.
type figures struct {
	plan    autoscaler.Plan
	elapsed time.Duration
	ffd     Reference
	lp      Bound // over every option
	lpUsed  Bound // new nodes restricted to the plan's options
}

// maxPrice is the price of the dearest node type the plan grows.
func (f figures) maxPrice() float64 {
	m := 0.0
	for _, inc := range f.plan.Increases {
		if inc.Delta > 0 {
			m = max(m, inc.Cost/float64(inc.Delta))
		}
	}
	return m
}

func (f figures) String() string {
	return fmt.Sprintf("plan %d nodes $%.4f/h (%d unschedulable); ffd %d nodes $%.4f/h (%d unplaced); lp %.2f nodes $%.4f/h (%d excluded); lp on the plan's types %.2f nodes",
		f.plan.Totals.Nodes, f.plan.Totals.Cost, len(f.plan.Unschedulable), f.ffd.Nodes, f.ffd.Cost, f.ffd.Unplaced,
		f.lp.Nodes, f.lp.Cost, f.lp.Excluded, f.lpUsed.Nodes)
}

func measure(tb testing.TB, in autoscaler.Input) figures {
	tb.Helper()
	var f figures
	start := time.Now()
	f.plan = autoscaler.PlanScaleUp(in)
	f.elapsed = time.Since(start)
	var err error
	if f.ffd, err = FirstFitDecreasing(in); err != nil {
		tb.Fatal(err)
	}
	if f.lp, err = LPBound(in, Scope{}); err != nil {
		tb.Fatal(err)
	}
	used := map[string]bool{}
	for _, inc := range f.plan.Increases {
		used[inc.Group+"/"+inc.InstanceType] = true
	}
	if f.lpUsed, err = LPBound(in, Scope{Options: used}); err != nil {
		tb.Fatal(err)
	}
	return f
}
