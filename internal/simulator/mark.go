// Undoing additions: a snapshot and the Placers on it roll back to a mark,
// so that a planner tries an option in place instead of in a fork.

package simulator

// Mark is a state of a snapshot that [Snapshot.Rollback] returns to.
type Mark struct {
	nodes, undo, antiPods int
	prevMarked            int
}

// undoEntry is a node as it was at the mark, before a mutation replaced
// it (a clone or a removal) at index idx.
type undoEntry struct {
	idx  int
	node *nodeState
}

// Mark returns the current state, for [Snapshot.Rollback]. Marks nest:
// roll back the latest first. Until the rollback, every mutation of a
// node present at the mark clones it first (the original is kept).
func (s *Snapshot) Mark() Mark {
	m := Mark{nodes: len(s.nodes), undo: len(s.undo), antiPods: s.antiPods, prevMarked: s.marked}
	s.marked = len(s.nodes)
	s.gen = generations.Add(1) // s no longer owns its nodes: they are cloned on write
	return m
}

// Rollback returns s to the state of mark m: nodes added since are gone
// and the nodes present then are as they were. It starts a new epoch:
// Placers on s recompute their state, unless rolled back with
// [Placer.Rollback] to a mark taken with m.
func (s *Snapshot) Rollback(m Mark) {
	s.own()
	for _, n := range s.nodes[m.nodes:] {
		if n != nil {
			delete(s.index, n.node.Name)
		}
	}
	clear(s.nodes[m.nodes:])
	s.nodes = s.nodes[:m.nodes]
	for i := len(s.undo) - 1; i >= m.undo; i-- {
		u := s.undo[i]
		if cur := s.nodes[u.idx]; cur == nil {
			s.index[u.node.node.Name] = u.idx
		}
		s.nodes[u.idx] = u.node
	}
	clear(s.undo[m.undo:])
	s.undo = s.undo[:m.undo]
	s.antiPods = m.antiPods
	s.marked = m.prevMarked
	s.gen = generations.Add(1)
	s.newEpoch()
}

// keep records the node at index i before a mutation replaces it, when
// a mark must restore it.
func (s *Snapshot) keep(i int) {
	if i < s.marked {
		s.undo = append(s.undo, undoEntry{i, s.nodes[i]})
	}
}

// PlacerMark is a state of a Placer that [Placer.Rollback] returns to.
type PlacerMark struct {
	spread *spreadState
	aff    *affinityState
	mins   []int
	dead   int
	cursor int
	resets int
}

// journal records the changes to a Placer's state since its mark.
type journal struct {
	counts []countUndo // spread counts
	pairs  []pairUndo  // affinity counts
	dead   []int       // entries of dead set since the mark
}

type countUndo struct {
	m       map[string]int
	domain  string
	old     int
	existed bool
}

type pairUndo struct {
	m    map[topologyPair]int
	pair topologyPair
	old  int
}

// Mark returns the Placer's state, to be restored with the snapshot's:
// take it right after the snapshot's [Snapshot.Mark] and roll back right
// after [Snapshot.Rollback]. Marks of one Placer do not nest.
func (pl *Placer) Mark() PlacerMark {
	pl.sync()
	if pl.j == nil {
		pl.j = &journal{}
	}
	m := PlacerMark{spread: pl.spread, aff: pl.aff, dead: len(pl.dead), cursor: pl.cursor, resets: pl.resets}
	if pl.spread != nil {
		m.mins = append(append([]int(nil), pl.spread.mins...), pl.spread.atMin...)
		pl.spread.j = pl.j
	}
	if pl.aff != nil {
		pl.aff.j = pl.j
	}
	return m
}

// Rollback returns the Placer to mark m, on its snapshot just rolled back
// to the snapshot mark taken with m.
func (pl *Placer) Rollback(m PlacerMark) {
	j := pl.j
	pl.j = nil
	defer func() { *j = journal{counts: j.counts[:0], pairs: j.pairs[:0], dead: j.dead[:0]} }()
	if pl.resets != m.resets || pl.p.unsupported != ReasonNone {
		pl.epoch = 0 // recomputed on next use
		return
	}
	for i := len(j.counts) - 1; i >= 0; i-- {
		u := j.counts[i]
		if u.existed {
			u.m[u.domain] = u.old
		} else {
			delete(u.m, u.domain)
		}
	}
	for i := len(j.pairs) - 1; i >= 0; i-- {
		u := j.pairs[i]
		if u.old == 0 {
			delete(u.m, u.pair)
		} else {
			u.m[u.pair] = u.old
		}
	}
	for _, i := range j.dead {
		if i < m.dead {
			pl.dead[i] = false
		}
	}
	pl.dead = pl.dead[:m.dead]
	pl.cursor = m.cursor
	pl.spread, pl.aff = m.spread, m.aff
	if pl.spread != nil {
		copy(pl.spread.atMin, m.mins[copy(pl.spread.mins, m.mins):])
		pl.spread.j = nil
	}
	if pl.aff != nil {
		pl.aff.j = nil
	}
	pl.epoch, pl.pos = pl.s.epoch, len(pl.s.log)
}

// setCount sets m[domain] to v, journaled.
func (j *journal) setCount(m map[string]int, domain string, v int) {
	if j != nil {
		old, ok := m[domain]
		j.counts = append(j.counts, countUndo{m, domain, old, ok})
	}
	m[domain] = v
}

// incPair adds one to m[pair], journaled.
func (j *journal) incPair(m map[topologyPair]int, pair topologyPair) {
	if j != nil {
		j.pairs = append(j.pairs, pairUndo{m, pair, m[pair]})
	}
	m[pair]++
}
