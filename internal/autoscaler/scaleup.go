package autoscaler

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/simulator"
)

// class is the pending pods of one equivalence class, compiled once.
type class struct {
	rep  *simulator.Pod
	pods []*simulator.Pod // replicas sharing rep's compiled spec, rep first
	// all are the class's pods at the start of the plan; pods is a suffix
	// of all (pods are placed in order), and id the class's index then.
	all []*simulator.Pod
	id  int
}

// planner is the state of one PlanScaleUp call.
type planner struct {
	in      Input
	groups  []cloud.NodeGroup // eligible-or-not, sorted by ID, unique
	work    *simulator.Snapshot
	plan    Plan
	newNode map[string]int // planned node name → index in plan.Increases
	grown   map[string]int // group ID → nodes planned
	used    usage          // cluster totals: existing + upcoming + planned
	seq     int            // for unique node names
	// templates memoises template nodes and daemon pods by group ID and
	// instance type.
	templates map[[2]string]templateEntry
	// reference plans pod by pod, without the Packer (for tests).
	reference bool
	packed    int // simulations computed by the Packer
	rounds    int // option rounds run
	// placers hold, per class representative, a Placer on placersOn,
	// kept from round to round while the working snapshot only grows.
	placers   map[*simulator.Pod]*simulator.Placer
	placersOn *simulator.Snapshot
	// lastPacker is the previous round's Packer, whose results for
	// unchanged classes the next round reuses.
	lastPacker *simulator.Packer
	// allClasses are every class of the plan, as first compiled; pods
	// indexes their pods by key (built by balance when needed).
	allClasses []*class
	pods       map[string]*simulator.Pod
	// planned holds the keys of the pods placed so far.
	planned map[string]struct{}
	// pending are the pods still to plan sorted by key, with their class
	// id and index in the class's all (see round.sorted).
	pending []podRef
	// follow is the round's demand of the classes after the lead (see
	// followers).
	follow demand
}

// usage is the cluster's node count and capacity.
type usage struct {
	nodes         int
	cores, memory int64
}

// PlanScaleUp decides which groups to grow for the pending pods. It takes
// the equivalence classes one at a time, largest first (first-fit
// decreasing): a class first fills the room on existing, upcoming and
// already planned nodes; for the rest of it, it simulates every eligible
// group and instance type with new nodes (within the group's MaxSize and
// the cluster limits), lets the expanders choose one option (each option
// counting the later classes' pods expected to fill its new nodes' room,
// Option.Fill), and repeats until the class is placed or no option places
// any of it. Once every class is planned, the plan is consolidated
// (consolidate.go): planned nodes whose pods fit the group's other
// planned nodes are dropped, pairs merged into one node costing no more,
// and nodes resized to the cheapest type that holds their pods. It never
// mutates the input; the same input gives the same
// plan (with a time budget, the same answers of in.Budget.Now too).
// Between classes it checks in.Budget: once reached, the plan is truncated
// there ([Plan.Truncated]) and the pods left are [Plan.Deferred].
//
// Options are computed in bulk by a [simulator.Packer] (per equivalence
// class, arithmetically, without forking the snapshot; results of classes
// that did not change are reused from round to round) and only the chosen
// one is applied to the working snapshot. Classes outside the Packer's
// model (pod affinity, host ports, zone anti-affinity, constraints that
// select other classes) are placed pod by pod on the working snapshot,
// which is then rolled back (simulator.Snapshot.Mark) with the classes'
// Placers, so that an option costs what it places, not the cluster's size;
// both give the same plan (TestPackerMatchesReference). The chosen option
// is replayed.
func PlanScaleUp(in Input) Plan {
	plan, _ := planScaleUp(in)
	return plan
}

// planScaleUp is PlanScaleUp, also returning the final simulated snapshot
// (for tests).
func planScaleUp(in Input) (Plan, *simulator.Snapshot) {
	return newPlanner(in).run()
}

// run plans; a planner runs once.
func (p *planner) run() (Plan, *simulator.Snapshot) {
	in := p.in
	classes := p.classes()
	if len(classes) == 0 {
		return p.plan, p.work
	}
	p.allClasses = classes
	p.addUpcoming()
	// Each turn places at least one pod or is done with a class, so the
	// bound is never reached; it only keeps a bug from becoming an endless
	// loop.
	for range 2*len(in.Pending) + 1 {
		if len(classes) == 0 {
			break
		}
		if t := p.spent(); t != nil {
			p.truncate(t, classes)
			classes = nil
			break
		}
		// Classes go one at a time, largest first, as in first-fit
		// decreasing: the class first fills the room left on existing,
		// upcoming and planned nodes, then the expanders choose the new
		// nodes for the rest of it alone. The smaller classes fill the
		// room those nodes leave in their turn. (Packing every class onto
		// one option instead lets small pods choose a type the big ones
		// cannot use, and the big ones then waste their nodes' room.)
		lead := p.placeOnCluster(classes[:1])
		if len(lead) == 0 {
			classes = classes[1:]
			continue
		}
		classes[0] = lead[0]
		p.rounds++
		p.follow = p.followers(lead[0], classes[1:])
		opts, sims, reasons := p.options(lead)
		best, why, ok := p.in.Expanders.Choose(opts)
		if !ok {
			p.unschedulable(lead, reasons())
			classes = classes[1:]
			continue
		}
		var err error
		if _, err = p.commit(sims[optionKey(best)], why, lead); err == nil {
			// Only the lead's pods were simulated, so only it lost pods.
			classes = append(p.without(classes[:1]), classes[1:]...)
		}
		if err != nil {
			for _, c := range classes {
				for _, q := range c.pods {
					p.plan.Unschedulable[q.Key()] = map[string]string{"": err.Error()}
				}
			}
			classes = nil
			break
		}
	}
	for _, c := range classes { // only after hitting the bound: never drop pods
		for _, q := range c.pods {
			p.plan.Unschedulable[q.Key()] = map[string]string{"": "planning stopped before placing the pod"}
		}
	}
	p.consolidate()
	p.balance()
	p.finish()
	return p.plan, p.work
}

func newPlanner(in Input) *planner {
	p := &planner{
		in:        in,
		newNode:   map[string]int{},
		planned:   map[string]struct{}{},
		grown:     map[string]int{},
		templates: map[[2]string]templateEntry{},
		plan: Plan{
			Placed:        map[string]string{},
			Unschedulable: map[string]map[string]string{},
			Unsupported:   map[string]simulator.Reason{},
			Skipped:       map[string]string{},
		},
	}
	if in.Snapshot == nil {
		p.work = simulator.NewSnapshot()
	} else {
		p.work = in.Snapshot.Fork()
	}
	p.used = snapshotUsage(p.work)
	seen := map[string]bool{}
	for _, g := range slices.SortedStableFunc(slices.Values(in.Groups), func(a, b cloud.NodeGroup) int {
		return cmp.Compare(a.ID, b.ID)
	}) {
		if seen[g.ID] {
			p.plan.Skipped[g.ID] = "duplicate group ID: only the first is considered"
			continue
		}
		seen[g.ID] = true
		p.groups = append(p.groups, g)
	}
	return p
}

// classes compiles the pending pods into equivalence classes, reporting
// unsupported pods and dropping duplicates. Classes are ordered largest
// first (extended resources such as GPUs, then cpu, then memory), for
// first-fit decreasing: pods that need special nodes choose them first,
// and the others fill the room left on them.
func (p *planner) classes() []*class {
	byKey := map[string]*class{}
	var out []*class
	seen := map[string]bool{}
	for _, info := range p.in.Pending {
		if info.Pod == nil {
			continue
		}
		key := info.Pod.Namespace + "/" + info.Pod.Name
		if seen[key] {
			continue
		}
		seen[key] = true
		ck := fmt.Sprintf("%s|%v|%v", simulator.EquivalenceKey(info.Pod), info.VolumesResolved, slices.Sorted(slices.Values(info.RequiredZones)))
		if c, ok := byKey[ck]; ok {
			c.pods = append(c.pods, c.rep.Replica(info.Pod))
			continue
		}
		rep := simulator.NewPod(info)
		if r := rep.Unsupported(); r != simulator.ReasonNone {
			p.plan.Unsupported[key] = r
			continue
		}
		c := &class{rep: rep, pods: []*simulator.Pod{rep}}
		byKey[ck] = c
		out = append(out, c)
	}
	slices.SortStableFunc(out, func(a, b *class) int {
		ra, rb := a.rep.Requests(), b.rep.Requests()
		return cmp.Or(cmp.Compare(scalarTotal(rb), scalarTotal(ra)), cmp.Compare(rb.MilliCPU, ra.MilliCPU),
			cmp.Compare(rb.Memory, ra.Memory), cmp.Compare(a.rep.Key(), b.rep.Key()))
	})
	for i, c := range out {
		c.all, c.id = c.pods, i
	}
	return out
}

// addUpcoming adds the groups' launched-but-unregistered instances as
// template nodes of their primary type and counts them in the totals.
func (p *planner) addUpcoming() {
	for _, g := range p.groups {
		n := p.in.Upcoming[g.ID]
		if n <= 0 || len(g.Template.InstanceTypes) == 0 {
			continue
		}
		it := g.Template.InstanceTypes[0]
		tmpl, ok := templateNode(g, it)
		if !ok {
			continue
		}
		ds := simulator.DaemonSetPods(tmpl, p.in.DaemonSets)
		for i := range n {
			name := fmt.Sprintf("%s-upcoming-%d", g.ID, i)
			if p.work.AddTemplateNode(tmpl, name, ds) == nil {
				p.used.add(1, it)
			}
		}
	}
}

// placeOnCluster places what it can of the classes on the working
// snapshot's nodes (existing, upcoming and already planned) and returns the
// classes with the pods left.
func (p *planner) placeOnCluster(classes []*class) []*class {
	var left []*class
	for _, c := range classes {
		pl := p.placer(c)
		i := 0
		for ; i < len(c.pods); i++ {
			node, ok, err := pl.PlaceFirstFit(c.pods[i])
			if err != nil || !ok {
				break // identical replicas would fail the same way
			}
			p.record(c.pods[i].Key(), node)
		}
		if i < len(c.pods) {
			left = append(left, &class{rep: c.rep, pods: c.pods[i:], all: c.all, id: c.id})
		}
	}
	return left
}

// placer returns the Placer of class c on the working snapshot.
func (p *planner) placer(c *class) *simulator.Placer {
	if p.placersOn != p.work { // Placers follow additions, not a new snapshot
		p.placers, p.placersOn = map[*simulator.Pod]*simulator.Placer{}, p.work
	}
	pl, ok := p.placers[c.rep]
	if !ok {
		pl = simulator.NewPlacer(p.work, c.rep)
		p.placers[c.rep] = pl
	}
	return pl
}

// record notes pod key placed on node: onto a planned node it joins that
// node's increase, otherwise it fits without scale-up.
func (p *planner) record(key, node string) {
	p.planned[key] = struct{}{}
	if i, ok := p.newNode[node]; ok {
		p.plan.Increases[i].Pods = append(p.plan.Increases[i].Pods, key)
		return
	}
	p.plan.Placed[key] = node
}

// commit applies the chosen simulation: its snapshot becomes the working
// one (or its packing is replayed onto it), and its new nodes become an
// increase (merged with an earlier one of the same group and type). It
// returns the classes without the pods placed.
func (p *planner) commit(s *simulation, why string, classes []*class) ([]*class, error) {
	replay := p.replayPlaced
	if s.pack != nil {
		replay = func(s *simulation) error { return p.replay(s, classes) }
	}
	if err := replay(s); err != nil {
		return classes, err
	}
	idx := slices.IndexFunc(p.plan.Increases, func(inc Increase) bool {
		return inc.Group == s.opt.Group && inc.InstanceType == s.opt.InstanceType
	})
	if idx < 0 {
		p.plan.Increases = append(p.plan.Increases, Increase{Group: s.opt.Group, InstanceType: s.opt.InstanceType})
		idx = len(p.plan.Increases) - 1
	}
	inc := &p.plan.Increases[idx]
	inc.Delta += len(s.nodes)
	inc.Cost += s.opt.Cost
	if inc.Reason != "" {
		inc.Reason += "; "
	}
	inc.Reason += fmt.Sprintf("%d pending pod(s) fit %d new %s node(s) (%s)", len(s.opt.Pods), len(s.nodes), s.opt.InstanceType, why)
	for _, n := range s.nodes {
		p.newNode[n] = idx
	}
	placed := make(map[string]bool, len(s.placed))
	for _, pl := range s.placed {
		p.record(pl.pod, pl.node)
		placed[pl.pod] = true
	}
	p.grown[s.opt.Group] += len(s.nodes)
	p.used.add(len(s.nodes), s.it)
	var left []*class
	for _, c := range classes {
		pods := slices.DeleteFunc(slices.Clone(c.pods), func(q *simulator.Pod) bool { return placed[q.Key()] })
		if len(pods) > 0 {
			left = append(left, &class{rep: c.rep, pods: pods, all: c.all, id: c.id})
		}
	}
	return left, nil
}

// scalarTotal sums a request's extended resources (GPUs and the like).
func scalarTotal(r simulator.Resources) int64 {
	var n int64
	for _, v := range r.Scalar {
		n += v
	}
	return n
}

// without returns the classes without the pods planned so far.
func (p *planner) without(classes []*class) []*class {
	var left []*class
	for _, c := range classes {
		pods := slices.DeleteFunc(slices.Clone(c.pods), func(q *simulator.Pod) bool {
			_, placed := p.planned[q.Key()]
			return placed
		})
		if len(pods) > 0 {
			left = append(left, &class{rep: c.rep, pods: pods, all: c.all, id: c.id})
		}
	}
	return left
}

// unschedulable reports every pod left with, per group, why it does not
// help.
func (p *planner) unschedulable(classes []*class, reasons []map[string]string) {
	for ci, c := range classes {
		for _, q := range c.pods {
			p.plan.Unschedulable[q.Key()] = maps.Clone(reasons[ci])
		}
	}
}

// finish sorts the pod lists and sums the totals.
func (p *planner) finish() {
	t := &p.plan.Totals
	for i := range p.plan.Increases {
		inc := &p.plan.Increases[i]
		slices.Sort(inc.Pods)
		t.Nodes += inc.Delta
		t.Pods += len(inc.Pods)
		t.Cost += inc.Cost
		g := p.group(inc.Group)
		if it, ok := g.Template.InstanceType(inc.InstanceType); ok {
			c, m := typeCapacity(it)
			t.Cores += int64(inc.Delta) * c
			t.Memory += int64(inc.Delta) * m
		}
	}
}

func (p *planner) group(id string) cloud.NodeGroup {
	i := slices.IndexFunc(p.groups, func(g cloud.NodeGroup) bool { return g.ID == id })
	if i < 0 {
		return cloud.NodeGroup{}
	}
	return p.groups[i]
}

// joinReasons renders per-instance-type reasons: one reason when they
// agree, else "type: reason; ..." sorted by type.
func joinReasons(byType map[string]string) string {
	vals := slices.Compact(slices.Sorted(maps.Values(byType)))
	if len(vals) == 1 {
		return vals[0]
	}
	var parts []string
	for _, t := range slices.Sorted(maps.Keys(byType)) {
		parts = append(parts, t+": "+byType[t])
	}
	return strings.Join(parts, "; ")
}
