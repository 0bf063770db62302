// The Packer's new-node model: resource vectors, runs of identical nodes,
// bulk filling, and what a new node of a template holds.

package simulator

import (
	"slices"

	corev1 "k8s.io/api/core/v1"
)

// maxPackScalars bounds the distinct scalar resources (GPUs, hugepages,
// ...) the classes of one Packer may request.
const maxPackScalars = 4

// vres is a resource vector over the Packer's scalar names: what is left
// of a node, or a pod's requests.
type vres struct {
	cpu, mem, eph int64
	sc            [maxPackScalars]int64
}

// vnode is a new node (or an existing one changed by the pack): what is
// left of its allocatable and of its pod count.
type vnode struct {
	free    vres
	podRoom int64
}

// vres converts r over the Packer's scalar names.
func (pk *Packer) vres(r Resources) vres {
	v := vres{cpu: r.MilliCPU, mem: r.Memory, eph: r.EphemeralStorage}
	for i, name := range pk.scalars {
		v.sc[i] = r.Scalar[name]
	}
	return v
}

// fits returns how many pods with requests req the node holds, following
// NodeResourcesFit (zero: only the pod count).
func (v *vnode) fits(req *vres, zero bool) int64 {
	k := v.podRoom
	if zero || k <= 0 {
		return max(k, 0)
	}
	div := func(free, r int64) {
		if r > 0 {
			k = min(k, max(free, 0)/r)
		}
	}
	div(v.free.cpu, req.cpu)
	div(v.free.mem, req.mem)
	div(v.free.eph, req.eph)
	for i := range req.sc {
		div(v.free.sc[i], req.sc[i])
	}
	return k
}

// take places k pods with requests req.
func (v *vnode) take(req *vres, k int64) {
	v.free.cpu -= k * req.cpu
	v.free.mem -= k * req.mem
	v.free.eph -= k * req.eph
	for i := range req.sc {
		v.free.sc[i] -= k * req.sc[i]
	}
	v.podRoom -= k
}

// vrun is n consecutive identical new nodes.
type vrun struct {
	v vnode
	n int
}

func (r *packRun) freshNode() vnode {
	return vnode{free: r.pk.vres(r.fresh.free()), podRoom: r.fresh.allocatable.Pods - int64(len(r.fresh.pods))}
}

// packBulk fills the new nodes in order with a class that fits no
// existing node, then adds new nodes holding as many replicas as a fresh
// one does.
func (r *packRun) packBulk(c *packClass) ClassPack {
	var out ClassPack
	left := int64(c.count)
	why := c.rep.staticFit(r.fresh.node)
	if why == ReasonNone {
		why = dynamicFit(c.rep, r.fresh, nil, r.freshAffinity(c))
	}
	ok := why == ReasonNone
	if ok {
		left = r.fillRuns(c, left, &out)
	}
	if left > 0 && ok {
		fresh := r.freshNode()
		per := fresh.fits(&c.req, c.zero)
		if c.excl {
			per = min(per, 1)
		}
		if per <= 0 { // not reached: the fresh verdict counts resources
			out.Stop = InsufficientResource(corev1.ResourcePods)
			return out
		}
		// full nodes of per replicas, then one with the rest
		if full := min(left/per, int64(r.maxNew-r.count)); full > 0 {
			n := fresh
			n.take(&c.req, per)
			out.addNew(r.count, int(full), int(per))
			r.appendRun(vrun{n, int(full)})
			left -= full * per
		}
		if left > 0 && r.count < r.maxNew {
			n := fresh
			n.take(&c.req, left)
			out.addNew(r.count, 1, int(left))
			r.appendRun(vrun{n, 1})
			left = 0
		}
	}
	if left > 0 {
		out.Stop, out.OutOfRoom = why, ok
	}
	return out
}

// appendRun adds new nodes after the others.
func (r *packRun) appendRun(run vrun) {
	if k := len(r.runs) - 1; k >= 0 && r.runs[k].v == run.v {
		r.runs[k].n += run.n
	} else {
		r.runs = append(r.runs, run)
	}
	r.count += run.n
}

// fillRuns places up to left replicas of bulk class c first-fit on the
// new nodes present and returns how many are left. Identical nodes take
// the same number, so a run is split at most twice.
func (r *packRun) fillRuns(c *packClass, left int64, out *ClassPack) int64 {
	first := 0
	for j := 0; j < len(r.runs) && left > 0; j++ {
		run := r.runs[j]
		k := run.v.fits(&c.req, c.zero)
		if c.excl {
			k = min(k, 1)
		}
		if k <= 0 {
			first += run.n
			continue
		}
		whole := min(int64(run.n), left/k)
		if whole == int64(run.n) {
			r.runs[j].v.take(&c.req, k)
			out.addNew(first, run.n, int(k))
			left -= whole * k
			first += run.n
			continue
		}
		var pieces []vrun
		if whole > 0 {
			v := run.v
			v.take(&c.req, k)
			pieces = append(pieces, vrun{v, int(whole)})
			out.addNew(first, int(whole), int(k))
		}
		if rem := left - whole*k; rem > 0 {
			v := run.v
			v.take(&c.req, rem)
			pieces = append(pieces, vrun{v, 1})
			out.addNew(first+int(whole), 1, int(rem))
		}
		used := 0
		for _, p := range pieces {
			used += p.n
		}
		if rest := run.n - used; rest > 0 {
			pieces = append(pieces, vrun{run.v, rest})
		}
		r.runs = slices.Replace(r.runs, j, j+1, pieces...)
		return 0
	}
	return left
}

// takeOne places one pod with requests req on the first node of run j,
// splitting it off the run.
func (r *packRun) takeOne(j int, req *vres) {
	if r.runs[j].n == 1 {
		r.runs[j].v.take(req, 1)
		return
	}
	v := r.runs[j].v
	v.take(req, 1)
	r.runs[j].n--
	r.runs = slices.Insert(r.runs, j, vrun{v, 1})
}

// freshAffinity is the InterPodAffinity state of class c for a new node:
// the snapshot's pods whose anti-affinity selects c in the node's zone,
// and the daemon pods on the node. c's own terms are on the hostname
// only, so other nodes' pods do not matter.
func (r *packRun) freshAffinity(c *packClass) *affinityState {
	return r.pk.newNodeAffinity(c.rep, r.fresh)
}

// newNodeAffinity is the InterPodAffinity state of p for n, a node outside
// the snapshot whose pods have no affinity terms, when p's terms are on
// the hostname only.
func (pk *Packer) newNodeAffinity(p *Pod, n *nodeState) *affinityState {
	zone, hasZone := n.node.Labels[LabelZone]
	var anti int
	if hasZone {
		for _, t := range pk.zoneTerms() {
			if t.zone == zone && t.term.matches(p, pk.s.nsLabels[p.namespace]) {
				anti++
			}
		}
	}
	if anti == 0 && len(p.antiAffinity) == 0 {
		return nil
	}
	st := &affinityState{affinity: map[topologyPair]int{}, anti: map[topologyPair]int{}, existingAnti: map[topologyPair]int{}}
	if anti > 0 {
		st.existingAnti[topologyPair{LabelZone, zone}] = anti
	}
	for _, q := range n.pods {
		st.add(p, q, n, pk.s.nsLabels[q.namespace], pk.s.nsLabels[p.namespace])
	}
	return st
}

// zoneTerm is a zone anti-affinity term of a pod of the snapshot, in the
// zone of the pod's node.
type zoneTerm struct {
	term *affinityTerm
	zone string
}

// zoneTerms lists the snapshot's zone anti-affinity terms (computed once).
func (pk *Packer) zoneTerms() []zoneTerm {
	if pk.zoneDone {
		return pk.zoneAnti
	}
	pk.zoneDone = true
	if pk.s.antiPods == 0 {
		return nil
	}
	for _, n := range pk.s.nodes {
		if n == nil || n.antiPods == 0 {
			continue
		}
		z, ok := n.node.Labels[LabelZone]
		if !ok {
			continue
		}
		for _, q := range n.pods {
			for i := range q.antiAffinity {
				if q.antiAffinity[i].topologyKey == LabelZone {
					pk.zoneAnti = append(pk.zoneAnti, zoneTerm{&q.antiAffinity[i], z})
				}
			}
		}
	}
	return pk.zoneAnti
}

// freshNode returns a new node of template with the daemon pods that fit
// it, as [Snapshot.AddTemplateNode] would add it, without adding it. The
// daemon pods have no pod affinity, anti-affinity or spread terms.
func (pk *Packer) freshNode(template *corev1.Node, daemonPods []*Pod) *nodeState {
	fam := pk.s.fam
	fam.mu.Lock()
	probe, ok := fam.probes[template]
	if !ok {
		obj := templateNodeObject(template, probeNodeName)
		probe = &nodeState{node: obj, template: true, allocatable: ResourcesFromList(obj.Status.Allocatable)}
		fam.probes[template] = probe
	}
	fam.mu.Unlock()
	obj := probe.node
	n := &nodeState{node: obj, template: true, allocatable: probe.allocatable}
	for _, d := range daemonPods {
		if d.staticFit(obj) != ReasonNone || dynamicFit(d, n, nil, pk.newNodeAffinity(d, n)) != ReasonNone {
			continue
		}
		n.pods = append(n.pods, d)
		n.requested.Add(d.requests)
		n.ports = append(n.ports, d.ports...)
	}
	return n
}

func (r *packRun) oldNode(idx int) *vnode {
	v, ok := r.old[idx]
	if !ok {
		n := r.pk.s.nodes[idx]
		v = &vnode{free: r.pk.vres(n.free()), podRoom: n.allocatable.Pods - int64(len(n.pods))}
		r.old[idx] = v
	}
	return v
}
