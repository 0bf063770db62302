package simulator

import (
	"k8s.io/apimachinery/pkg/labels"
)

// topologyPair is a topology domain: a node label key and value.
type topologyPair struct{ key, value string }

// affinityState is the InterPodAffinity pre-filter state for one pod:
// counts of matching pods per topology domain.
type affinityState struct {
	// affinity counts pods matching all of the pod's affinity terms, at each
	// term's topology pair.
	affinity map[topologyPair]int
	// anti counts pods matching any of the pod's anti-affinity terms.
	anti map[topologyPair]int
	// existingAnti counts existing pods' anti-affinity terms that match the
	// pod (symmetry).
	existingAnti map[topologyPair]int
	// selfAffinity: the pod matches all its own affinity terms, which lets
	// the first pod of a self-affine group schedule.
	selfAffinity bool
	j            *journal // records count changes for a Placer's rollback
}

// newAffinityState scans the snapshot for pod p. It returns nil when
// neither p nor any existing pod has required (anti-)affinity.
func newAffinityState(s *Snapshot, p *Pod) *affinityState {
	if len(p.affinity) == 0 && len(p.antiAffinity) == 0 && s.antiPods == 0 {
		return nil
	}
	st := &affinityState{
		affinity:     make(map[topologyPair]int),
		anti:         make(map[topologyPair]int),
		existingAnti: make(map[topologyPair]int),
	}
	st.selfAffinity = len(p.affinity) > 0 && matchesAll(p.affinity, p, s.nsLabels[p.namespace])
	scanPods := len(p.affinity) > 0 || len(p.antiAffinity) > 0
	pLabels := s.nsLabels[p.namespace]
	for _, n := range s.nodes {
		if n == nil || (!scanPods && n.antiPods == 0) {
			continue
		}
		for _, q := range n.pods {
			st.add(p, q, n, s.nsLabels[q.namespace], pLabels)
		}
	}
	return st
}

// add records pod q on node n; qNS and pNS are the labels of q's and p's
// namespaces.
func (st *affinityState) add(p, q *Pod, n *nodeState, qNS, pNS labels.Set) {
	if len(p.affinity) > 0 && matchesAll(p.affinity, q, qNS) {
		for i := range p.affinity {
			st.record(st.affinity, n, p.affinity[i].topologyKey)
		}
	}
	for i := range p.antiAffinity {
		if p.antiAffinity[i].matches(q, qNS) {
			st.record(st.anti, n, p.antiAffinity[i].topologyKey)
		}
	}
	for i := range q.antiAffinity {
		if q.antiAffinity[i].matches(p, pNS) {
			st.record(st.existingAnti, n, q.antiAffinity[i].topologyKey)
		}
	}
}

func (st *affinityState) record(m map[topologyPair]int, n *nodeState, key string) {
	if v, ok := n.node.Labels[key]; ok {
		st.j.incPair(m, topologyPair{key, v})
	}
}

func matchesAll(terms []affinityTerm, q *Pod, nsLabels labels.Set) bool {
	for i := range terms {
		if !terms[i].matches(q, nsLabels) {
			return false
		}
	}
	return true
}

// fits is the InterPodAffinity filter for node n, in the scheduler's order:
// the pod's affinity, its anti-affinity, then existing pods' anti-affinity.
func (st *affinityState) fits(p *Pod, n *nodeState) Reason {
	if st == nil {
		return ReasonNone
	}
	if !st.satisfiesAffinity(p, n) {
		return ReasonPodAffinity
	}
	for i := range p.antiAffinity {
		key := p.antiAffinity[i].topologyKey
		if v, ok := n.node.Labels[key]; ok && st.anti[topologyPair{key, v}] > 0 {
			return ReasonPodAntiAffinity
		}
	}
	if len(st.existingAnti) > 0 {
		for k, v := range n.node.Labels {
			if st.existingAnti[topologyPair{k, v}] > 0 {
				return ReasonExistingAntiAffinity
			}
		}
	}
	return ReasonNone
}

// satisfiesAffinity mirrors the scheduler's satisfyPodAffinity: the node
// must carry every term's topology key, and each term's domain must hold a
// matching pod, unless no pod matches anywhere and the pod matches its own
// terms.
func (st *affinityState) satisfiesAffinity(p *Pod, n *nodeState) bool {
	podsExist := true
	for i := range p.affinity {
		key := p.affinity[i].topologyKey
		v, ok := n.node.Labels[key]
		if !ok {
			return false
		}
		if st.affinity[topologyPair{key, v}] <= 0 {
			podsExist = false
		}
	}
	if podsExist {
		return true
	}
	return len(st.affinity) == 0 && st.selfAffinity
}

// permanent reports whether a failure for reason r stays a failure while
// only pods are added to the snapshot.
func permanent(r Reason) bool {
	switch r {
	case ReasonPodAffinity, ReasonSpread:
		return false
	}
	return true
}
