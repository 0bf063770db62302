package whatif

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	corev1 "k8s.io/api/core/v1"

	"github.com/kelp-dev/kelp/internal/autoscaler"
	"github.com/kelp-dev/kelp/internal/autoscaler/loop"
)

// PodCase is one pod's case, as `kelp explain pod` prints it (-o
// json|yaml): its state, what each pool would do for it alone (a pod not
// waiting for a node: its node's case instead), what the simulated cycle
// does for it now, and what past cycles recorded.
type PodCase struct {
	Pod string `json:"pod"`
	// State says whether the pod waits, and for what.
	State string `json:"state"`
	// Scheduler is the scheduler's message, when it could not place it.
	Scheduler string `json:"scheduler,omitempty"`
	// Now is what kelp would do for it now (the simulated cycle's plan,
	// restricted to the pod).
	Now string `json:"now"`
	// Node is what scale-down would do with the node a bound pod runs on.
	Node string `json:"node,omitempty"`
	// Pools are what each pool would do for the pod alone; nil for a pod
	// bound to a node or finished.
	Pools []PoolCase `json:"pools"`
	// History are the records of past cycles: Events and the status.
	History []Record `json:"history,omitempty"`
}

// PoolCase is what one pool would do for the pod alone: grow by Nodes of
// InstanceType, or not and why (each failing predicate in the simulator's
// words). Pool is the pool's name (its group's ID for a group of no pool),
// Group the Auto Scaling group's.
type PoolCase struct {
	Pool         string  `json:"pool"`
	Group        string  `json:"group"`
	Helps        bool    `json:"helps"`
	InstanceType string  `json:"instanceType,omitempty"`
	Nodes        int     `json:"nodes,omitempty"`
	CostPerHour  float64 `json:"costPerHour,omitempty"`
	Reason       string  `json:"reason"`
	// Room is the pod's requests and what a new node of the pool has free
	// (DaemonSet pods counted), when the pool does not help.
	Room *Room `json:"room,omitempty"`
}

// Record is one past decision about the pod.
type Record struct {
	Time   string `json:"time,omitempty"`
	Source string `json:"source"`
	Reason string `json:"reason,omitempty"`
	// Message is the decision in the autoscaler's words.
	Message string `json:"message"`
	Count   int32  `json:"count,omitempty"`
}

// ExplainPod makes pod's case from a simulated cycle over objs (o are its
// options), planning the pod alone on each pool; for a pod bound to a
// node, what scale-down would do with the node instead.
func ExplainPod(ctx context.Context, sim loop.Simulation, o loop.Options, objs loop.Objects, pod *corev1.Pod) PodCase {
	key := pod.Namespace + "/" + pod.Name
	n := poolNames(sim.Groups)
	c := PodCase{Pod: key, State: podState(pod), Scheduler: schedulerMessage(pod), Now: decision(sim, o, pod, n)}
	if pod.Spec.NodeName != "" {
		c.Node = nodeCase(sim, pod.Spec.NodeName, n)
		return c
	}
	if finished(pod) {
		return c
	}
	c.Pools = []PoolCase{}
	plans := sim.WhatIf(ctx, pod)
	for _, g := range sim.Groups {
		pl := plans[g.ID]
		pc := PoolCase{Pool: n.of(g.ID), Group: g.ID}
		switch {
		case pl.Placed[key] != "":
			pc.Reason = "not needed: the pod fits node " + pl.Placed[key]
		case len(pl.Increases) > 0:
			inc := pl.Increases[0]
			pc.Helps, pc.InstanceType, pc.Nodes, pc.CostPerHour = true, inc.InstanceType, inc.Delta, inc.Cost
			pc.Reason = inc.Reason
		case pl.Skipped[g.ID] != "":
			pc.Reason = "cannot grow: " + pl.Skipped[g.ID]
		case pl.Unsupported[key] != "":
			pc.Reason = "kelp cannot simulate the pod: " + string(pl.Unsupported[key])
		default:
			pc.Reason = pl.Unschedulable[key][g.ID]
		}
		if !pc.Helps {
			pc.Room = roomOf(g, pod, objs.DaemonSets)
		}
		c.Pools = append(c.Pools, pc)
	}
	return c
}

// podState says where the pod is in its life, for the autoscaler.
func podState(p *corev1.Pod) string {
	switch {
	case p.DeletionTimestamp != nil:
		return "being deleted"
	case finished(p):
		return fmt.Sprintf("finished (%s): it waits for nothing", p.Status.Phase)
	case p.Spec.NodeName != "":
		return fmt.Sprintf("not pending: it runs on node %s (%s)", p.Spec.NodeName, p.Status.Phase)
	case loop.Unschedulable(p):
		return "pending: the scheduler found no node for it"
	}
	return "pending: the scheduler has not marked it unschedulable (yet), so the autoscaler does not consider it"
}

func finished(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}

// nodeCase says what scale-down would do with node in the simulated cycle.
func nodeCase(sim loop.Simulation, node string, n names) string {
	sd := sim.Cycle.ScaleDownPlan
	for _, r := range sd.Remove {
		if r.Node == node {
			return fmt.Sprintf("a scale-down candidate: it would go (pool %s, utilization %.2f), its pods evicted to other nodes", n.of(r.Group), r.Utilization)
		}
	}
	if b, ok := sd.Blocked[node]; ok {
		return "not a scale-down candidate: it stays (" + b.String() + ")"
	}
	switch {
	case sim.Cycle.ScaleDown.Skipped != "":
		return "scale-down skipped this cycle: " + sim.Cycle.ScaleDown.Skipped
	case !sim.Cycle.ScaleDown.Enabled:
		return "it stays: scale-down is disabled"
	}
	return "it stays: scale-down did not consider it this cycle"
}

func schedulerMessage(p *corev1.Pod) string {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
			return c.Message
		}
	}
	return ""
}

// decision is what the simulated cycle does for the pod.
func decision(sim loop.Simulation, o loop.Options, p *corev1.Pod, n names) string {
	key := p.Namespace + "/" + p.Name
	plan := sim.Cycle.Plan
	switch {
	case finished(p):
		return "nothing: the pod has finished"
	case p.Spec.NodeName != "":
		return "nothing: the pod runs on node " + p.Spec.NodeName + "; kelp has nothing to do for it"
	}
	for _, inc := range plan.Increases {
		if slices.Contains(inc.Pods, key) {
			return fmt.Sprintf("scale up %s by %d %s node(s) ($%.3f/h), with %d pod(s) in all: %s",
				n.of(inc.Group), inc.Delta, inc.InstanceType, inc.Cost, len(inc.Pods), inc.Reason)
		}
	}
	if n := plan.Placed[key]; n != "" {
		return "no scale-up: it fits node " + n + " (existing, or upcoming from an earlier scale-up)"
	}
	if why, ok := plan.Unschedulable[key]; ok {
		if len(why) == 0 {
			return "nothing: there is no pool"
		}
		return "nothing: no pool helps it (" + autoscaler.GroupReasons(n.keyed(why)) + ")"
	}
	if why, ok := plan.Unsupported[key]; ok {
		return "nothing: kelp cannot simulate it: " + string(why)
	}
	if slices.Contains(plan.Deferred, key) {
		return "nothing yet: the cycle's planning budget ran out before it; the next cycle plans it"
	}
	if !loop.Unschedulable(p) {
		return "nothing: it is not unschedulable"
	}
	if h := sim.Cycle.Status.ClusterHealth; h != nil && !h.Healthy {
		return "nothing: the cluster is unhealthy (" + h.Reason + ")"
	}
	exists := func(string) bool { return true }
	if skip := autoscaler.SkipPending(p, exists, *o.WithDefaults().Pending, sim.Now); skip != "" {
		return "nothing: scale-up leaves it out (" + string(skip) + ")"
	}
	return "nothing"
}

// WriteText writes the case for people.
func (c PodCase) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "Pod %s: %s.\n", c.Pod, c.State)
	if c.Scheduler != "" {
		fmt.Fprintf(tw, "Scheduler: %s\n", c.Scheduler)
	}
	fmt.Fprintf(tw, "\nNow kelp would do: %s.\n", c.Now)
	if c.Node != "" {
		fmt.Fprintf(tw, "Its node: %s.\n", c.Node)
	}
	if c.Pools != nil {
		c.writePools(tw)
	}
	if len(c.History) > 0 {
		fmt.Fprintf(tw, "\nPAST CYCLES\n")
	}
	for _, r := range c.History {
		count := ""
		if r.Count > 1 {
			count = fmt.Sprintf(" (x%d)", r.Count)
		}
		fmt.Fprintf(tw, "%s\t%s %s%s\t%s\n", r.Time, r.Source, r.Reason, count, r.Message)
	}
	return tw.Flush()
}

// writePools writes what each pool would do for the pod alone.
func (c PodCase) writePools(tw io.Writer) {
	fmt.Fprintf(tw, "\nPOOL\tHELPS\tWHY\n")
	for _, p := range c.Pools {
		helps := "no"
		if p.Helps {
			helps = fmt.Sprintf("+%d %s ($%.3f/h)", p.Nodes, p.InstanceType, p.CostPerHour)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", p.Pool, helps, p.Reason)
		if p.Room != nil && strings.Contains(p.Reason, "Insufficient") {
			fmt.Fprintf(tw, "\t\t(%s)\n", p.Room)
		}
	}
	if len(c.Pools) == 0 {
		fmt.Fprintf(tw, "(no pool)\n")
	}
}

// Find returns the pod ref, NAMESPACE/NAME, of objs, read from src.
func Find(objs loop.Objects, ref string, src Source) (*corev1.Pod, error) {
	ns, name, ok := strings.Cut(ref, "/")
	if !ok || ns == "" || name == "" || strings.Contains(name, "/") {
		return nil, fmt.Errorf("pod %q: want NAMESPACE/NAME (one slash, e.g. default/web-0)", ref)
	}
	for _, p := range objs.Pods {
		if p.Namespace == ns && p.Name == name {
			return p, nil
		}
	}
	return nil, fmt.Errorf("pod %s not found in %s", ref, src.Where())
}
