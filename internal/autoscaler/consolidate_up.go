// Shaving with a move up: a pod leaves a planned node for another whose
// type must grow to hold it, when the first node's move down saves more
// than the second's move up costs.

package autoscaler

import (
	"cmp"
	"slices"
	"sort"

	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/simulator"
)

// upCandidate is a receiving node m for an upMove and the type it moves
// up to, at extra cost.
type upCandidate struct {
	m     string
	up    cloud.InstanceType
	extra float64
}

// upMove moves planned pod q off node n of group g onto a node m of names
// in n's zone: n is replaced by the cheapest type of g holding its other
// pods (down), m by the cheapest type priced at least as m's that holds
// its pods and q (up), when up costs less over m's type than down saves
// on n's. The receivers are tried by extra cost, up to maxShaveTries, with
// the checks of tryMove (no pod on m crowded on the hostname, m's pods and
// q on a scratch node of type up, n's other pods on one of type down; the
// caller checked that no pod on n has hostname pod affinity). Under
// cluster limits m may not grow (see holds), so no move is made.
func (p *planner) upMove(c *consolidation, g cloud.NodeGroup, q *simulator.Pod, n string, names []string, loads map[string]*load) bool {
	ln := loads[n]
	rest := ln.need.Clone()
	rest.Sub(q.Requests())
	down, ok := p.cheapestType(c, g, rest, ln.it)
	if !ok {
		return false
	}
	save := ln.it.Price - down.Price
	var cands []upCandidate
	for _, m := range names {
		lm, ok := loads[m]
		if !ok || m == n {
			continue
		}
		need := lm.need.Clone()
		need.Add(q.Requests())
		if up, ok := p.upType(c, g, need, lm.it, lm.it.Price+save); ok {
			cands = append(cands, upCandidate{m: m, up: up, extra: up.Price - lm.it.Price})
		}
	}
	slices.SortStableFunc(cands, func(a, b upCandidate) int { return cmp.Compare(a.extra, b.extra) })
	kept := slices.DeleteFunc(slices.Clone(ln.pods), func(r *simulator.Pod) bool { return r == q })
	tries := 0
	for _, u := range cands {
		lm := loads[u.m]
		mine := append(slices.Clip(lm.pods), q)
		if tries >= maxShaveTries {
			break
		}
		if crowded(mine) || !p.sameZone(n, u.m) {
			continue
		}
		tries++
		if !p.fitAlone(g, u.up, mine) || !p.fitAlone(g, down, kept) {
			continue
		}
		if p.work.RemovePod(n, q.Key()) != nil {
			return false // not reached: q is on n
		}
		im, in := p.newNode[u.m], p.newNode[n]
		fm := p.replaceNode(c, u.m, g, u.up, mine)
		fn := p.replaceNode(c, n, g, down, kept)
		c.removed[im]++
		c.removed[in]++
		c.moved = true
		need := lm.need.Clone()
		need.Add(q.Requests())
		delete(loads, u.m)
		delete(loads, n)
		loads[fm] = &load{pods: mine, need: need, it: u.up}
		loads[fn] = &load{pods: kept, need: rest, it: down}
		return true
	}
	return false
}

// cheapestType returns the cheapest type of group g that holds need (see
// holds), cheaper than type was; false when none is.
func (p *planner) cheapestType(c *consolidation, g cloud.NodeGroup, need simulator.Resources, was cloud.InstanceType) (cloud.InstanceType, bool) {
	for _, it := range p.byPrice(c, g) {
		if it.Price >= was.Price {
			break
		}
		if p.holds(c, g, it, need, was) {
			return it, true
		}
	}
	return cloud.InstanceType{}, false
}

// upType returns the cheapest type of group g priced from was's price up
// to below limit that holds need (see holds: under cluster limits, no
// larger than was).
func (p *planner) upType(c *consolidation, g cloud.NodeGroup, need simulator.Resources, was cloud.InstanceType, limit float64) (cloud.InstanceType, bool) {
	ts := p.byPrice(c, g)
	for _, it := range ts[sort.Search(len(ts), func(i int) bool { return ts[i].Price >= was.Price }):] {
		if it.Price >= limit {
			break
		}
		if it.Name != was.Name && p.holds(c, g, it, need, was) {
			return it, true
		}
	}
	return cloud.InstanceType{}, false
}
