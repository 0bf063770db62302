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
	case len(p.volumes) > 0:
		return "volumes with attach limits"
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
		if n == nil || (i < len(dead) && dead[i]) || c.rep.staticOf(static, n) != ReasonNone {
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
