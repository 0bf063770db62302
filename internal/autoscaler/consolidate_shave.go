// Shaving planned nodes: moving single pods off a planned node onto
// another planned node with room to spare, or one that moves up a type
// for less than the first saves, when the pods left fit a cheaper type.

package autoscaler

import (
	"slices"

	corev1 "k8s.io/api/core/v1"

	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/simulator"
)

// maxShaveTries bounds the receiving nodes tried with the simulator's
// predicates per pod moved.
const maxShaveTries = 4

// shaveNodes moves pods off planned nodes, group by group in snapshot
// order: a pod (not one with required anti-affinity) leaves its node when
// the node's other pods fit a cheaper type of the group than all its pods
// do, for the first planned node of the group whose type has the room
// left for it (so that node keeps its type: the move only saves), or,
// when none has, for the node whose move up a type costs less than the
// first node's move down saves (upMove: both are replaced at once). Each
// move is checked with the simulator's predicates, hostname spread
// included, and undone when it fails; the nodes are resized afterwards
// (resizeNodes). A pod stays in its group, so in its zone.
func (p *planner) shaveNodes(c *consolidation) {
	names := p.plannedNodes()
	loads := make(map[string]*load, len(names))
	byGroup := map[string][]string{}
	for _, n := range names {
		loads[n] = p.loadOf(n)
		g := p.plan.Increases[p.newNode[n]].Group
		byGroup[g] = append(byGroup[g], n)
	}
	for _, n := range names {
		if p.outOfTime() {
			return
		}
		g := p.group(p.plan.Increases[p.newNode[n]].Group)
		p.shave(c, g, n, byGroup[g.ID], loads)
	}
}

// shave moves the pods of planned node n of group g whose leaving lowers
// the price of the cheapest type holding the rest onto other nodes of
// names with the room; when none has it, onto the node of names whose
// move up a type costs least, if less than n's move down saves (upMove).
func (p *planner) shave(c *consolidation, g cloud.NodeGroup, n string, names []string, loads map[string]*load) {
	ln, ok := loads[n]
	if !ok || hostAffinity(ln.pods) {
		return
	}
	for _, q := range slices.Clone(ln.pods) {
		if antiRank(q) == 0 || len(ln.pods) < 2 {
			continue
		}
		rest := ln.need.Clone()
		rest.Sub(q.Requests())
		if p.cheapest(c, g, rest, ln.it) >= p.cheapest(c, g, ln.need, ln.it) {
			continue
		}
		if p.freeMove(c, g, q, n, names, loads) {
			continue
		}
		if p.upMove(c, g, q, n, names, loads) {
			return // n is replaced
		}
	}
}

// freeMove moves pod q off planned node n onto the first node of names,
// in n's zone, whose type has the room left for it (so that node keeps
// its type), trying up to maxShaveTries with tryMove.
func (p *planner) freeMove(c *consolidation, g cloud.NodeGroup, q *simulator.Pod, n string, names []string, loads map[string]*load) bool {
	ln := loads[n]
	tries := 0
	for _, m := range names {
		lm, ok := loads[m]
		if !ok || m == n || tries >= maxShaveTries {
			continue
		}
		need := lm.need.Clone()
		need.Add(q.Requests())
		if !p.holds(c, g, lm.it, need, lm.it) || crowded(append(slices.Clip(lm.pods), q)) || !p.sameZone(n, m) {
			continue
		}
		tries++
		if p.tryMove(g, lm.it, q, lm.pods, n, m) {
			c.moved = true
			ln.pods = slices.DeleteFunc(ln.pods, func(r *simulator.Pod) bool { return r == q })
			rest := ln.need.Clone()
			rest.Sub(q.Requests())
			ln.need = rest
			lm.pods = append(lm.pods, q)
			lm.need = need
			return true
		}
	}
	return false
}

// cheapest returns the price of the cheapest type of group g that holds
// need (see holds), no dearer than type was; was's price when none is.
func (p *planner) cheapest(c *consolidation, g cloud.NodeGroup, need simulator.Resources, was cloud.InstanceType) float64 {
	key := cheapKey{g.ID, was.Name, need.MilliCPU, need.Memory, need.Pods, need.EphemeralStorage}
	memo := len(need.Scalar) == 0
	if price, ok := c.cheap[key]; ok && memo {
		return price
	}
	price := was.Price
	for _, it := range p.byPrice(c, g) {
		if it.Price >= was.Price {
			break
		}
		if p.holds(c, g, it, need, was) {
			price = it.Price
			break
		}
	}
	if memo {
		c.cheap[key] = price
	}
	return price
}

// cheapKey memoises cheapest for requests with no scalar resource.
type cheapKey struct {
	group, was                       string
	cpu, memory, pods, ephemeralDisk int64
}

// tryMove moves planned pod q from node from to node to (of type it in
// group g, holding pods), in the same zone, when to's pods and q all fit
// a fresh node of its type alone (resources, static predicates and the
// pods' constraints among themselves, as tryResize checks them). The
// zones' counts do not change; on the hostname, the caller checked that
// no pod on to is crowded (at most maxSkew matching pods a node, as where
// some node counts none) and that no pod on from needs a pod there.
func (p *planner) tryMove(g cloud.NodeGroup, it cloud.InstanceType, q *simulator.Pod, pods []*simulator.Pod, from, to string) bool {
	if !p.fitAlone(g, it, append(slices.Clip(pods), q)) {
		return false
	}
	mark := p.work.Mark()
	if p.work.RemovePod(from, q.Key()) != nil || p.work.AddPod(to, q) != nil {
		p.work.Rollback(mark) // not reached: q is on from, to has the room
		return false
	}
	return true
}

// hostAffinity says whether a pod of pods has a required pod affinity
// term on the hostname: moving a pod off its node may break it.
func hostAffinity(pods []*simulator.Pod) bool {
	return slices.ContainsFunc(pods, func(q *simulator.Pod) bool {
		a := q.Object().Spec.Affinity
		return a != nil && a.PodAffinity != nil && slices.ContainsFunc(a.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution,
			func(t corev1.PodAffinityTerm) bool { return t.TopologyKey == corev1.LabelHostname })
	})
}

// sameZone says whether nodes a and b carry the same zone label.
func (p *planner) sameZone(a, b string) bool {
	ia, _ := p.work.Node(a)
	ib, _ := p.work.Node(b)
	return ia.Node.Labels[corev1.LabelTopologyZone] == ib.Node.Labels[corev1.LabelTopologyZone]
}
