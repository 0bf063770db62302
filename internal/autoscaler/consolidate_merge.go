// Merging two planned nodes into one node of a larger type, when it costs
// no more than the two.

package autoscaler

import (
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/simulator"
)

// maxMergeTries bounds the partners tried per planned node with the
// simulator's predicates, maxMergeScan those looked at.
const (
	maxMergeTries = 16
	maxMergeScan  = 128
)

// load is a planned node's pending pods, their summed requests and its
// type, for choosing merge partners without reading the snapshot.
type load struct {
	pods []*simulator.Pod
	need simulator.Resources
	it   cloud.InstanceType
}

// mergeNodes merges each planned node that holds no pod with required
// anti-affinity (those usually keep their node to themselves) with
// another planned node of its group, in snapshot order: both are replaced
// by one node of the cheapest type of the group that holds all their
// pods, when it costs no more than the two. Of the first maxMergeScan
// partners, up to maxMergeTries whose pods such a type has the room for
// are tried with the simulator's predicates.
func (p *planner) mergeNodes(c *consolidation) {
	names := p.plannedNodes()
	loads := make(map[string]*load, len(names))
	for _, n := range names {
		loads[n] = p.loadOf(n)
	}
	for _, a := range names {
		if p.outOfTime() {
			return
		}
		la, ok := loads[a]
		if !ok || len(la.pods) == 0 || antiRank(la.pods[0]) == 0 {
			continue
		}
		ia := p.newNode[a]
		g := p.group(p.plan.Increases[ia].Group)
		tries, scans := 0, 0
		for _, b := range names {
			lb, ok := loads[b]
			if !ok || b == a || p.plan.Increases[p.newNode[b]].Group != g.ID {
				continue
			}
			if tries >= maxMergeTries || scans >= maxMergeScan {
				break
			}
			scans++
			need := la.need.Clone()
			need.Add(lb.need)
			it, ok := p.mergedType(c, g, need, la.it, lb.it)
			union := append(slices.Clone(lb.pods), la.pods...)
			if !ok || crowded(union) {
				continue
			}
			tries++
			ib := p.newNode[b]
			if fresh, ok := p.tryMerge(c, g, it, a, b, union); ok {
				c.removed[ia]++
				c.removed[ib]++
				delete(loads, a)
				delete(loads, b)
				loads[fresh] = &load{pods: union, need: need, it: it}
				break
			}
		}
	}
}

// crowded says whether a pod of pods with a DoNotSchedule hostname spread
// constraint would count more than its maxSkew other pods of pods on the
// node they share: where some node counts none (the usual minimum), that
// breaks the constraint, so the merge is not tried with the simulator.
func crowded(pods []*simulator.Pod) bool {
	for _, q := range pods {
		o := q.Object()
		for _, c := range o.Spec.TopologySpreadConstraints {
			if c.WhenUnsatisfiable != corev1.DoNotSchedule || c.TopologyKey != corev1.LabelHostname {
				continue
			}
			sel, err := metav1.LabelSelectorAsSelector(c.LabelSelector)
			if err != nil {
				return true
			}
			n := int32(0)
			for _, r := range pods {
				if r != q && r.Object().Namespace == o.Namespace && sel.Matches(labels.Set(r.Object().Labels)) {
					n++
				}
			}
			if n+1 > c.MaxSkew {
				return true
			}
		}
	}
	return false
}

// loadOf returns planned node n's load.
func (p *planner) loadOf(n string) *load {
	info, _ := p.work.Node(n)
	l := &load{pods: p.plannedPods(info)}
	for _, q := range l.pods {
		l.need.Add(q.Requests())
	}
	inc := p.plan.Increases[p.newNode[n]]
	l.it, _ = p.group(inc.Group).Template.InstanceType(inc.InstanceType)
	return l
}

// mergedType returns the cheapest type of group g whose room holds need,
// priced no higher than types a and b together.
func (p *planner) mergedType(c *consolidation, g cloud.NodeGroup, need simulator.Resources, a, b cloud.InstanceType) (cloud.InstanceType, bool) {
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
// each holds once all are there), and returns the new node's name; else
// it undoes everything.
func (p *planner) tryMerge(c *consolidation, g cloud.NodeGroup, it cloud.InstanceType, a, b string, pods []*simulator.Pod) (string, bool) {
	tmpl, ds, ok := p.template(g, it)
	if !ok {
		return "", false
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
		return "", false
	}
	delete(p.newNode, a)
	delete(p.newNode, b)
	p.addPlanned(c, g, it, fresh)
	return fresh, true
}
