package autoscaler

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/simulator"
)

// scaleDownPlanner is the state of one PlanScaleDown call.
type scaleDownPlanner struct {
	in   ScaleDownInput
	o    ScaleDownOptions
	base *simulator.Snapshot // the snapshot without template and in-progress nodes
	// groups by ID; instances maps a providerID to its instance's group
	// and ID.
	groups    map[string]cloud.NodeGroup
	instances map[string]instanceRef
	inflight  map[string]int // group ID → nodes in progress
	pdbs      []*pdbState
	moved     map[string]*simulator.Pod // pod key → compiled unbound copy
	classes   map[string]*simulator.Pod // equivalence key → first unbound copy compiled
	simulated int                       // non-empty removals simulated by findUnneeded
	// unready are the nodes that are not Ready, out of base (never
	// destinations), as the input's snapshot has them.
	unready map[string]simulator.NodeInfo
	plan    ScaleDownPlan
}

type instanceRef struct{ group, id string }

// candidate is an unneeded node.
type candidate struct {
	name, group, instanceID string
	since                   time.Time
	util                    float64
	unready                 bool
	pods                    []*simulator.Pod // to evict and move, snapshot order
}

func newScaleDownPlanner(in ScaleDownInput) *scaleDownPlanner {
	p := &scaleDownPlanner{
		in: in, o: in.Options,
		groups: map[string]cloud.NodeGroup{}, instances: map[string]instanceRef{}, inflight: map[string]int{},
		pdbs: compilePDBs(in.PDBs), moved: map[string]*simulator.Pod{}, classes: map[string]*simulator.Pod{},
		unready: map[string]simulator.NodeInfo{},
		plan:    ScaleDownPlan{Unneeded: map[string]time.Time{}, Blocked: map[string]Blocker{}},
	}
	for _, g := range in.Groups {
		if _, dup := p.groups[g.ID]; dup {
			continue
		}
		p.groups[g.ID] = g
		for _, inst := range g.Instances {
			if inst.ProviderID != "" && !inst.State.Gone() {
				p.instances[inst.ProviderID] = instanceRef{g.ID, inst.ID}
			}
		}
	}
	snap := in.Snapshot
	if snap == nil {
		snap = simulator.NewSnapshot()
	}
	p.base = snap.Fork()
	var draining []*simulator.Pod
	for _, name := range p.base.NodeNames() {
		info, _ := p.base.Node(name)
		switch {
		case info.Template:
			_ = p.base.RemoveNode(name)
		case in.InProgress[name]:
			p.plan.Blocked[name] = Blocker{Reason: BlockedInProgress}
			if g, ok := p.nodeGroup(info.Node); ok {
				p.inflight[g.ID]++
			}
			draining = append(draining, p.movable(info.Pods)...)
			_ = p.base.RemoveNode(name)
		case in.Unready[name]:
			p.unready[name] = info
			_ = p.base.RemoveNode(name)
		}
	}
	// The pods of nodes being drained will need room too: place them where
	// they fit (best effort: the scheduler, not this plan, decides).
	_, _ = p.place(p.base, draining, false)
	return p
}

// nodeGroup returns the group of node, checking that its instance is one of
// the group's.
func (p *scaleDownPlanner) nodeGroup(node *corev1.Node) (cloud.NodeGroup, bool) {
	g, ok := p.groups[p.in.NodeGroups[node.Name]]
	if !ok {
		return cloud.NodeGroup{}, false
	}
	ref, ok := p.instances[node.Spec.ProviderID]
	return g, ok && ref.group == g.ID
}

// counted returns the pods that count in a node's utilization, as
// cluster-autoscaler's: every pod but mirror pods, pods in a terminal
// phase or being deleted, and (with IgnoreDaemonSetsUtilization)
// DaemonSet pods.
func (p *scaleDownPlanner) counted(pods []*simulator.Pod) []*simulator.Pod {
	var out []*simulator.Pod
	for _, q := range pods {
		obj := q.Object()
		switch {
		case obj == nil || gone(obj):
		case isDaemonSetPod(obj):
			if !p.o.IgnoreDaemonSetsUtilization {
				out = append(out, q)
			}
		case IsDaemonOrMirrorPod(obj): // a mirror pod
		default:
			out = append(out, q)
		}
	}
	return out
}

// movable returns the pods that must move when their node goes.
func (p *scaleDownPlanner) movable(pods []*simulator.Pod) []*simulator.Pod {
	var out []*simulator.Pod
	for _, q := range pods {
		if obj := q.Object(); obj != nil && !IgnoredByScaleDown(obj) {
			out = append(out, q)
		}
	}
	return out
}

// findUnneeded checks every node alone and returns the unneeded ones;
// every other node gets its Blocker. Removals of non-empty nodes are
// simulated within the round's candidates pool: the nodes unneeded in the
// last round first, then the others in snapshot order.
func (p *scaleDownPlanner) findUnneeded() []candidate {
	var out []candidate
	names := append(p.base.NodeNames(), slices.Sorted(maps.Keys(p.unready))...)
	slices.SortStableFunc(names, func(a, b string) int {
		_, pa := p.in.UnneededSince[a]
		_, pb := p.in.UnneededSince[b]
		switch {
		case pa == pb:
			return 0
		case pa:
			return -1
		}
		return 1
	})
	pool := p.o.candidatesPool(len(names))
	for _, name := range names {
		info, ok := p.base.Node(name)
		if !ok {
			info = p.unready[name]
		}
		c, b := p.precheck(info)
		if b == nil && len(c.pods) > 0 {
			if pool > 0 && p.simulated >= pool {
				b = &Blocker{BlockedCandidatesPoolFull, fmt.Sprintf("%d removal(s) simulated this round", p.simulated)}
			} else {
				p.simulated++
				b = p.simulate(c)
			}
		}
		if b != nil {
			p.plan.Blocked[name] = *b
			continue
		}
		c.since = p.in.Now
		if t, ok := p.in.UnneededSince[name]; ok && !t.IsZero() && !t.After(p.in.Now) {
			c.since = t
		}
		p.plan.Unneeded[name] = c.since
		out = append(out, c)
	}
	return out
}

// precheck returns the node as a candidate, or why it is not unneeded,
// from the node alone; simulate then says whether its pods fit elsewhere.
func (p *scaleDownPlanner) precheck(info simulator.NodeInfo) (candidate, *Blocker) {
	node := info.Node
	g, ok := p.nodeGroup(node)
	if !ok {
		return candidate{}, &Blocker{BlockedNotAutoscaled, fmt.Sprintf("no node group has the instance %q", node.Spec.ProviderID)}
	}
	if node.Annotations[AnnotationScaleDownDisabled] == "true" {
		return candidate{}, &Blocker{Reason: BlockedScaleDownDisabled}
	}
	_, unready := p.unready[node.Name]
	if unready && !p.o.UnreadyEnabled {
		return candidate{}, &Blocker{Reason: BlockedUnreadyDisabled}
	}
	c := candidate{name: node.Name, group: g.ID, instanceID: p.instances[node.Spec.ProviderID].id, pods: p.movable(info.Pods), unready: unready}
	c.util = utilization(info.Allocatable, p.counted(info.Pods))
	if c.util >= p.o.UtilizationThreshold {
		return candidate{}, &Blocker{BlockedNotUnderutilized, fmt.Sprintf("utilization %.2f, threshold %.2f", c.util, p.o.UtilizationThreshold)}
	}
	objs := podObjects(c.pods)
	for _, obj := range objs {
		if b := podBlocker(obj, p.pdbs, p.o); b != nil {
			return candidate{}, b
		}
	}
	if b, _ := pdbBlocker(objs, p.pdbs, nil); b != nil {
		return candidate{}, b
	}
	return c, nil
}

// simulate returns why c's pods cannot all move to the other nodes, nil
// when they can.
func (p *scaleDownPlanner) simulate(c candidate) *Blocker {
	f := p.base.Fork()
	_ = f.RemoveNode(c.name)
	if key, why := p.place(f, c.pods, true); key != "" {
		return &Blocker{BlockedNoPlaceToMove, fmt.Sprintf("pod %s: %s", key, why)}
	}
	return nil
}

// selectRemovals picks, among the unneeded candidates, the nodes to remove
// now; every other candidate gets its Blocker.
func (p *scaleDownPlanner) selectRemovals(cands []candidate) {
	if b := p.delay(); b != nil {
		for _, c := range cands {
			p.plan.Blocked[c.name] = *b
		}
		return
	}
	var ready []candidate
	for _, c := range cands {
		g := p.groups[c.group]
		switch {
		case g.TargetSize-p.inflight[g.ID] <= g.MinSize:
			p.plan.Blocked[c.name] = Blocker{BlockedMinSize, fmt.Sprintf("group %s: target size %d, %d being removed, min size %d", g.ID, g.TargetSize, p.inflight[g.ID], g.MinSize)}
		case c.unready && p.in.Now.Sub(c.since) < p.o.UnreadyTime:
			p.plan.Blocked[c.name] = Blocker{BlockedNotUnreadyLongEnough, fmt.Sprintf("unready and unneeded since %s, removed after %s", c.since.UTC().Format(time.RFC3339), p.o.UnreadyTime)}
		case !c.unready && p.in.Now.Sub(c.since) < p.o.UnneededTime:
			p.plan.Blocked[c.name] = Blocker{BlockedNotUnneededLongEnough, fmt.Sprintf("unneeded since %s, removed after %s", c.since.UTC().Format(time.RFC3339), p.o.UnneededTime)}
		default:
			ready = append(ready, c)
		}
	}
	// Empty nodes first (cheap and safe), then the least utilized.
	slices.SortStableFunc(ready, func(a, b candidate) int {
		if ea, eb := len(a.pods) == 0, len(b.pods) == 0; ea != eb {
			if ea {
				return -1
			}
			return 1
		}
		return cmp.Or(cmp.Compare(a.util, b.util), cmp.Compare(a.name, b.name))
	})
	r := removalRound{work: p.base.Fork(), removed: map[string]int{}, spent: map[*pdbState]int32{}, drains: len(p.in.InProgress)}
	for _, c := range ready {
		if b := p.tryRemove(&r, c); b != nil {
			p.plan.Blocked[c.name] = *b
		}
	}
}

// removalRound is the state of the removals chosen so far.
type removalRound struct {
	work    *simulator.Snapshot // without the nodes removed so far
	removed map[string]int      // group ID → nodes removed
	spent   map[*pdbState]int32 // disruptions used
	empty   int
	drains  int // non-empty removals, in progress included
}

// tryRemove adds c to the round's removals, or says why it cannot.
func (p *scaleDownPlanner) tryRemove(r *removalRound, c candidate) *Blocker {
	g := p.groups[c.group]
	if room := g.TargetSize - g.MinSize - p.inflight[g.ID] - r.removed[g.ID]; room <= 0 {
		return &Blocker{BlockedMinSize, fmt.Sprintf("group %s: target size %d, %d being removed, %d removed this round, min size %d",
			g.ID, g.TargetSize, p.inflight[g.ID], r.removed[g.ID], g.MinSize)}
	}
	empty := len(c.pods) == 0
	if empty && r.empty >= p.o.MaxEmptyBulkDelete {
		return &Blocker{BlockedMaxEmptyBulkDelete, fmt.Sprintf("%d empty node(s) removed this round", r.empty)}
	}
	if !empty && r.drains >= p.o.MaxDrainParallelism {
		return &Blocker{BlockedMaxDrainParallelism, fmt.Sprintf("%d drain(s) in progress or chosen", r.drains)}
	}
	objs := podObjects(c.pods)
	b, used := pdbBlocker(objs, p.pdbs, r.spent)
	if b != nil {
		return b
	}
	f := r.work.Fork()
	_ = f.RemoveNode(c.name)
	if key, why := p.place(f, c.pods, true); key != "" {
		return &Blocker{BlockedNoPlaceToMove, fmt.Sprintf("pod %s once the nodes removed this round are gone: %s", key, why)}
	}
	r.work = f
	r.removed[g.ID]++
	for b, n := range used {
		r.spent[b] += n
	}
	if empty {
		r.empty++
	} else {
		r.drains++
	}
	rm := NodeRemoval{Node: c.name, Group: c.group, InstanceID: c.instanceID, Empty: empty, Utilization: c.util}
	for _, q := range c.pods {
		rm.Evict = append(rm.Evict, q.Key())
	}
	p.plan.Remove = append(p.plan.Remove, rm)
	return nil
}

// delay returns the scale-down delay in effect, nil when none is.
func (p *scaleDownPlanner) delay() *Blocker {
	for _, d := range []struct {
		last   time.Time
		delay  time.Duration
		reason BlockReason
	}{
		{p.in.LastScaleUp, p.o.DelayAfterAdd, BlockedDelayAfterAdd},
		{p.in.LastDelete, p.o.DelayAfterDelete, BlockedDelayAfterDelete},
		{p.in.LastDeleteFailure, p.o.DelayAfterFailure, BlockedDelayAfterFailure},
	} {
		if until := d.last.Add(d.delay); !d.last.IsZero() && p.in.Now.Before(until) {
			return &Blocker{d.reason, "until " + until.UTC().Format(time.RFC3339)}
		}
	}
	return nil
}

// place places pods, unbound, first-fit on s. With all, it stops at the
// first pod that fits nowhere and returns its key and why; otherwise it
// skips such pods.
func (p *scaleDownPlanner) place(s *simulator.Snapshot, pods []*simulator.Pod, all bool) (string, string) {
	for _, q := range pods {
		m := p.unbound(q)
		_, ok, err := simulator.NewPlacer(s, m).PlaceFirstFit(m)
		if ok && err == nil {
			continue
		}
		if !all {
			continue
		}
		if err != nil {
			return q.Key(), err.Error()
		}
		return q.Key(), whyNoFit(s, m)
	}
	return "", ""
}

// unbound returns q compiled as a pod to schedule: spec.nodeName cleared,
// with the facts the caller resolved for it.
func (p *scaleDownPlanner) unbound(q *simulator.Pod) *simulator.Pod {
	if m, ok := p.moved[q.Key()]; ok {
		return m
	}
	obj := *q.Object()
	obj.Spec.NodeName = ""
	info, resolved := p.in.PodInfos[q.Key()]
	info.Pod = &obj
	var m *simulator.Pod
	if resolved {
		m = simulator.NewPod(info)
	} else {
		// Replicas share one compiled spec, and with it the simulator's
		// cached static verdicts.
		eq := simulator.EquivalenceKey(&obj)
		if rep, ok := p.classes[eq]; ok {
			m = rep.Replica(&obj)
		} else {
			m = simulator.NewPod(info)
			p.classes[eq] = m
		}
	}
	p.moved[q.Key()] = m
	return m
}

// whyNoFit summarizes why m fits no node of s: its unsupported reason, or
// the most common reason over the nodes.
func whyNoFit(s *simulator.Snapshot, m *simulator.Pod) string {
	res := simulator.FitNodes(s, m)
	if res.Unsupported != simulator.ReasonNone {
		return string(res.Unsupported)
	}
	if len(res.Reasons) == 0 {
		return "no other node"
	}
	count := map[simulator.Reason]int{}
	for _, r := range res.Reasons {
		count[r]++
	}
	var best simulator.Reason
	for r, n := range count {
		if n > count[best] || (n == count[best] && r < best) {
			best = r
		}
	}
	return fmt.Sprintf("%s (%d of %d node(s))", best, count[best], len(res.Reasons))
}

// utilization is max(cpu, memory) requested by pods / allocatable.
func utilization(alloc simulator.Resources, pods []*simulator.Pod) float64 {
	var req simulator.Resources
	for _, q := range pods {
		req.Add(q.Requests())
	}
	u := 0.0
	if alloc.MilliCPU > 0 {
		u = max(u, float64(req.MilliCPU)/float64(alloc.MilliCPU))
	}
	if alloc.Memory > 0 {
		u = max(u, float64(req.Memory)/float64(alloc.Memory))
	}
	return u
}

func podObjects(pods []*simulator.Pod) []*corev1.Pod {
	out := make([]*corev1.Pod, len(pods))
	for i, q := range pods {
		out[i] = q.Object()
	}
	return out
}
