package simulator

import (
	"fmt"
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// PackClass is one equivalence class to pack: a representative compiled
// pod and how many of its replicas remain.
type PackClass struct {
	Pod   *Pod
	Count int
	// Placer, optional, is a Placer of the class on the Packer's snapshot;
	// its state spares a scan of the snapshot for spread classes.
	Placer *Placer
}

// Packer computes, without mutating the snapshot, where equivalence classes
// would land if their replicas were placed first-fit, class after class,
// onto the snapshot's nodes plus as many new nodes of one template as
// needed: exactly what a [Placer] per class on a fork with
// [Snapshot.AddTemplateNode] whenever no node fits would do, but in bulk.
// For a class of identical pods on identical nodes the replicas per node
// are computed arithmetically (the minimum over resources of free ÷
// request, one per node for hostname anti-affinity), and only classes with
// zone topology spread are followed replica by replica.
//
// The bulk model covers classes without required pod affinity and host
// ports, with anti-affinity only on kubernetes.io/hostname and spread only
// on topology.kubernetes.io/zone, whose terms and selectors select no pod
// of another class (and, for spread, no daemon pod). [Packer.Supported]
// says when the classes are outside it; the caller then places pod by pod.
//
// The snapshot must be one where every class was just offered to a
// Placer and its next replica fitted no node (a planner's state after
// placing what fits): then a class without spread can land on new nodes
// only, since its failures on the other nodes are permanent.
type Packer struct {
	s           *Snapshot
	classes     []packClass
	unsupported string
	scalars     []corev1.ResourceName // the classes' scalar requests
	zoneAnti    []zoneTerm
	zoneDone    bool
	epoch       uint64
	// memo holds, per template, the packing of the leading classes
	// without spread constraints, which later rounds often repeat.
	memo map[*corev1.Node]*bulkMemo
}

// bulkMemo is the packing of a Packer's leading classes without spread
// constraints onto new nodes of one template.
type bulkMemo struct {
	daemon  []*Pod
	maxNew  int
	classes []PackClass // Pod and Count only
	runs    []vrun
	count   int
	packs   []ClassPack
}

func newBulkMemo(daemon []*Pod, maxNew int, classes []packClass, r *packRun) *bulkMemo {
	m := &bulkMemo{daemon: daemon, maxNew: maxNew, runs: slices.Clone(r.runs), count: r.count, packs: slices.Clone(r.res.Classes[:len(classes)])}
	for _, c := range classes {
		m.classes = append(m.classes, PackClass{Pod: c.rep, Count: c.count})
	}
	return m
}

// matches reports whether m is the packing of classes with these inputs.
// Class representatives match by compiled spec, which holds everything
// but the pod's identity.
func (m *bulkMemo) matches(daemon []*Pod, maxNew int, classes []packClass) bool {
	if maxNew != m.maxNew || !slices.Equal(daemon, m.daemon) || len(classes) != len(m.classes) {
		return false
	}
	for i, c := range classes {
		if c.rep.podSpec != m.classes[i].Pod.podSpec || c.count != m.classes[i].Count {
			return false
		}
	}
	return true
}

// Inherit lets pk reuse what prev computed when prev packed onto the same
// snapshot, which has only grown since (no removal) without new zone
// anti-affinity terms: the results of leading classes without spread
// constraints then stay valid.
func (pk *Packer) Inherit(prev *Packer) {
	if prev == nil || prev.s != pk.s || prev.epoch != pk.s.epoch || pk.unsupported != "" ||
		!slices.Equal(prev.scalars, pk.scalars) || len(prev.zoneTerms()) != len(pk.zoneTerms()) {
		return
	}
	pk.memo = prev.memo
}

type packClass struct {
	rep   *Pod
	count int
	req   vres // rep's requests
	zero  bool // rep requests nothing but a pod slot
	// excl: at most one replica per node (the pod matches its own hostname
	// anti-affinity).
	excl bool
	// For spread classes: the counts on the snapshot, and the nodes where
	// only the spread constraints can keep a replica out, by zone in
	// snapshot order.
	spread *spreadState
	cands  map[string][]int
	zones  []string       // keys of cands, sorted
	elig   map[int]uint64 // per candidate: bit i set when it counts for constraint i
	zs     *zoneSpread    // the class's own facts; counts are cloned per pack
}

// NewPacker prepares the classes (in packing order) against s. It costs
// O(nodes) per class with spread constraints, O(classes²) otherwise.
func NewPacker(s *Snapshot, classes []PackClass) *Packer {
	pk := &Packer{s: s, epoch: s.epoch, memo: map[*corev1.Node]*bulkMemo{}}
	for _, c := range classes {
		pc := packClass{rep: c.Pod, count: c.Count}
		if why := bulkUnsupported(c.Pod); why != "" {
			pk.unsupported = c.Pod.key + ": " + why
			return pk
		}
		pc.excl = len(c.Pod.antiAffinity) > 0 && matchesAny(c.Pod.antiAffinity, c.Pod, s.nsLabels[c.Pod.namespace])
		pk.classes = append(pk.classes, pc)
	}
	names := map[corev1.ResourceName]bool{}
	for _, c := range pk.classes {
		for name := range c.rep.requests.Scalar {
			names[name] = true
		}
	}
	if len(names) > maxPackScalars {
		pk.unsupported = fmt.Sprintf("more than %d scalar resources requested", maxPackScalars)
		return pk
	}
	pk.scalars = slices.Sorted(maps.Keys(names))
	for i := range pk.classes {
		c := &pk.classes[i]
		c.req, c.zero = pk.vres(c.rep.requests), c.rep.requests.isZeroRequest()
	}
	for i, a := range pk.classes {
		for j, b := range pk.classes {
			if i != j && selects(a.rep, b.rep, s.nsLabels) {
				pk.unsupported = fmt.Sprintf("%s selects pods of %s", a.rep.key, b.rep.key)
				return pk
			}
		}
	}
	for i := range pk.classes {
		c := &pk.classes[i]
		if len(c.rep.spread) > 0 {
			pk.prepareSpread(c, classes[i].Placer)
		}
	}
	return pk
}

// bulkUnsupported says why the bulk model cannot pack p's class, "" if it
// can.
func bulkUnsupported(p *Pod) string {
	switch {
	case p.unsupported != ReasonNone:
		return string(p.unsupported)
	case len(p.affinity) > 0:
		return "required pod affinity"
	case len(p.ports) > 0:
		return "host ports"
	case len(p.antiAffinity) > 0 && len(p.spread) > 0:
		return "anti-affinity and topology spread"
	}
	for _, t := range p.antiAffinity {
		if t.topologyKey != LabelHostname || selectsPerPodLabel(t.selector) {
			return "anti-affinity on " + t.topologyKey + " or on a per-replica label"
		}
	}
	if len(p.spread) > 64 {
		return "more than 64 topology spread constraints"
	}
	for _, c := range p.spread {
		if c.topologyKey != LabelZone || selectsPerPodLabel(c.selector) {
			return "topology spread on " + c.topologyKey + " or on a per-replica label"
		}
	}
	return ""
}

func selectsPerPodLabel(sel labels.Selector) bool {
	reqs, _ := sel.Requirements()
	for _, r := range reqs {
		if slices.Contains(perPodLabels, r.Key()) {
			return true
		}
	}
	return false
}

// selects reports whether a's anti-affinity terms or spread selectors
// count pod b.
func selects(a, b *Pod, nsLabels map[string]labels.Set) bool {
	if matchesAny(a.antiAffinity, b, nsLabels[b.namespace]) {
		return true
	}
	for i := range a.spread {
		if a.spread[i].counts(a, b) {
			return true
		}
	}
	return false
}

func matchesAny(terms []affinityTerm, q *Pod, nsLabels labels.Set) bool {
	for i := range terms {
		if terms[i].matches(q, nsLabels) {
			return true
		}
	}
	return false
}

// prepareSpread records the spread counts of class c and the nodes that
// fit its replicas but for the spread constraints. A Placer of the class
// on the snapshot lends its counts and skips the nodes it found dead.
func (pk *Packer) prepareSpread(c *packClass, pl *Placer) {
	s := pk.s
	var aff *affinityState
	var dead []bool
	if pl != nil && pl.s == s && pl.p.podSpec == c.rep.podSpec {
		pl.sync()
		c.spread, aff, dead = pl.spread, pl.aff, pl.dead
	} else {
		c.spread, aff = newSpreadState(s, c.rep), newAffinityState(s, c.rep)
	}
	static := s.staticVerdicts(c.rep.podSpec)
	c.cands, c.elig = map[string][]int{}, map[int]uint64{}
	for i, n := range s.nodes {
		if n == nil || (i < len(dead) && dead[i]) || static[n.id] != ReasonNone {
			continue
		}
		z, ok := n.node.Labels[LabelZone]
		if !ok || resourcesFit(c.rep.requests, n) != ReasonNone || aff.fits(c.rep, n) != ReasonNone {
			continue
		}
		c.cands[z] = append(c.cands[z], i)
		c.elig[i] = c.rep.spreadEligibility(n)
	}
	c.zones = slices.Sorted(maps.Keys(c.cands))
	c.zs = newZoneSpread(c.rep, nil)
}

// Supported reports whether the bulk model covers the classes, and if not
// why.
func (pk *Packer) Supported() (bool, string) { return pk.unsupported == "", pk.unsupported }

// PackResult is the outcome of [Packer.Pack].
type PackResult struct {
	// NewNodes is the number of new template nodes the classes need.
	NewNodes int
	// Classes holds, per class in the Packer's order, what was placed.
	Classes []ClassPack
	// Allocatable and Requested sum the new nodes' allocatable and the
	// requests placed on them (daemon pods included); scalar resources are
	// not summed.
	Allocatable, Requested Resources
}

// ClassPack is where one class's replicas land, in replica order.
type ClassPack struct {
	// Segments place consecutive replicas, in order.
	Segments []PackSegment
	// Placed counts the replicas placed.
	Placed int
	// Stop says why the next replica fits nowhere (ReasonNone when all
	// were placed or when only the room for new nodes ran out).
	Stop Reason
	// OutOfRoom is set when the next replica would fit a new node but
	// maxNew was reached.
	OutOfRoom bool
}

// PackSegment places consecutive replicas: Count on an existing node of
// the snapshot (Node), or, when Node is "", Count on each of the Nodes new
// nodes from NewNode on (0-based, in order of addition).
type PackSegment struct {
	Node    string
	NewNode int
	Nodes   int
	Count   int
}

// addNew records count replicas on each of nodes new nodes from first.
func (cp *ClassPack) addNew(first, nodes, count int) {
	if nodes <= 0 || count <= 0 {
		return
	}
	cp.Placed += nodes * count
	if k := len(cp.Segments) - 1; k >= 0 {
		if l := &cp.Segments[k]; l.Node == "" && l.Count == count && l.NewNode+l.Nodes == first {
			l.Nodes += nodes
			return
		}
	}
	cp.Segments = append(cp.Segments, PackSegment{NewNode: first, Nodes: nodes, Count: count})
}

// addOneNew records one more replica on new node i.
func (cp *ClassPack) addOneNew(i int) {
	cp.Placed++
	if k := len(cp.Segments) - 1; k >= 0 {
		if l := &cp.Segments[k]; l.Node == "" && l.Nodes == 1 && l.NewNode == i {
			l.Count++
			return
		}
	}
	cp.Segments = append(cp.Segments, PackSegment{NewNode: i, Nodes: 1, Count: 1})
}

// addOld records one replica on the existing node name.
func (cp *ClassPack) addOld(name string) {
	cp.Placed++
	if k := len(cp.Segments) - 1; k >= 0 && cp.Segments[k].Node == name {
		cp.Segments[k].Count++
		return
	}
	cp.Segments = append(cp.Segments, PackSegment{Node: name, Nodes: 1, Count: 1})
}

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

// packRun is the state of one Pack call.
type packRun struct {
	pk     *Packer
	fresh  *nodeState     // a new node of the template, daemon pods placed
	runs   []vrun         // the new nodes, in order, identical neighbours merged
	count  int            // new nodes
	old    map[int]*vnode // existing nodes changed by spread classes
	res    PackResult
	maxNew int
}

// probeNodeName names the new node Pack evaluates (outside the snapshot)
// to learn what a new node of a template looks like.
const probeNodeName = "kelp-packer-probe"

// Pack packs the classes onto the snapshot's nodes and up to maxNew new
// nodes of template (with daemonPods, see [Snapshot.AddTemplateNode]).
// ok is false when the classes or the daemon pods are outside the bulk
// model; the caller then places pod by pod.
func (pk *Packer) Pack(template *corev1.Node, daemonPods []*Pod, maxNew int) (res PackResult, ok bool, err error) {
	if pk.unsupported != "" {
		return PackResult{}, false, nil
	}
	for _, d := range daemonPods {
		if len(d.affinity) > 0 || len(d.antiAffinity) > 0 || len(d.spread) > 0 || d.unsupported != ReasonNone {
			return PackResult{}, false, nil
		}
	}
	r := &packRun{pk: pk, old: map[int]*vnode{}, maxNew: maxNew}
	r.fresh = pk.freshNode(template, daemonPods)
	for i := range pk.classes {
		c := &pk.classes[i]
		for _, d := range r.fresh.pods {
			for j := range c.rep.spread {
				if c.rep.spread[j].counts(c.rep, d) {
					return PackResult{}, false, nil
				}
			}
		}
	}
	r.res.Classes = make([]ClassPack, len(pk.classes))
	lead := slices.IndexFunc(pk.classes, func(c packClass) bool { return len(c.rep.spread) > 0 })
	if lead < 0 {
		lead = len(pk.classes)
	}
	start := 0
	if m := pk.memo[template]; m != nil && m.matches(daemonPods, maxNew, pk.classes[:lead]) {
		r.runs, r.count = slices.Clone(m.runs), m.count
		copy(r.res.Classes, m.packs)
		start = lead
	}
	for i := start; i < len(pk.classes); i++ {
		if i == lead && start == 0 {
			pk.memo[template] = newBulkMemo(daemonPods, maxNew, pk.classes[:lead], r)
		}
		c := &pk.classes[i]
		if len(c.rep.spread) > 0 {
			r.res.Classes[i] = r.packSpread(c)
		} else {
			r.res.Classes[i] = r.packBulk(c)
		}
	}
	if lead == len(pk.classes) && start == 0 {
		pk.memo[template] = newBulkMemo(daemonPods, maxNew, pk.classes, r)
	}
	r.res.NewNodes = r.count
	a, n := &r.fresh.allocatable, int64(r.count)
	r.res.Allocatable = Resources{MilliCPU: n * a.MilliCPU, Memory: n * a.Memory, EphemeralStorage: n * a.EphemeralStorage, Pods: n * a.Pods}
	r.res.Requested = r.res.Allocatable
	for _, run := range r.runs {
		k := int64(run.n)
		r.res.Requested.MilliCPU -= k * run.v.free.cpu
		r.res.Requested.Memory -= k * run.v.free.mem
		r.res.Requested.EphemeralStorage -= k * run.v.free.eph
		r.res.Requested.Pods -= k * run.v.podRoom
	}
	return r.res, true, nil
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
			zs.add(n.node.Labels[LabelZone], c.elig[idx])
			out.addOld(n.node.Name)
			continue
		}
		if other == ReasonNone && r.count > 0 && freshHasZone && zs.allows(freshZone) {
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
		if old == zs.st.mins[i] {
			zs.st.recomputeMin(i, zs.p.spread[i].minDomains)
		}
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
	c := &spreadState{counts: make([]map[string]int, len(st.counts)), mins: slices.Clone(st.mins)}
	for i, m := range st.counts {
		c.counts[i] = maps.Clone(m)
	}
	return c
}
