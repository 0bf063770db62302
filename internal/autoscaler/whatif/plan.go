package whatif

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/kelp-dev/kelp/internal/autoscaler"
	"github.com/kelp-dev/kelp/internal/autoscaler/loop"
	"github.com/kelp-dev/kelp/internal/catalog"
	"github.com/kelp-dev/kelp/internal/pool"
)

// Plan is what kelp would do with a cluster, as `kelp simulate` prints it
// (-o json|yaml): built from one simulated cycle ([loop.Simulate]), never
// planned again.
type Plan struct {
	Time     string   `json:"time"`
	Settings Settings `json:"settings"`
	// Assumptions are what the simulation takes for granted.
	Assumptions []string `json:"assumptions"`
	// Unhealthy says why the cluster is too unready to autoscale.
	Unhealthy string `json:"unhealthy,omitempty"`
	// ScaleUp are the increases, in the order chosen.
	ScaleUp []ScaleUp `json:"scaleUp"`
	// FitExisting are pending pods that fit an existing or upcoming node,
	// pod → node.
	FitExisting map[string]string `json:"fitExisting,omitempty"`
	// NotHelped are the pods no pool helps, with the reason per pool.
	NotHelped []PodPools `json:"notHelped,omitempty"`
	// Unsupported are pods kelp cannot simulate, pod → why.
	Unsupported map[string]string `json:"unsupported,omitempty"`
	// Ignored counts the unschedulable pods scale-up leaves out, by reason.
	Ignored map[string]int `json:"ignored,omitempty"`
	// SkippedPools are the pools that cannot grow, pool name → why.
	SkippedPools map[string]string `json:"skippedPools,omitempty"`
	ScaleDown    ScaleDown         `json:"scaleDown"`
	Before       Capacity          `json:"before"`
	After        Capacity          `json:"after"`
}

// Settings are the options that shaped the plan.
type Settings struct {
	Expanders                     string  `json:"expanders"`
	ScaleDownEnabled              bool    `json:"scaleDownEnabled"`
	ScaleDownUtilizationThreshold float64 `json:"scaleDownUtilizationThreshold"`
	ScaleDownUnneededTime         string  `json:"scaleDownUnneededTime"`
}

// ScaleUp is one increase: a pool grows by Nodes of InstanceType for Pods.
// Pool is the pool's name (its group's ID for a group of no pool), Group
// the Auto Scaling group's.
type ScaleUp struct {
	Pool         string   `json:"pool"`
	Group        string   `json:"group"`
	InstanceType string   `json:"instanceType"`
	Nodes        int      `json:"nodes"`
	Pods         []string `json:"pods"`
	CostPerHour  float64  `json:"costPerHour"`
	// Reason is the expander's choice, in the planner's words.
	Reason string `json:"reason"`
	// Alternatives are what each other pool would do for the same pods.
	Alternatives []Alternative `json:"alternatives,omitempty"`
}

// Alternative is what one other pool would do for an increase's pods,
// alone: grow (Nodes of InstanceType, for Pods of them), or why not.
type Alternative struct {
	Pool         string  `json:"pool"`
	Group        string  `json:"group"`
	InstanceType string  `json:"instanceType,omitempty"`
	Nodes        int     `json:"nodes,omitempty"`
	Pods         int     `json:"pods,omitempty"`
	CostPerHour  float64 `json:"costPerHour,omitempty"`
	Reason       string  `json:"reason,omitempty"`
}

// PodPools is a pod no pool helps, and why, per pool (by name; "" for no
// pool in particular).
type PodPools struct {
	Pod   string            `json:"pod"`
	Pools map[string]string `json:"pools"`
}

// ScaleDown is what scale-down would do.
type ScaleDown struct {
	// Skipped says why scale-down would not run in this cycle.
	Skipped string    `json:"skipped,omitempty"`
	Remove  []Removal `json:"remove,omitempty"`
	Kept    []Kept    `json:"kept,omitempty"`
}

// Removal is a node that would go.
type Removal struct {
	Node        string   `json:"node"`
	Pool        string   `json:"pool"`
	Group       string   `json:"group"`
	Empty       bool     `json:"empty"`
	Utilization float64  `json:"utilization"`
	Evict       []string `json:"evict,omitempty"`
	CostPerHour float64  `json:"costPerHour"`
}

// Kept is a node that stays, and what keeps it.
type Kept struct {
	Node   string `json:"node"`
	Reason string `json:"reason"`
	Detail string `json:"detail,omitempty"`
}

// Capacity is the cluster's nodes and their price.
type Capacity struct {
	Nodes int `json:"nodes"`
	// Pools counts the nodes of each pool, by name (instances, counted or
	// asked).
	Pools       map[string]int `json:"pools,omitempty"`
	CostPerHour float64        `json:"costPerHour"`
	// Unpriced counts the nodes whose price is unknown (not counted).
	Unpriced int `json:"unpriced,omitempty"`
}

// Source is where a what-if plans from.
type Source struct {
	// Files are the snapshot's files, none for the live cluster.
	Files []string `json:"files,omitempty"`
	// Pools is the pools file giving the node groups, "" when the live
	// cloud's groups are read.
	Pools string `json:"pools,omitempty"`
}

// Where is where the objects were read: "the files" or "the cluster".
func (s Source) Where() string {
	if len(s.Files) > 0 {
		return "the files"
	}
	return "the cluster"
}

// backoff says which pools the plan takes as backed off.
func (s Source) backoff() string {
	if s.Pools != "" {
		return "no pool is backed off (the groups come from " + s.Pools + ", no cloud is read)"
	}
	return "pools are backed off only for the failed launches the cloud reports now"
}

// Build makes the Plan of a simulated cycle over objs' nodes, read from
// src; the alternatives of each increase are planned per pool.
func Build(ctx context.Context, sim loop.Simulation, o loop.Options, nodes []*corev1.Node, src Source) Plan {
	cyc := sim.Cycle
	n := poolNames(sim.Groups)
	p := Plan{
		Time: sim.Now.UTC().Format(time.RFC3339),
		Settings: Settings{Expanders: o.Expanders, ScaleDownEnabled: o.ScaleDownEnabled,
			ScaleDownUtilizationThreshold: o.ScaleDown.UtilizationThreshold, ScaleDownUnneededTime: o.ScaleDown.UnneededTime.String()},
		Assumptions: []string{
			"nothing is changed: the plan is what one cycle of the controller would do now",
			fmt.Sprintf("every node found unneeded is taken as unneeded since %s (longer than the unneeded time)", sim.UnneededSince.UTC().Format(time.RFC3339)),
			"no scale-up or node removal happened recently (no scale-down delay applies), and " + src.backoff(),
		},
		ScaleUp: []ScaleUp{}, FitExisting: cyc.Plan.Placed, Ignored: cyc.Status.LastDecision.Ignored, SkippedPools: n.keyed(cyc.Plan.Skipped),
	}
	if p.Settings.Expanders == "" {
		p.Settings.Expanders = "least-waste"
	}
	if h := cyc.Status.ClusterHealth; h != nil && !h.Healthy {
		p.Unhealthy = h.Reason
	}
	for _, inc := range cyc.Plan.Increases {
		p.ScaleUp = append(p.ScaleUp, ScaleUp{Pool: n.of(inc.Group), Group: inc.Group, InstanceType: inc.InstanceType,
			Nodes: inc.Delta, Pods: inc.Pods, CostPerHour: inc.Cost, Reason: inc.Reason,
			Alternatives: alternatives(sim.Alternatives(ctx, inc.Pods), inc.Group, n)})
	}
	for _, k := range slices.Sorted(maps.Keys(cyc.Plan.Unschedulable)) {
		p.NotHelped = append(p.NotHelped, PodPools{Pod: k, Pools: n.keyed(cyc.Plan.Unschedulable[k])})
	}
	for k, why := range cyc.Plan.Unsupported {
		if p.Unsupported == nil {
			p.Unsupported = map[string]string{}
		}
		p.Unsupported[k] = string(why)
	}
	p.ScaleDown = scaleDown(cyc, nodes, n)
	p.Before, p.After = capacity(sim, nodes, n)
	return p
}

// alternatives turns the per-group plans of an increase's pods into what
// each group other than chosen would do.
func alternatives(plans map[string]autoscaler.Plan, chosen string, n names) []Alternative {
	var out []Alternative
	for _, id := range slices.SortedFunc(maps.Keys(plans), func(a, b string) int { return strings.Compare(n.of(a), n.of(b)) }) {
		if id == chosen {
			continue
		}
		pl := plans[id]
		a := Alternative{Pool: n.of(id), Group: id}
		switch {
		case len(pl.Increases) > 0:
			a.InstanceType, a.Nodes, a.Pods, a.CostPerHour = pl.Increases[0].InstanceType, pl.Totals.Nodes, pl.Totals.Pods, pl.Totals.Cost
			if n := len(pl.Unschedulable); n > 0 {
				a.Reason = fmt.Sprintf("%d pod(s) do not fit", n)
			}
		case pl.Skipped[id] != "":
			a.Reason = pl.Skipped[id]
		default:
			a.Reason = firstReason(pl, id)
		}
		out = append(out, a)
	}
	return out
}

// firstReason is why group id helps none of plan's pods, for the first.
func firstReason(plan autoscaler.Plan, id string) string {
	for _, k := range slices.Sorted(maps.Keys(plan.Unschedulable)) {
		return k + ": " + plan.Unschedulable[k][id]
	}
	for _, k := range slices.Sorted(maps.Keys(plan.Unsupported)) {
		return k + ": kelp cannot simulate it: " + string(plan.Unsupported[k])
	}
	return "no new node needed"
}

// scaleDown lists the removals and the nodes kept, by name.
func scaleDown(cyc loop.Cycle, nodes []*corev1.Node, n names) ScaleDown {
	sd := ScaleDown{Skipped: cyc.ScaleDown.Skipped}
	if !cyc.ScaleDown.Enabled && sd.Skipped == "" {
		sd.Skipped = "scale-down is disabled"
	}
	for _, r := range cyc.ScaleDownPlan.Remove {
		sd.Remove = append(sd.Remove, Removal{Node: r.Node, Pool: n.of(r.Group), Group: r.Group, Empty: r.Empty, Utilization: r.Utilization,
			Evict: r.Evict, CostPerHour: nodePrice(find(nodes, r.Node))})
	}
	for _, n := range slices.Sorted(maps.Keys(cyc.ScaleDownPlan.Blocked)) {
		b := cyc.ScaleDownPlan.Blocked[n]
		sd.Kept = append(sd.Kept, Kept{Node: n, Reason: string(b.Reason), Detail: b.Detail})
	}
	return sd
}

// capacity counts the nodes and their price before and after the plan.
func capacity(sim loop.Simulation, nodes []*corev1.Node, n names) (before, after Capacity) {
	before = Capacity{Nodes: len(nodes), Pools: map[string]int{}}
	for _, n := range nodes {
		if pr := nodePrice(n); pr > 0 {
			before.CostPerHour += pr
		} else {
			before.Unpriced++
		}
	}
	for _, g := range sim.Groups {
		before.Pools[n.of(g.ID)] = g.TargetSize
	}
	after = before
	after.Pools = maps.Clone(before.Pools)
	for _, inc := range sim.Cycle.Plan.Increases {
		after.Nodes += inc.Delta
		after.Pools[n.of(inc.Group)] += inc.Delta
		after.CostPerHour += inc.Cost
	}
	for _, r := range sim.Cycle.ScaleDownPlan.Remove {
		after.Nodes--
		after.Pools[n.of(r.Group)]--
		pr := nodePrice(find(nodes, r.Node))
		after.CostPerHour -= pr
		if pr == 0 {
			after.Unpriced--
		}
	}
	return before, after
}

// nodePrice is the catalog's price of a node's instance type and capacity
// type (kelp.dev/capacity-type, on-demand by default), 0 when unknown.
func nodePrice(n *corev1.Node) float64 {
	if n == nil {
		return 0
	}
	ct := catalog.CapacityType(n.Labels[pool.CapacityTypeLabel])
	if ct == "" {
		ct = catalog.CapacityTypeOnDemand
	}
	pr, err := catalog.Price(n.Labels[corev1.LabelInstanceTypeStable], ct)
	if err != nil {
		return 0
	}
	return pr
}

func find(nodes []*corev1.Node, name string) *corev1.Node {
	i := slices.IndexFunc(nodes, func(n *corev1.Node) bool { return n.Name == name })
	if i < 0 {
		return nil
	}
	return nodes[i]
}
