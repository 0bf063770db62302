package whatif

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/kelp-dev/kelp/internal/autoscaler"
)

// WriteText writes the plan for people: settings and assumptions, the
// scale-up with each pool's alternative, the pods not helped with the
// reason per pool, the scale-down with what keeps each node, then the
// nodes and their price before and after.
func (p Plan) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	pf := func(format string, args ...any) { fmt.Fprintf(tw, format, args...) }
	pf("Plan of one autoscaler cycle (nothing was changed), expander %s, scale-down %s.\n",
		p.Settings.Expanders, onOff(p.Settings.ScaleDownEnabled, p.Settings.ScaleDownUtilizationThreshold, p.Settings.ScaleDownUnneededTime))
	for _, a := range p.Assumptions[1:] {
		pf("Assumed: %s.\n", a)
	}
	if p.Unhealthy != "" {
		pf("\nThe cluster is unhealthy: no scale-up and no scale-down (%s).\n", p.Unhealthy)
	}
	p.writeScaleUp(pf)
	p.writeScaleDown(pf)
	pf("\nNODES\tBEFORE\tAFTER\n")
	pf("total\t%d\t%d\n", p.Before.Nodes, p.After.Nodes)
	for _, g := range slices.Sorted(maps.Keys(p.Before.Pools)) {
		pf("%s\t%d\t%d\n", g, p.Before.Pools[g], p.After.Pools[g])
	}
	pf("$/h\t%.3f\t%.3f\n", p.Before.CostPerHour, p.After.CostPerHour)
	if p.Before.Unpriced > 0 {
		pf("(%d node(s) of unknown price not counted)\n", p.Before.Unpriced)
	}
	return tw.Flush()
}

func onOff(enabled bool, threshold float64, unneeded string) string {
	if !enabled {
		return "disabled"
	}
	return fmt.Sprintf("below %.2f utilization after %s unneeded", threshold, unneeded)
}

func (p Plan) writeScaleUp(pf func(string, ...any)) {
	pf("\nSCALE-UP\n")
	if len(p.ScaleUp) == 0 {
		pf("  none\n")
	}
	for _, s := range p.ScaleUp {
		pf("  %s +%d %s ($%.3f/h) for %d pod(s): %s\n", s.Pool, s.Nodes, s.InstanceType, s.CostPerHour, len(s.Pods), strings.Join(s.Pods, ", "))
		pf("    why: %s\n", s.Reason)
		if s.Group != s.Pool {
			pf("    Auto Scaling group: %s\n", s.Group)
		}
		for _, a := range s.Alternatives {
			if a.Nodes > 0 {
				pf("    instead: %s +%d %s ($%.3f/h) for %d pod(s)%s\n", a.Pool, a.Nodes, a.InstanceType, a.CostPerHour, a.Pods, suffix(a.Reason))
			} else {
				pf("    not %s: %s\n", a.Pool, a.Reason)
			}
		}
	}
	if len(p.FitExisting) > 0 {
		pf("  %d pending pod(s) fit existing or upcoming nodes: %s\n", len(p.FitExisting), strings.Join(slices.Sorted(maps.Keys(p.FitExisting)), ", "))
	}
	for _, g := range slices.Sorted(maps.Keys(p.SkippedPools)) {
		pf("  pool %s cannot grow: %s\n", g, p.SkippedPools[g])
	}
	for _, why := range slices.Sorted(maps.Keys(p.Ignored)) {
		pf("  %d unschedulable pod(s) left out: %s\n", p.Ignored[why], why)
	}
	if len(p.NotHelped)+len(p.Unsupported) > 0 {
		pf("\nPODS NO POOL HELPS\n")
	}
	for _, n := range p.NotHelped {
		pf("  %s\n", n.Pod)
		if len(n.Pools) == 0 {
			pf("    no pool\n")
		}
		for _, g := range slices.Sorted(maps.Keys(n.Pools)) {
			if g == "" {
				pf("    %s\n", n.Pools[g])
				continue
			}
			pf("    %s: %s\n", g, n.Pools[g])
		}
	}
	for _, k := range slices.Sorted(maps.Keys(p.Unsupported)) {
		pf("  %s: kelp cannot simulate it: %s\n", k, p.Unsupported[k])
	}
}

func (p Plan) writeScaleDown(pf func(string, ...any)) {
	pf("\nSCALE-DOWN\n")
	if p.ScaleDown.Skipped != "" {
		pf("  skipped: %s\n", p.ScaleDown.Skipped)
		return
	}
	if len(p.ScaleDown.Remove) == 0 {
		pf("  no node would go\n")
	}
	for _, r := range p.ScaleDown.Remove {
		what := "empty"
		if !r.Empty {
			what = fmt.Sprintf("evicting %s", strings.Join(r.Evict, ", "))
		}
		pf("  remove %s (%s, utilization %.2f, $%.3f/h): %s\n", r.Node, r.Pool, r.Utilization, r.CostPerHour, what)
	}
	for _, k := range p.ScaleDown.Kept {
		pf("  keep %s: %s\n", k.Node, autoscaler.Blocker{Reason: autoscaler.BlockReason(k.Reason), Detail: k.Detail})
	}
}

func suffix(s string) string {
	if s == "" {
		return ""
	}
	return " (" + s + ")"
}
