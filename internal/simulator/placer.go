package simulator

import "fmt"

// Placer places replicas of one equivalence class first-fit onto a
// snapshot's nodes, incrementally: the class's static verdicts, affinity
// and spread counts are computed once, then updated per placed replica, and
// nodes that fail for a reason that more replicas cannot undo (resources,
// ports, anti-affinity, taints, ...) are skipped from then on. A placement
// costs amortized O(1) for classes without spread constraints, instead of
// O(nodes + pods).
//
// Nodes and pods added to the snapshot by anything else (other Placers,
// AddTemplateNode, AddPod) are replayed into the state incrementally; after
// a removal or SetNamespaceLabels the next call recomputes the state from
// the snapshot. Either way results equal [FitNodes]'s first node.
type Placer struct {
	s      *Snapshot
	p      *Pod
	epoch  uint64
	pos    int // entries of s.log already applied
	static []Reason
	spread *spreadState
	aff    *affinityState
	dead   []bool   // by node index: permanently failing for this class
	cursor int      // nodes before cursor are all dead
	resets int      // reset calls so far
	j      *journal // changes since Mark, nil without one
}

// NewPlacer returns a Placer for p's class on s. An unsupported pod gets a
// Placer that never places.
func NewPlacer(s *Snapshot, p *Pod) *Placer {
	pl := &Placer{s: s, p: p}
	pl.reset()
	return pl
}

func (pl *Placer) reset() {
	pl.resets++
	pl.epoch, pl.pos = pl.s.epoch, len(pl.s.log)
	pl.cursor = 0
	pl.dead = make([]bool, len(pl.s.nodes))
	if pl.p.unsupported != ReasonNone {
		return
	}
	pl.static = pl.s.staticVerdicts(pl.p.podSpec)
	pl.spread = newSpreadState(pl.s, pl.p)
	pl.aff = newAffinityState(pl.s, pl.p)
}

// PlaceFirstFit places replica q (of the Placer's class, see [Pod.Replica])
// on the first node in snapshot order where it fits, and returns the
// node's name; ok is false when no node fits (the snapshot is unchanged;
// ask [FitNodes] for the reasons) or the class is unsupported.
func (pl *Placer) PlaceFirstFit(q *Pod) (node string, ok bool, err error) {
	if pl.p.unsupported != ReasonNone {
		return "", false, nil
	}
	pl.sync()
	for pl.cursor < len(pl.dead) && pl.dead[pl.cursor] {
		pl.cursor++
	}
	for i := pl.cursor; i < len(pl.s.nodes); i++ {
		if pl.dead[i] {
			continue
		}
		n := pl.s.nodes[i]
		r := ReasonNone
		if n == nil {
			r = ReasonNodeNotFound
		} else if r = pl.p.staticOf(pl.static, n); r == ReasonNone {
			r = dynamicFit(q, n, pl.spread, pl.aff)
		}
		if r == ReasonNone {
			return n.node.Name, true, pl.place(q, n)
		}
		if permanent(r) {
			pl.dead[i] = true
			if pl.j != nil {
				pl.j.dead = append(pl.j.dead, i)
			}
		}
	}
	return "", false, nil
}

// Reason says why replica q does not fit the named node, as [Fits] would,
// from the Placer's state (ReasonNone when it fits).
func (pl *Placer) Reason(q *Pod, nodeName string) Reason {
	if pl.p.unsupported != ReasonNone {
		return pl.p.unsupported
	}
	n, ok := pl.s.lookup(nodeName)
	if !ok {
		return ReasonNodeNotFound
	}
	pl.sync()
	if r := pl.p.staticOf(pl.static, n); r != ReasonNone {
		return r
	}
	return dynamicFit(q, n, pl.spread, pl.aff)
}

func (pl *Placer) place(q *Pod, n *nodeState) error {
	name := n.node.Name
	if err := pl.s.AddPod(name, q); err != nil {
		return fmt.Errorf("place pod %s: %w", q.key, err)
	}
	pl.sync()
	return nil
}

// sync brings the state up to date with the snapshot: a new epoch means a
// full recomputation, otherwise the additions logged since are replayed.
func (pl *Placer) sync() {
	if pl.epoch != pl.s.epoch {
		pl.reset()
		return
	}
	for _, e := range pl.s.log[pl.pos:] {
		n := pl.s.nodes[e.idx]
		if e.pod == nil {
			pl.addNode(n)
			continue
		}
		if n == nil {
			continue
		}
		pl.addPod(e.pod, n)
	}
	pl.pos = len(pl.s.log)
}

func (pl *Placer) addNode(n *nodeState) {
	pl.dead = append(pl.dead, false)
	if pl.p.unsupported != ReasonNone || n == nil {
		return
	}
	pl.static = pl.s.staticVerdicts(pl.p.podSpec)
	pl.spread.addNode(pl.p, n)
}

// addPod records pod q placed on node n. An added pod with required
// anti-affinity may repel p where nothing did before.
func (pl *Placer) addPod(q *Pod, n *nodeState) {
	if pl.p.unsupported != ReasonNone {
		return
	}
	nsLabels := pl.s.nsLabels
	if pl.aff == nil && len(q.antiAffinity) > 0 {
		pl.aff = &affinityState{affinity: map[topologyPair]int{}, anti: map[topologyPair]int{}, existingAnti: map[topologyPair]int{}, j: pl.j}
		pl.aff.selfAffinity = len(pl.p.affinity) > 0 && matchesAll(pl.p.affinity, pl.p, nsLabels[pl.p.namespace])
	}
	if pl.aff != nil {
		pl.aff.add(pl.p, q, n, nsLabels[q.namespace], nsLabels[pl.p.namespace])
	}
	pl.spread.add(pl.p, q, n)
}
