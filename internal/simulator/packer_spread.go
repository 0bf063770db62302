// The Packer's replica-by-replica placement of zone-spread classes.

package simulator

import (
	"maps"
	"slices"
)

// packSpread places a class with zone spread constraints replica by
// replica: first-fit over the existing nodes where only the spread
// constraints may keep it out, then the new nodes.
func (r *packRun) packSpread(c *packClass) ClassPack {
	var out ClassPack
	fresh := r.fresh
	zs := c.zs.with(c.spread.clone())
	freshZone, freshHasZone := fresh.node.Labels[LabelZone]
	freshElig := c.rep.spreadEligibility(fresh)
	if r.count > 0 {
		zs.st.addNode(c.rep, fresh)
	}
	// Verdicts on a new node other than resources and spread are the same
	// for every new node.
	aff := r.freshAffinity(c)
	other := c.rep.staticFit(fresh.node)
	if other == ReasonNone {
		other = aff.fits(c.rep, fresh)
	}
	cursor := make(map[string]int, len(c.zones))
	run, first := 0, 0 // the first new node with room is in r.runs[run], which starts at node first
	for out.Placed < c.count {
		if idx := r.firstCandidate(c, zs, cursor); idx >= 0 {
			n := r.pk.s.nodes[idx]
			r.oldNode(idx).take(&c.req, 1)
			z := n.node.Labels[LabelZone]
			zs.add(z, c.elig[idx])
			out.addOld(n.node.Name)
			if c.excl { // one replica per node: the candidate is used up
				cursor[z]++
			}
			continue
		}
		// A class with one replica per node does not go onto new nodes
		// that already exist: those of earlier classes in this pack are
		// skipped (conservative), its own each hold a replica already.
		if other == ReasonNone && r.count > 0 && freshHasZone && zs.allows(freshZone) && !c.excl {
			for run < len(r.runs) && r.runs[run].v.fits(&c.req, c.zero) == 0 {
				first += r.runs[run].n
				run++
			}
			if run < len(r.runs) {
				r.takeOne(run, &c.req)
				zs.add(freshZone, freshElig)
				out.addOneNew(first)
				continue
			}
		}
		// A new node: its zone may be a new, empty domain.
		trial := zs.st
		if trial.newDomain(c.rep, fresh) {
			trial = trial.clone()
			trial.addNode(c.rep, fresh)
		}
		why := c.rep.staticFit(fresh.node)
		if why == ReasonNone {
			why = dynamicFit(c.rep, fresh, trial, aff)
		}
		if why != ReasonNone || r.count >= r.maxNew {
			out.Stop, out.OutOfRoom = why, why == ReasonNone
			return out
		}
		zs.st = trial
		v := r.freshNode()
		v.take(&c.req, 1)
		run, first = len(r.runs), r.count
		r.runs = append(r.runs, vrun{v, 1})
		r.count++
		zs.add(freshZone, freshElig)
		out.addOneNew(first)
	}
	return out
}

// zoneSpread is the spread state of a class whose constraints are all on
// the zone, with what the class's pods contribute precomputed: the
// PodTopologySpread filter and its count updates without selector
// matching per replica.
type zoneSpread struct {
	st     *spreadState
	p      *Pod
	self   []int  // 1 when constraint i's selector matches the pod
	counts []bool // a placed replica counts towards constraint i
}

// newZoneSpread returns the zone spread of class p with counts st (the
// per-pod facts are computed once and shared: the result is for one pack).
func newZoneSpread(p *Pod, st *spreadState) *zoneSpread {
	zs := &zoneSpread{st: st, p: p, self: make([]int, len(p.spread)), counts: make([]bool, len(p.spread))}
	for i := range p.spread {
		if p.spread[i].selector.Matches(p.labels) {
			zs.self[i] = 1
		}
		zs.counts[i] = p.spread[i].counts(p, p)
	}
	return zs
}

// with returns a copy of zs over counts st.
func (zs *zoneSpread) with(st *spreadState) *zoneSpread {
	c := *zs
	c.st = st
	return &c
}

// allows reports whether a replica may go to a node in zone, as
// spreadState.fits for a node carrying the zone label.
func (zs *zoneSpread) allows(zone string) bool {
	for i := range zs.p.spread {
		if zs.st.counts[i][zone]+zs.self[i]-zs.st.mins[i] > zs.p.spread[i].maxSkew {
			return false
		}
	}
	return true
}

// add records a replica placed on a node in zone whose eligibility for
// each constraint is the bit mask elig (see spreadEligibility), as
// spreadState.add does.
func (zs *zoneSpread) add(zone string, elig uint64) {
	for i := range zs.p.spread {
		if !zs.counts[i] || elig&(1<<i) == 0 {
			continue
		}
		old := zs.st.counts[i][zone]
		zs.st.counts[i][zone] = old + 1
		zs.st.raised(i, old, zs.p.spread[i].minDomains)
	}
}

// spreadEligibility returns a bit mask of the spread constraints (at most
// 64) that node n counts for.
func (p *Pod) spreadEligibility(n *nodeState) uint64 {
	var m uint64
	for i := range p.spread {
		if i < 64 && p.eligibleForSpread(&p.spread[i], n) {
			m |= 1 << i
		}
	}
	return m
}

// firstCandidate returns the index of the first existing node, in snapshot
// order, that holds another replica of c and whose zone the spread
// constraints allow, or -1.
func (r *packRun) firstCandidate(c *packClass, zs *zoneSpread, cursor map[string]int) int {
	best := -1
	for _, z := range c.zones {
		cands := c.cands[z]
		i := cursor[z]
		if i >= len(cands) || !zs.allows(z) {
			continue
		}
		for i < len(cands) && r.oldNode(cands[i]).fits(&c.req, c.zero) == 0 {
			i++
		}
		cursor[z] = i
		if i < len(cands) && (best < 0 || cands[i] < best) {
			best = cands[i]
		}
	}
	return best
}

// newDomain reports whether adding node n would add a domain to st.
func (st *spreadState) newDomain(p *Pod, n *nodeState) bool {
	for i := range p.spread {
		c := &p.spread[i]
		if !p.eligibleForSpread(c, n) {
			continue
		}
		if _, ok := st.counts[i][n.node.Labels[c.topologyKey]]; !ok {
			return true
		}
	}
	return false
}

// clone returns a copy of st that shares nothing with it.
func (st *spreadState) clone() *spreadState {
	c := &spreadState{counts: make([]map[string]int, len(st.counts)), mins: slices.Clone(st.mins), atMin: slices.Clone(st.atMin)}
	for i, m := range st.counts {
		c.counts[i] = maps.Clone(m)
	}
	return c
}
