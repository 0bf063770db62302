package autoscaler

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/simulator"
)

// simulation is one option tried on the working snapshot.
//
// A simulation is either the outcome of pod-by-pod placement on the
// working snapshot, rolled back afterwards (nodes and placed set), or of a
// [simulator.Packer] (pack set); commit replays either onto the working
// snapshot.
type simulation struct {
	opt    Option
	it     cloud.InstanceType
	nodes  []string    // new nodes, in order (for a pack: once committed)
	placed []placement // every pod placed, wherever
	pack   *simulator.PackResult
	tmpl   *corev1.Node
	ds     []*simulator.Pod
	// reasons[ci] says why class ci (or the rest of it) was not placed, ""
	// when it all was.
	reasons []string
}

type placement struct {
	pod  string
	node string
	q    *simulator.Pod
}

func optionKey(o Option) [2]string { return [2]string{o.Group, o.InstanceType} }

// options simulates every eligible group and instance type for the
// classes. It returns the options that place at least one pod with their
// simulations (by optionKey), and a function that says, for each class,
// per group, why that group leaves pods of it unplaced (only the last
// round needs it).
func (p *planner) options(classes []*class) ([]Option, map[[2]string]*simulation, func() []map[string]string) {
	n := 0
	for _, g := range p.groups {
		n += len(g.Template.InstanceTypes)
	}
	sims := make(map[[2]string]*simulation, n)
	opts := make([]Option, 0, n)
	rd := &round{classes: classes, p: p}
	if !p.reference {
		pcs := make([]simulator.PackClass, len(classes))
		for i, c := range classes {
			pcs[i] = simulator.PackClass{Pod: c.rep, Count: len(c.pods), Placer: p.placers[c.rep]}
		}
		rd.packer = simulator.NewPacker(p.work, pcs)
		rd.packer.Inherit(p.lastPacker)
		p.lastPacker = rd.packer
	}
	var tried []groupTry
	for _, g := range p.groups {
		if why := p.ineligible(g); why != "" {
			p.plan.Skipped[g.ID] = why
			tried = append(tried, groupTry{g: g, why: why})
			continue
		}
		if p.groupRoom(g) <= 0 {
			// Still simulated, so that pods that would not fit anyway say why.
			p.plan.Skipped[g.ID] = fmt.Sprintf("group at MaxSize (%d)", g.MaxSize)
		}
		gt := groupTry{g: g}
		for _, it := range g.Template.InstanceTypes {
			s := p.simulate(g, it, rd)
			gt.sims = append(gt.sims, s)
			if s.opt.Nodes > 0 {
				sims[optionKey(s.opt)] = s
				opts = append(opts, s.opt)
			}
		}
		tried = append(tried, gt)
	}
	return opts, sims, func() []map[string]string { return reasonsOf(len(classes), tried) }
}

// groupTry is one group's outcome in a round: why it is ineligible, or its
// simulations, one per instance type.
type groupTry struct {
	g    cloud.NodeGroup
	why  string
	sims []*simulation
}

// reasonsOf says, for each of n classes, per group, why that group leaves
// pods of it unplaced.
func reasonsOf(n int, tried []groupTry) []map[string]string {
	reasons := make([]map[string]string, n)
	for ci := range reasons {
		reasons[ci] = map[string]string{}
		for _, gt := range tried {
			if gt.why != "" {
				reasons[ci][gt.g.ID] = gt.why
				continue
			}
			byType := map[string]string{}
			for i, s := range gt.sims {
				if r := s.reasons[ci]; r != "" {
					byType[gt.g.Template.InstanceTypes[i].Name] = r
				}
			}
			if len(byType) > 0 {
				reasons[ci][gt.g.ID] = joinReasons(byType)
			}
		}
	}
	return reasons
}

// ineligible says why group g cannot grow at all this round, "" if it can.
func (p *planner) ineligible(g cloud.NodeGroup) string {
	if b, ok := p.in.Backoff[g.ID]; ok && p.in.Now.Before(b.Until) {
		why := "in backoff until " + b.Until.UTC().Format("2006-01-02T15:04:05Z")
		if b.Reason != "" {
			why += ": " + b.Reason
		}
		return why
	}
	if len(g.Template.InstanceTypes) == 0 {
		return "no node template: the group's instance types are unknown"
	}
	return ""
}

func (p *planner) groupRoom(g cloud.NodeGroup) int {
	return g.Room() - p.grown[g.ID]
}

// room returns how many nodes of type it the group and the cluster limits
// allow, and the limit that binds.
func (p *planner) room(g cloud.NodeGroup, it cloud.InstanceType) (int, roomLimit) {
	n, why := p.budgetRoom(p.groupRoom(g), roomLimit{"group reached MaxSize (%d)", int64(g.MaxSize)})
	l := p.in.Limits
	if l.MaxNodesTotal <= 0 && l.MaxCoresTotal <= 0 && l.MaxMemoryTotal <= 0 {
		return max(n, 0), why
	}
	cores, mem := typeCapacity(it)
	if l.MaxNodesTotal > 0 && l.MaxNodesTotal-p.used.nodes < n {
		n, why = l.MaxNodesTotal-p.used.nodes, roomLimit{"MaxNodesTotal reached (%d)", int64(l.MaxNodesTotal)}
	}
	if l.MaxCoresTotal > 0 && cores > 0 && int((l.MaxCoresTotal-p.used.cores)/cores) < n {
		n, why = int((l.MaxCoresTotal-p.used.cores)/cores), roomLimit{"MaxCoresTotal reached (%d)", l.MaxCoresTotal}
	}
	if l.MaxMemoryTotal > 0 && mem > 0 && int((l.MaxMemoryTotal-p.used.memory)/mem) < n {
		n, why = int((l.MaxMemoryTotal-p.used.memory)/mem), roomLimit{"MaxMemoryTotal reached (%d bytes)", l.MaxMemoryTotal}
	}
	return max(n, 0), why
}

// roomLimit is the limit that bounds a group's growth, rendered only when
// a reason needs it.
type roomLimit struct {
	format string
	value  int64
}

func (l roomLimit) String() string { return fmt.Sprintf(l.format, l.value) }

// round is what one round's options share: the classes left and their
// Packer (nil when planning pod by pod).
type round struct {
	p       *planner
	classes []*class
	packer  *simulator.Packer
	order   []podRef            // the classes' pods sorted by key, built on first use
	pods    map[string][]string // podsPlaced by placed counts
}

// podRef is pod idx of class ci.
type podRef struct {
	key     string
	ci, idx int
}

// sorted returns the round's pods sorted by key. The pending pods are
// sorted once per plan (p.pending) and filtered each round: a class's pods
// left are always the last of its pods.
func (rd *round) sorted() []podRef {
	if rd.order != nil {
		return rd.order
	}
	p := rd.p
	if p.pending == nil {
		for _, c := range p.allClasses {
			for i, q := range c.all {
				p.pending = append(p.pending, podRef{q.Key(), c.id, i})
			}
		}
		slices.SortFunc(p.pending, func(a, b podRef) int { return strings.Compare(a.key, b.key) })
	}
	ci, done := map[int]int{}, map[int]int{}
	for i, c := range rd.classes {
		d := len(c.all) - len(c.pods)
		if len(c.pods) > 0 && c.pods[0] != c.all[d] { // not a suffix: sort afresh
			p.pending = nil
			for ci, c := range rd.classes {
				for i, q := range c.pods {
					rd.order = append(rd.order, podRef{q.Key(), ci, i})
				}
			}
			slices.SortFunc(rd.order, func(a, b podRef) int { return strings.Compare(a.key, b.key) })
			return rd.order
		}
		ci[c.id], done[c.id] = i, d
	}
	// p.pending keeps every class's pods: a round may cover only some
	// classes (the leading one).
	for _, ref := range p.pending {
		if i, ok := ci[ref.ci]; ok && ref.idx >= done[ref.ci] {
			rd.order = append(rd.order, podRef{ref.key, i, ref.idx - done[ref.ci]})
		}
	}
	return rd.order
}

// podsPlaced returns the sorted keys of the pods a pack places: the first
// Placed of each class. Options placing the same counts share the slice
// (expanders must not modify options).
func (rd *round) podsPlaced(packs []simulator.ClassPack, total int) []string {
	key := make([]byte, 0, 8*len(packs))
	for _, c := range packs {
		key = strconv.AppendInt(key, int64(c.Placed), 36)
		key = append(key, ',')
	}
	if pods, ok := rd.pods[string(key)]; ok {
		return pods
	}
	pods := make([]string, 0, total)
	for _, ref := range rd.sorted() {
		if ref.idx < packs[ref.ci].Placed {
			pods = append(pods, ref.key)
		}
	}
	if rd.pods == nil {
		rd.pods = map[string][]string{}
	}
	rd.pods[string(key)] = pods
	return pods
}

// template returns the node a new instance of type it in group g would
// register as and its daemon pods, built once per plan.
func (p *planner) template(g cloud.NodeGroup, it cloud.InstanceType) (*corev1.Node, []*simulator.Pod, bool) {
	key := [2]string{g.ID, it.Name}
	if t, ok := p.templates[key]; ok {
		return t.node, t.ds, t.node != nil
	}
	tmpl, ok := templateNode(g, it)
	var ds []*simulator.Pod
	if ok {
		ds = simulator.DaemonSetPods(tmpl, p.in.DaemonSets)
	}
	p.templates[key] = templateEntry{tmpl, ds}
	return tmpl, ds, ok
}

type templateEntry struct {
	node *corev1.Node // nil: no template for the type
	ds   []*simulator.Pod
}

// simulate packs the classes, largest first, onto new nodes of type it in
// group g: each replica goes first-fit onto the nodes present; when none
// fits a new node is added, up to the room left. A class stops at its
// first replica that fits nowhere (the next would fail the same way). The
// round's Packer computes this in bulk; classes outside its model are
// placed pod by pod on the working snapshot, then rolled back.
func (p *planner) simulate(g cloud.NodeGroup, it cloud.InstanceType, rd *round) *simulation {
	classes := rd.classes
	s := &simulation{it: it, reasons: make([]string, len(classes))}
	tmpl, ds, ok := p.template(g, it)
	if !ok {
		for ci := range classes {
			s.reasons[ci] = "no node template for instance type " + it.Name
		}
		return s
	}
	room, limit := p.room(g, it)
	if rd.packer != nil {
		res, ok, err := rd.packer.Pack(tmpl, ds, room)
		if err == nil && ok {
			p.packed++
			return p.fromPack(g, it, rd, s, res, limit)
		}
	}
	s.tmpl, s.ds = tmpl, ds
	pls := make([]*simulator.Placer, len(classes))
	for ci, c := range classes {
		pls[ci] = p.placer(c)
	}
	mark := p.work.Mark()
	pms := make([]simulator.PlacerMark, len(pls))
	for ci, pl := range pls {
		pms[ci] = pl.Mark()
	}
	for ci, c := range classes {
		s.reasons[ci] = p.pack(s, pls[ci], c, room, limit.String())
	}
	s.opt = p.optionOf(g, it, s)
	p.work.Rollback(mark)
	for ci, pl := range pls {
		pl.Rollback(pms[ci])
	}
	return s
}

// fromPack turns a Packer's result into simulation s.
func (p *planner) fromPack(g cloud.NodeGroup, it cloud.InstanceType, rd *round, s *simulation, res simulator.PackResult, limit roomLimit) *simulation {
	s.pack, s.tmpl, s.ds = &res, nil, nil
	s.tmpl, s.ds, _ = p.template(g, it)
	o := Option{Group: g.ID, Pool: g.Pool, InstanceType: it.Name, Nodes: res.NewNodes, Price: it.Price}
	o.Cost = float64(o.Nodes) * it.Price
	total := 0
	for ci, c := range res.Classes {
		total += c.Placed
		switch {
		case c.Placed == len(rd.classes[ci].pods):
		case c.OutOfRoom:
			s.reasons[ci] = limit.String()
		default:
			s.reasons[ci] = string(c.Stop)
		}
	}
	if total > 0 {
		o.Pods = rd.podsPlaced(res.Classes, total)
	}
	p.settle(&o, res.Allocatable, res.Requested)
	s.opt = o
	return s
}

// replay applies a Packer's simulation to the working snapshot: it adds the
// new nodes and places the pods where the Packer put them, filling s.nodes
// and s.placed.
func (p *planner) replay(s *simulation, classes []*class) error {
	s.nodes = make([]string, s.pack.NewNodes)
	for i := range s.nodes {
		p.seq++
		s.nodes[i] = fmt.Sprintf("%s-new-%d", s.tmpl.Name, p.seq)
		if err := p.work.AddTemplateNode(s.tmpl, s.nodes[i], s.ds); err != nil {
			return fmt.Errorf("replay plan: %w", err)
		}
	}
	for ci, c := range s.pack.Classes {
		i := 0
		for _, seg := range c.Segments {
			for n := range max(seg.Nodes, 1) {
				node := seg.Node
				if node == "" {
					node = s.nodes[seg.NewNode+n]
				}
				for range seg.Count {
					q := classes[ci].pods[i]
					i++
					if err := p.work.AddPod(node, q); err != nil {
						return fmt.Errorf("replay plan: %w", err)
					}
					s.placed = append(s.placed, placement{q.Key(), node, q})
				}
			}
		}
	}
	return nil
}

func wasted(alloc, used int64) float64 {
	if alloc <= 0 {
		return 0
	}
	return float64(max(alloc-used, 0)) / float64(alloc)
}

// typeCapacity returns the cores (rounded up) and memory bytes of a node
// of type it: its capacity, or its allocatable when capacity is unknown.
func typeCapacity(it cloud.InstanceType) (cores, memory int64) {
	return listCapacity(it.Capacity, it.Allocatable)
}

func listCapacity(capacity, allocatable corev1.ResourceList) (cores, memory int64) {
	rl := capacity
	if len(rl) == 0 {
		rl = allocatable
	}
	cpu, mem := rl[corev1.ResourceCPU], rl[corev1.ResourceMemory]
	return (cpu.MilliValue() + 999) / 1000, mem.Value()
}

func (u *usage) add(n int, it cloud.InstanceType) {
	c, m := typeCapacity(it)
	u.nodes += n
	u.cores += int64(n) * c
	u.memory += int64(n) * m
}

// snapshotUsage counts the nodes of s and their capacity.
func snapshotUsage(s *simulator.Snapshot) usage {
	var u usage
	for _, name := range s.NodeNames() {
		info, ok := s.Node(name)
		if !ok || info.Node == nil {
			continue
		}
		c, m := listCapacity(info.Node.Status.Capacity, info.Node.Status.Allocatable)
		u.nodes++
		u.cores += c
		u.memory += m
	}
	return u
}
