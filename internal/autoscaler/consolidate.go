// Consolidating a plan before it is returned: planned nodes whose pods fit
// the other planned nodes are dropped, and planned nodes that a cheaper
// type of their group holds are resized, as Karpenter's consolidation
// does with running nodes, but inside the plan, before anything is
// applied.

package autoscaler

import (
	"cmp"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"

	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/simulator"
)

// maxResizeTries bounds the cheaper types tried per planned node.
const maxResizeTries = 3

// shaveRounds is how many times shaveNodes and resizeNodes run: each
// resize leaves new nodes with the room for pods a later shave moves.
const shaveRounds = 3

// consolidation is the state of one consolidate call.
type consolidation struct {
	removed []int // per increase, nodes dropped
	added   []int // per increase, nodes added by resizing
	types   map[string][]cloud.InstanceType
	room    map[[2]string]simulator.Resources
	// stuck holds the group ID and equivalence key of the pods that found
	// no other planned node: moves only take room, so a later node
	// holding such a pod is not tried.
	stuck map[[2]string]bool
	// cheap memoises cheapest; moved is set once shaveNodes moved a pod.
	cheap map[cheapKey]float64
	moved bool
}

// consolidate improves the finished rounds' plan on the working snapshot:
// first it drops the planned nodes, least used first, whose pods all fit
// other planned nodes of their group (the simulator's predicates, the
// hostname spread of the pods already there included, hold after the
// move; the group, so its zones and the expanders' choice of pool); then it replaces each planned node by the cheapest type of its
// group that holds its pods, when cheaper. Every try is undone with
// Snapshot.Mark/Rollback when it fails; each costs O(nodes + pods) per pod
// tried, so the pass is O(planned pods × (nodes + pods)). It stops at the
// time budget and leaves a truncated plan alone. After merging and
// resizing, shaveNodes and resizeNodes run shaveRounds times: pods move
// off nodes that a cheaper type holds without them, onto nodes with the
// room or nodes that move up a type for less.
func (p *planner) consolidate() {
	if p.plan.Truncated != nil || len(p.newNode) == 0 {
		return
	}
	c := &consolidation{
		removed: make([]int, len(p.plan.Increases)),
		added:   make([]int, len(p.plan.Increases)),
		types:   map[string][]cloud.InstanceType{},
		room:    map[[2]string]simulator.Resources{},
		stuck:   map[[2]string]bool{},
		cheap:   map[cheapKey]float64{},
	}
	p.emptyNodes(c, p.plannedNodes())
	p.mergeNodes(c)
	p.resizeNodes(c)
	for range shaveRounds {
		p.shaveNodes(c)
		p.resizeNodes(c)
	}
	p.settleIncreases(c)
}

// plannedNodes returns the planned nodes in snapshot order.
func (p *planner) plannedNodes() []string {
	var out []string
	for _, n := range p.work.NodeNames() {
		if _, ok := p.newNode[n]; ok {
			out = append(out, n)
		}
	}
	return out
}

// outOfTime says whether the time budget is spent.
func (p *planner) outOfTime() bool {
	b := p.in.Budget
	return !b.Deadline.IsZero() && b.Now != nil && !b.Now().Before(b.Deadline)
}

// plannedPods returns the pending pods planned on node info (not its
// daemon pods), those with required anti-affinity first: they are the
// likeliest to fit nowhere else.
func (p *planner) plannedPods(info simulator.NodeInfo) []*simulator.Pod {
	var pods []*simulator.Pod
	for _, q := range info.Pods {
		if _, ok := p.planned[q.Key()]; ok {
			pods = append(pods, q)
		}
	}
	slices.SortStableFunc(pods, func(a, b *simulator.Pod) int { return cmp.Compare(antiRank(a), antiRank(b)) })
	return pods
}

func antiRank(q *simulator.Pod) int {
	if a := q.Object().Spec.Affinity; a != nil && a.PodAntiAffinity != nil &&
		len(a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution) > 0 {
		return 0
	}
	return 1
}

// emptyNodes drops the planned nodes whose pods fit other planned nodes,
// least used first.
func (p *planner) emptyNodes(c *consolidation, names []string) {
	use := make(map[string]float64, len(names))
	for _, n := range names {
		info, _ := p.work.Node(n)
		use[n] = max(ratio(info.Requested.MilliCPU, info.Allocatable.MilliCPU), ratio(info.Requested.Memory, info.Allocatable.Memory))
	}
	order := slices.Clone(names)
	slices.SortStableFunc(order, func(a, b string) int { return cmp.Compare(use[a], use[b]) })
	for _, n := range order {
		if p.outOfTime() {
			return
		}
		idx := p.newNode[n]
		if p.tryEmpty(c, n) {
			c.removed[idx]++
			delete(p.newNode, n)
		}
	}
}

func ratio(a, b int64) float64 {
	if b <= 0 {
		return 1
	}
	return float64(a) / float64(b)
}

// tryEmpty moves the pods of planned node name onto the first other
// planned nodes of its group they fit, and removes it; when one does not
// fit, or a hostname spread constraint of a pod on a receiving node no
// longer holds, it undoes everything and returns false.
func (p *planner) tryEmpty(c *consolidation, name string) bool {
	info, ok := p.work.Node(name)
	if !ok {
		return false
	}
	pods := p.plannedPods(info)
	group := p.plan.Increases[p.newNode[name]].Group
	if slices.ContainsFunc(pods, func(q *simulator.Pod) bool { return c.stuck[[2]string{group, q.EquivalenceKey()}] }) {
		return false
	}
	mark := p.work.Mark()
	ok = p.work.RemoveNode(name) == nil
	dests := map[string]bool{}
	for _, q := range pods {
		if !ok {
			break
		}
		dest := ""
		for _, f := range simulator.FitNodes(p.work, q).Fit {
			if j, planned := p.newNode[f]; planned && f != name && p.plan.Increases[j].Group == group {
				dest = f
				break
			}
		}
		if dest == "" {
			c.stuck[[2]string{group, q.EquivalenceKey()}] = true
		}
		ok = dest != "" && p.work.AddPod(dest, q) == nil
		dests[dest] = true
	}
	if ok {
		ok = p.spreadHolds(dests)
	}
	if !ok {
		p.work.Rollback(mark)
	}
	return ok
}

// spreadHolds checks that every planned pod with a DoNotSchedule spread
// constraint on the nodes dests still fits its node without itself: the
// pods moved there raised the nodes' counts.
func (p *planner) spreadHolds(dests map[string]bool) bool {
	for _, d := range slices.Sorted(mapKeys(dests)) {
		info, _ := p.work.Node(d)
		for _, q := range info.Pods {
			if _, ok := p.planned[q.Key()]; !ok || !hardSpread(q) {
				continue
			}
			if p.work.RemovePod(d, q.Key()) != nil {
				return false
			}
			fits, _ := simulator.Fits(p.work, q, d)
			if p.work.AddPod(d, q) != nil || !fits {
				return false
			}
		}
	}
	return true
}

func hardSpread(q *simulator.Pod) bool {
	return slices.ContainsFunc(q.Object().Spec.TopologySpreadConstraints, func(c corev1.TopologySpreadConstraint) bool {
		return c.WhenUnsatisfiable == corev1.DoNotSchedule
	})
}

func mapKeys(m map[string]bool) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// settleIncreases brings the increases in line with the planned nodes
// left: their node counts, costs and pods; an increase left with no node
// is dropped.
func (p *planner) settleIncreases(c *consolidation) {
	changed := c.moved
	for i := range p.plan.Increases {
		changed = changed || c.removed[i] > 0 || c.added[i] > 0
	}
	if !changed {
		return
	}
	pods := make([][]string, len(p.plan.Increases))
	for _, n := range p.plannedNodes() {
		idx := p.newNode[n]
		info, _ := p.work.Node(n)
		for _, q := range info.Pods {
			if _, ok := p.planned[q.Key()]; ok {
				pods[idx] = append(pods[idx], q.Key())
			}
		}
	}
	var kept []Increase
	for i, inc := range p.plan.Increases {
		inc.Pods = pods[i] // pods may have moved onto an increase's nodes
		if c.removed[i] == 0 && c.added[i] == 0 {
			kept = append(kept, inc)
			continue
		}
		price := 0.0
		if it, ok := p.group(inc.Group).Template.InstanceType(inc.InstanceType); ok {
			price = it.Price
		}
		d := c.added[i] - c.removed[i]
		inc.Delta += d
		inc.Cost += float64(d) * price
		p.grown[inc.Group] += d
		inc.Reason = consolidated(inc.Reason, c.removed[i], c.added[i])
		if inc.Delta > 0 {
			kept = append(kept, inc)
		}
	}
	p.plan.Increases = kept
}

// consolidated appends to reason what consolidation changed.
func consolidated(reason string, removed, added int) string {
	var notes []string
	if removed > 0 {
		notes = append(notes, fmt.Sprintf("%d node(s) dropped or resized: their pods fit elsewhere", removed))
	}
	if added > 0 {
		notes = append(notes, fmt.Sprintf("%d node(s) of this cheaper type hold the pods planned on dearer ones", added))
	}
	for _, n := range notes {
		if reason != "" {
			reason += "; "
		}
		reason += n
	}
	return reason
}

// resizeNodes replaces each planned node, in snapshot order, by a node of
// the cheapest type of its group that holds its pods, when cheaper: up to
// maxResizeTries types whose room (allocatable less daemon pods) holds the
// pods' requests are tried with the simulator's predicates.
func (p *planner) resizeNodes(c *consolidation) {
	for _, n := range p.plannedNodes() {
		if p.outOfTime() {
			return
		}
		idx := p.newNode[n]
		inc := p.plan.Increases[idx]
		g := p.group(inc.Group)
		cur, ok := g.Template.InstanceType(inc.InstanceType)
		if !ok {
			continue
		}
		info, _ := p.work.Node(n)
		pods := p.plannedPods(info)
		var need simulator.Resources
		for _, q := range pods {
			need.Add(q.Requests())
		}
		tries := 0
		for _, it := range p.byPrice(c, g) {
			if it.Price >= cur.Price || tries >= maxResizeTries {
				break
			}
			if !p.holds(c, g, it, need, cur) {
				continue
			}
			tries++
			if p.tryResize(c, n, g, it, pods) {
				c.removed[idx]++
				break
			}
		}
	}
}

// byPrice returns group g's instance types with a price, cheapest first.
func (p *planner) byPrice(c *consolidation, g cloud.NodeGroup) []cloud.InstanceType {
	if ts, ok := c.types[g.ID]; ok {
		return ts
	}
	ts := slices.DeleteFunc(slices.Clone(g.Template.InstanceTypes), func(it cloud.InstanceType) bool { return it.Price <= 0 })
	slices.SortStableFunc(ts, func(a, b cloud.InstanceType) int { return cmp.Compare(a.Price, b.Price) })
	c.types[g.ID] = ts
	return ts
}

// holds says whether a new node of type it in group g has the room for
// requests need (pods counted), and, under cluster limits, has no more
// cores and memory than the types it replaces, was.
func (p *planner) holds(c *consolidation, g cloud.NodeGroup, it cloud.InstanceType, need simulator.Resources, was ...cloud.InstanceType) bool {
	if l := p.in.Limits; l.MaxNodesTotal > 0 || l.MaxCoresTotal > 0 || l.MaxMemoryTotal > 0 {
		var cc, cm int64
		for _, w := range was {
			wc, wm := typeCapacity(w)
			cc, cm = cc+wc, cm+wm
		}
		ic, im := typeCapacity(it)
		if ic > cc || im > cm {
			return false
		}
	}
	key := [2]string{g.ID, it.Name}
	room, ok := c.room[key]
	if !ok {
		tmpl, ds, found := p.template(g, it)
		if !found {
			room = simulator.Resources{MilliCPU: -1}
		} else {
			room = simulator.ResourcesFromList(tmpl.Status.Allocatable)
			for _, d := range ds {
				room.Sub(d.Requests()) // a pod's requests count it: Pods 1
			}
		}
		c.room[key] = room
	}
	return room.MilliCPU >= need.MilliCPU && room.Memory >= need.Memory && room.Pods >= need.Pods &&
		room.EphemeralStorage >= need.EphemeralStorage && scalarsHeld(room, need)
}

func scalarsHeld(room, need simulator.Resources) bool {
	for k, v := range need.Scalar {
		if room.Scalar[k] < v {
			return false
		}
	}
	return true
}

// tryResize replaces planned node name of group g by a new node of type
// it holding pods, when they all fit it. The pods are tried on the new
// node alone, in a scratch snapshot (resources, static predicates and the
// pods' constraints among themselves): the new node is in the old one's
// zone with the same pods, so every topology domain keeps its counts.
func (p *planner) tryResize(c *consolidation, name string, g cloud.NodeGroup, it cloud.InstanceType, pods []*simulator.Pod) bool {
	if !p.fitAlone(g, it, pods) {
		return false
	}
	return p.replaceNode(c, name, g, it, pods) != ""
}

// replaceNode replaces planned node name of group g by a new node of type
// it holding pods, which the caller checked with fitAlone, and returns the
// new node's name ("" when group g has no template for it).
func (p *planner) replaceNode(c *consolidation, name string, g cloud.NodeGroup, it cloud.InstanceType, pods []*simulator.Pod) string {
	tmpl, ds, ok := p.template(g, it)
	if !ok {
		return ""
	}
	p.seq++
	fresh := fmt.Sprintf("%s-new-%d", tmpl.Name, p.seq)
	if p.work.RemoveNode(name) != nil || p.work.AddTemplateNode(tmpl, fresh, ds) != nil {
		return "" // not reached: name is planned, fresh is new
	}
	for _, q := range pods {
		_ = p.work.AddPod(fresh, q) // fresh holds them, as in scratch
	}
	delete(p.newNode, name)
	p.addPlanned(c, g, it, fresh)
	return fresh
}

// addPlanned counts node, of type it in group g, made by consolidation,
// in the increase of that group and type (a new one if none).
func (p *planner) addPlanned(c *consolidation, g cloud.NodeGroup, it cloud.InstanceType, node string) {
	idx := slices.IndexFunc(p.plan.Increases, func(inc Increase) bool {
		return inc.Group == g.ID && inc.InstanceType == it.Name
	})
	if idx < 0 {
		p.plan.Increases = append(p.plan.Increases, Increase{Group: g.ID, InstanceType: it.Name})
		c.removed, c.added = append(c.removed, 0), append(c.added, 0)
		idx = len(p.plan.Increases) - 1
	}
	c.added[idx]++
	p.newNode[node] = idx
}

// fitAlone says whether pods all fit a fresh node of type it in group g
// alone, in a scratch snapshot: resources, static predicates and the
// pods' constraints among themselves.
func (p *planner) fitAlone(g cloud.NodeGroup, it cloud.InstanceType, pods []*simulator.Pod) bool {
	tmpl, ds, ok := p.template(g, it)
	if !ok {
		return false
	}
	scratch := simulator.NewSnapshot()
	if scratch.AddTemplateNode(tmpl, "scratch", ds) != nil {
		return false
	}
	for _, q := range pods {
		if fits, _ := simulator.Fits(scratch, q, "scratch"); !fits || scratch.AddPod("scratch", q) != nil {
			return false
		}
	}
	return true
}
