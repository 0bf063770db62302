package simulator

import (
	"fmt"
	"math"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// compileSpread compiles the DoNotSchedule topology spread constraints with
// the scheduler's defaults: minDomains 1, nodeAffinityPolicy Honor,
// nodeTaintsPolicy Ignore; matchLabelKeys are merged into the selector.
func compileSpread(pod *corev1.Pod) ([]spreadConstraint, error) {
	var out []spreadConstraint
	for i, c := range pod.Spec.TopologySpreadConstraints {
		if c.WhenUnsatisfiable != corev1.DoNotSchedule {
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(c.LabelSelector)
		if err != nil {
			return nil, fmt.Errorf("topology spread constraint %d of %s/%s: %w", i, pod.Namespace, pod.Name, err)
		}
		if sel, err = mergeLabelKeys(sel, pod.Labels, c.MatchLabelKeys, nil); err != nil {
			return nil, fmt.Errorf("topology spread constraint %d of %s/%s: %w", i, pod.Namespace, pod.Name, err)
		}
		sc := spreadConstraint{
			maxSkew:       int(c.MaxSkew),
			topologyKey:   c.TopologyKey,
			selector:      sel,
			minDomains:    1,
			honorAffinity: true,
		}
		if c.MinDomains != nil {
			sc.minDomains = int(*c.MinDomains)
		}
		if c.NodeAffinityPolicy != nil {
			sc.honorAffinity = *c.NodeAffinityPolicy == corev1.NodeInclusionPolicyHonor
		}
		if c.NodeTaintsPolicy != nil {
			sc.honorTaints = *c.NodeTaintsPolicy == corev1.NodeInclusionPolicyHonor
		}
		out = append(out, sc)
	}
	return out, nil
}

// spreadState is the PodTopologySpread pre-filter state for one pod: for
// each constraint, the number of matching pods per topology value over the
// eligible nodes, and the global minimum.
type spreadState struct {
	counts []map[string]int // per constraint: domain value → matching pods
	mins   []int            // per constraint: min over domains (0 if fewer than minDomains)
	atMin  []int            // per constraint: domains at the min (-1 if fewer than minDomains)
	j      *journal         // records count changes for a Placer's rollback
}

// eligibleForSpread reports whether node counts towards constraint c of
// pod p: it carries every constraint's topology key and passes the
// constraint's node inclusion policies.
func (p *Pod) eligibleForSpread(c *spreadConstraint, n *nodeState) bool {
	for i := range p.spread {
		if _, ok := n.node.Labels[p.spread[i].topologyKey]; !ok {
			return false
		}
	}
	if c.honorAffinity && !p.matchesNodeAffinity(n.node) {
		return false
	}
	if c.honorTaints && !toleratesNode(p.tolerations, n.node.Spec.Taints) {
		return false
	}
	return true
}

// countsSelector follows the scheduler's countPodsMatchSelector: an empty
// (match-everything) selector counts nothing, terminating pods and pods of
// other namespaces are skipped.
func (c *spreadConstraint) counts(p *Pod, q *Pod) bool {
	if c.selector.Empty() || q.deleting || q.namespace != p.namespace {
		return false
	}
	return c.selector.Matches(q.labels)
}

// newSpreadState computes the spread state of pod p over the snapshot.
func newSpreadState(s *Snapshot, p *Pod) *spreadState {
	if len(p.spread) == 0 {
		return nil
	}
	st := &spreadState{counts: make([]map[string]int, len(p.spread)), mins: make([]int, len(p.spread)), atMin: make([]int, len(p.spread))}
	for i := range p.spread {
		st.counts[i] = make(map[string]int)
	}
	for _, n := range s.nodes {
		if n == nil {
			continue
		}
		for i := range p.spread {
			c := &p.spread[i]
			if !p.eligibleForSpread(c, n) {
				continue
			}
			num := 0
			for _, q := range n.pods {
				if c.counts(p, q) {
					num++
				}
			}
			st.counts[i][n.node.Labels[c.topologyKey]] += num
		}
	}
	for i := range p.spread {
		st.recomputeMin(i, p.spread[i].minDomains)
	}
	return st
}

func (st *spreadState) recomputeMin(i, minDomains int) {
	if len(st.counts[i]) < minDomains {
		st.mins[i], st.atMin[i] = 0, -1
		return
	}
	m, at := math.MaxInt, 0
	for _, v := range st.counts[i] {
		switch {
		case v < m:
			m, at = v, 1
		case v == m:
			at++
		}
	}
	st.mins[i], st.atMin[i] = m, at
}

// raised updates the min of constraint i after a domain at count old
// gained a pod: a scan only when it was the last domain at the min.
func (st *spreadState) raised(i, old, minDomains int) {
	if old != st.mins[i] {
		return
	}
	if st.atMin[i] > 1 {
		st.atMin[i]--
		return
	}
	st.recomputeMin(i, minDomains)
}

// fits is the PodTopologySpread filter for node n.
func (st *spreadState) fits(p *Pod, n *nodeState) Reason {
	if st == nil {
		return ReasonNone
	}
	for i := range p.spread {
		c := &p.spread[i]
		v, ok := n.node.Labels[c.topologyKey]
		if !ok {
			return ReasonSpreadMissingLabel
		}
		self := 0
		if c.selector.Matches(p.labels) {
			self = 1
		}
		if st.counts[i][v]+self-st.mins[i] > c.maxSkew {
			return ReasonSpread
		}
	}
	return ReasonNone
}

// add records pod q placed on node n (used by Placer).
func (st *spreadState) add(p, q *Pod, n *nodeState) {
	if st == nil {
		return
	}
	for i := range p.spread {
		c := &p.spread[i]
		if !c.counts(p, q) || !p.eligibleForSpread(c, n) {
			continue
		}
		v := n.node.Labels[c.topologyKey]
		old := st.counts[i][v]
		st.j.setCount(st.counts[i], v, old+1)
		st.raised(i, old, c.minDomains)
	}
}

// addNode records a node added to the snapshot (used by Placer): an
// eligible node may bring a new, empty domain.
func (st *spreadState) addNode(p *Pod, n *nodeState) {
	if st == nil {
		return
	}
	for i := range p.spread {
		c := &p.spread[i]
		if !p.eligibleForSpread(c, n) {
			continue
		}
		v := n.node.Labels[c.topologyKey]
		if _, ok := st.counts[i][v]; !ok {
			st.j.setCount(st.counts[i], v, 0)
			switch {
			case len(st.counts[i]) <= c.minDomains:
				st.recomputeMin(i, c.minDomains)
			case st.mins[i] == 0:
				st.atMin[i]++
			default: // counts are never negative
				st.mins[i], st.atMin[i] = 0, 1
			}
		}
	}
}
