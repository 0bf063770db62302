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
// If the snapshot is changed by anything other than this Placer, the next
// call recomputes the state from the snapshot, so results stay exact.
type Placer struct {
	s       *Snapshot
	p       *Pod
	version uint64
	static  []Reason
	spread  *spreadState
	aff     *affinityState
	dead    []bool // by node index: permanently failing for this class
	cursor  int    // nodes before cursor are all dead
}

// NewPlacer returns a Placer for p's class on s. An unsupported pod gets a
// Placer that never places.
func NewPlacer(s *Snapshot, p *Pod) *Placer {
	pl := &Placer{s: s, p: p}
	pl.reset()
	return pl
}

func (pl *Placer) reset() {
	pl.version = pl.s.version
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
	if pl.version != pl.s.version || len(pl.dead) != len(pl.s.nodes) {
		pl.reset()
	}
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
		} else if r = pl.static[n.id]; r == ReasonNone {
			r = dynamicFit(q, n, pl.spread, pl.aff)
		}
		if r == ReasonNone {
			return n.node.Name, true, pl.place(q, n)
		}
		if permanent(r) {
			pl.dead[i] = true
		}
	}
	return "", false, nil
}

func (pl *Placer) place(q *Pod, n *nodeState) error {
	name := n.node.Name
	if err := pl.s.AddPod(name, q); err != nil {
		return fmt.Errorf("place pod %s: %w", q.key, err)
	}
	// AddPod may have cloned the node; the counts only need its labels.
	nsLabels := pl.s.nsLabels
	if pl.aff != nil {
		pl.aff.add(pl.p, q, n, nsLabels[q.namespace], nsLabels[pl.p.namespace])
	}
	pl.spread.add(pl.p, q, n)
	pl.version = pl.s.version
	return nil
}
