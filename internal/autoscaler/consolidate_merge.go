// Merging two planned nodes into one node of a larger type, when it costs
// no more than the two.

package autoscaler

import (
	"fmt"

	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/simulator"
)

// maxMergeTries bounds the partners tried per planned node.
const maxMergeTries = 16

// mergeNodes merges each planned node that holds no pod with required
// anti-affinity (those usually keep their node to themselves) with
// another planned node of its group, in snapshot order: both are replaced
// by one node of the cheapest type of the group that holds all their
// pods, when it costs no more than the two. Up to maxMergeTries partners
// whose pods such a type has the room for are tried with the simulator's
// predicates.
func (p *planner) mergeNodes(c *consolidation) {
	names := p.plannedNodes()
	for _, a := range names {
		if p.outOfTime() {
			return
		}
		ia, ok := p.newNode[a]
		if !ok {
			continue
		}
		infoA, _ := p.work.Node(a)
		podsA := p.plannedPods(infoA)
		if len(podsA) == 0 || antiRank(podsA[0]) == 0 {
			continue
		}
		g := p.group(p.plan.Increases[ia].Group)
		typeA, ok := g.Template.InstanceType(p.plan.Increases[ia].InstanceType)
		if !ok {
			continue
		}
		tries := 0
		for _, b := range names {
			ib, ok := p.newNode[b]
			if !ok || b == a || p.plan.Increases[ib].Group != g.ID {
				continue
			}
			if tries >= maxMergeTries {
				break
			}
			typeB, _ := g.Template.InstanceType(p.plan.Increases[ib].InstanceType)
			infoB, _ := p.work.Node(b)
			pods := append(p.plannedPods(infoB), podsA...)
			it, ok := p.mergedType(c, g, pods, typeA, typeB)
			if !ok {
				continue
			}
			tries++
			if p.tryMerge(c, g, it, a, b, pods) {
				c.removed[ia]++
				c.removed[ib]++
				break
			}
		}
	}
}

// mergedType returns the cheapest type of group g whose room holds pods,
// priced no higher than types a and b together.
func (p *planner) mergedType(c *consolidation, g cloud.NodeGroup, pods []*simulator.Pod, a, b cloud.InstanceType) (cloud.InstanceType, bool) {
	var need simulator.Resources
	for _, q := range pods {
		need.Add(q.Requests())
	}
	for _, it := range p.byPrice(c, g) {
		if it.Price > a.Price+b.Price {
			break
		}
		if p.holds(c, g, it, need, a, b) {
			return it, true
		}
	}
	return cloud.InstanceType{}, false
}

// tryMerge replaces planned nodes a and b of group g by one new node of
// type it holding pods, when they all fit it (and the hostname spread of
// each holds once all are there); else it undoes everything.
func (p *planner) tryMerge(c *consolidation, g cloud.NodeGroup, it cloud.InstanceType, a, b string, pods []*simulator.Pod) bool {
	tmpl, ds, ok := p.template(g, it)
	if !ok {
		return false
	}
	p.seq++
	fresh := fmt.Sprintf("%s-new-%d", tmpl.Name, p.seq)
	mark := p.work.Mark()
	ok = p.work.RemoveNode(a) == nil && p.work.RemoveNode(b) == nil && p.work.AddTemplateNode(tmpl, fresh, ds) == nil
	for _, q := range pods {
		if !ok {
			break
		}
		fits, _ := simulator.Fits(p.work, q, fresh)
		ok = fits && p.work.AddPod(fresh, q) == nil
	}
	if ok {
		ok = p.spreadHolds(map[string]bool{fresh: true})
	}
	if !ok {
		p.work.Rollback(mark)
		return false
	}
	delete(p.newNode, a)
	delete(p.newNode, b)
	p.addPlanned(c, g, it, fresh)
	return true
}
