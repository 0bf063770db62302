package scenario

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/optimize/convex/lp"

	"github.com/kelp-dev/kelp/internal/autoscaler"
	"github.com/kelp-dev/kelp/internal/simulator"
)

// Bound is the LP relaxation lower bound of [LPBound]: no plan that places
// the bounded pods opens new nodes costing less than Cost, nor fewer than
// Nodes nodes (the two minima may come from different solutions).
type Bound struct {
	// Cost is in USD/hour.
	Cost float64
	// Nodes is the fractional number of new nodes.
	Nodes float64
	// Pods counts the pods bounded; Excluded those that fit neither the
	// free room of any existing or upcoming node nor a fresh node of any
	// option in scope, which no plan can place.
	Pods, Excluded int
}

// Scope restricts [LPBound]. The zero value bounds every pending pod over
// every option.
type Scope struct {
	// Options, when non-nil, keeps only the new nodes of these options,
	// keyed "group/instance type" (for example the increases of a plan).
	Options map[string]bool
}

// resource dimensions of the LP.
const (
	dimCPU = iota
	dimMemory
	dimPods
	dimGPU
	dims
)

func vec(r simulator.Resources) [dims]float64 {
	return [dims]float64{float64(r.MilliCPU), float64(r.Memory), float64(r.Pods), float64(gpus(r))}
}

// kind is a column family of the LP: new nodes of one option shape
// (x ≥ 0 of them), or the summed free room of a set of existing nodes.
type kind struct {
	existing bool
	price    float64
	cap      [dims]float64 // per new node, or summed over the existing nodes
	// most[c] is how many pods of class c fit one new node, or all the
	// existing nodes of the kind each taken alone; 0 when none.
	most []int64
}

// LPBound returns the LP relaxation lower bound on the new nodes needed to
// place the pending pods. Variables: for each class c and node kind k the
// fraction z[c,k] ≥ 0 of the class placed there, and for each new-node
// kind the number x[k] ≥ 0 of new nodes. Constraints:
//
//	Σ_k z[c,k] = 1                                  every bounded class placed
//	Σ_c z[c,k]·n_c·req[c,r] ≤ x[k]·free[k,r]        new kind k, r ∈ cpu, memory, pods, GPU
//	z[c,k]·n_c ≤ x[k]·most[c,k]                     at most most[c,k] pods of c per node
//	Σ_c z[c,e]·n_c·req[c,r] ≤ free[e,r]             existing kind e (free room summed)
//	z[c,e]·n_c ≤ most[c,e]                          pods of c each existing node holds alone
//
// minimising Σ price[k]·x[k] (Cost) and Σ x[k] (Nodes). free[k] of a new
// node is its allocatable minus the DaemonSet pods placed on it; most[c,k]
// is ⌊free/req⌋ over the resources (1 with hostname anti-affinity), and
// pairs where one pod does not fit a fresh node (taints, selectors,
// resources) are not variables. Existing and upcoming nodes are grouped by
// which classes their labels and taints admit, their free room summed.
// What it ignores keeps it a lower bound: how pods fragment over nodes
// beyond the per-class limits, zone spread, anti-affinity other than one
// replica per node, host ports, ephemeral storage, group MaxSize and the
// cluster limits. Kinds another kind dominates are dropped first.
func LPBound(in autoscaler.Input, sc Scope) (Bound, error) {
	classes := compileClasses(in.Pending)
	opts, err := growOptions(in)
	if err != nil {
		return Bound{}, fmt.Errorf("lp bound: %w", err)
	}
	var newKinds []kind
	seen := map[string]bool{}
	for _, o := range opts {
		if sc.Options != nil && !sc.Options[o.key()] {
			continue
		}
		k := kind{price: o.it.Price, cap: vec(o.free), most: make([]int64, len(classes))}
		for ci, c := range classes {
			if n := perNode(c, o.free); n > 0 && o.fits(c) {
				k.most[ci] = n
			}
		}
		if sig := fmt.Sprint(k); !seen[sig] {
			seen[sig] = true
			newKinds = append(newKinds, k)
		}
	}
	existing, err := existingKinds(in, classes)
	if err != nil {
		return Bound{}, fmt.Errorf("lp bound: %w", err)
	}
	var b Bound
	var bounded []*class
	keep := make([]bool, len(classes))
	for ci, c := range classes {
		for _, k := range slices.Concat(newKinds, existing) {
			keep[ci] = keep[ci] || k.most[ci] > 0
		}
		if keep[ci] {
			b.Pods += len(c.pods)
			bounded = append(bounded, c)
		} else {
			b.Excluded += len(c.pods)
		}
	}
	if len(bounded) == 0 {
		return b, nil
	}
	newKinds, existing = project(newKinds, keep), project(existing, keep)
	bounded, newKinds, existing = merge(bounded, newKinds, existing)
	price := func(k kind) float64 { return k.price }
	one := func(kind) float64 { return 1 }
	if b.Cost, err = solve(bounded, slices.Concat(undominated(newKinds, price), existing), price); err != nil {
		return b, fmt.Errorf("lp bound on cost: %w", err)
	}
	if b.Nodes, err = solve(bounded, slices.Concat(undominated(newKinds, one), existing), one); err != nil {
		return b, fmt.Errorf("lp bound on nodes: %w", err)
	}
	return b, nil
}

// project keeps the classes marked in keep in each kind's most.
func project(ks []kind, keep []bool) []kind {
	out := make([]kind, 0, len(ks))
	for _, k := range ks {
		var most []int64
		for ci, m := range k.most {
			if keep[ci] {
				most = append(most, m)
			}
		}
		k.most = most
		if slices.ContainsFunc(most, func(m int64) bool { return m > 0 }) {
			out = append(out, k)
		}
	}
	return out
}

// merge merges the classes that are not one per node and have the same
// requests and the same most on every kind: a node holds at most
// ⌊free/req⌋ pods of one shape whatever their class, so the merged LP
// still bounds every plan (and is no looser). It returns the classes and
// the kinds' most over them.
func merge(classes []*class, newKinds, existing []kind) ([]*class, []kind, []kind) {
	all := slices.Concat(newKinds, existing)
	byKey := map[string]int{}
	var out []*class
	to := make([]int, len(classes)) // class → merged class
	for ci, c := range classes {
		var key strings.Builder
		fmt.Fprint(&key, vec(c.req), c.req.EphemeralStorage, c.req.Scalar)
		for _, k := range all {
			fmt.Fprint(&key, ",", k.most[ci])
		}
		if c.anti {
			fmt.Fprint(&key, "|anti ", ci)
		}
		i, ok := byKey[key.String()]
		if !ok {
			i = len(out)
			byKey[key.String()] = i
			m := *c
			m.pods = slices.Clip(c.pods)
			out = append(out, &m)
		} else {
			out[i].pods = append(out[i].pods, c.pods...)
		}
		to[ci] = i
	}
	remap := func(ks []kind) []kind {
		res := make([]kind, len(ks))
		for i, k := range ks {
			k.most = make([]int64, len(out))
			for ci, m := range ks[i].most {
				k.most[to[ci]] = m
			}
			res[i] = k
		}
		return res
	}
	return out, remap(newKinds), remap(existing)
}

// existingKinds groups the existing and upcoming nodes by the classes they
// admit statically (Fits on an empty copy of the node).
func existingKinds(in autoscaler.Input, classes []*class) ([]kind, error) {
	s := simulator.NewSnapshot()
	if in.Snapshot != nil {
		s = in.Snapshot.Fork()
	}
	if err := addUpcoming(s, in); err != nil {
		return nil, err
	}
	empty := simulator.NewSnapshot()
	var free []simulator.Resources
	for _, name := range s.NodeNames() {
		info, _ := s.Node(name)
		if err := empty.AddNode(info.Node); err != nil {
			return nil, fmt.Errorf("existing node %s: %w", name, err)
		}
		f := info.Allocatable
		f.Sub(info.Requested)
		free = append(free, f)
	}
	admits := make([][]bool, len(classes)) // class → node index → static fit
	for ci, c := range classes {
		fit := map[string]bool{}
		for _, n := range simulator.FitNodes(empty, c.rep).Fit {
			fit[n] = true
		}
		for _, name := range empty.NodeNames() {
			admits[ci] = append(admits[ci], fit[name])
		}
	}
	byKey := map[string]int{}
	var out []kind
	for ni := range free {
		var sig strings.Builder
		for ci := range classes {
			sig.WriteByte("01"[b2i(admits[ci][ni])])
		}
		i, ok := byKey[sig.String()]
		if !ok {
			i = len(out)
			byKey[sig.String()] = i
			out = append(out, kind{existing: true, most: make([]int64, len(classes))})
		}
		k := &out[i]
		v := vec(free[ni])
		for r := range v {
			k.cap[r] += max(v[r], 0)
		}
		for ci, c := range classes {
			if admits[ci][ni] {
				k.most[ci] += perNode(c, free[ni])
			}
		}
	}
	return out, nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// undominated drops the new-node kinds that another one replaces at no
// more weight: it admits every class the first does, and λ of its nodes
// (λ = the largest ratio of the first's free room to its own) offer as
// much of every resource and hold as many pods of every class. Of equal
// kinds the first is kept.
func undominated(ks []kind, weight func(kind) float64) []kind {
	var out []kind
	for i, k := range ks {
		dominated := false
		for j, o := range ks {
			if i == j || dominated {
				continue
			}
			lam, ok := scale(k, o)
			if !ok {
				continue
			}
			w, wk := lam*weight(o), weight(k)
			dominated = w < wk-1e-12 || math.Abs(w-wk) <= 1e-12 && j < i
		}
		if !dominated {
			out = append(out, k)
		}
	}
	return out
}

// scale returns λ such that λ nodes of o cover one node of k, and whether
// o can stand in for k at all.
func scale(k, o kind) (float64, bool) {
	lam := 0.0
	for r := range k.cap {
		if k.cap[r] <= 0 {
			continue
		}
		if o.cap[r] <= 0 {
			return 0, false
		}
		lam = max(lam, k.cap[r]/o.cap[r])
	}
	for ci, m := range k.most {
		if m > 0 && (o.most[ci] == 0 || lam*float64(o.most[ci]) < float64(m)) {
			return 0, false
		}
	}
	return lam, true
}

// solve builds the LP in standard form (one slack per inequality) and
// returns its optimum.
//
// With more than perClassLimit class × kind pairs, the per-class limits of
// classes that are not one per node are left out (a looser bound, and a
// matrix that fits in memory).
func solve(classes []*class, kinds []kind, weight func(kind) float64) (float64, error) {
	m := &model{}
	big := len(classes)*len(kinds) > perClassLimit
	sets := map[string][]int{} // one-per-node set → its classes
	for ci, c := range classes {
		if c.anti {
			sets[c.set] = append(sets[c.set], ci)
		}
	}
	z := make([][]int, len(classes)) // class → kind → column, -1 if none
	x := make([]int, len(kinds))     // kind → column of x, -1 for existing
	for ki, k := range kinds {
		x[ki] = -1
		if !k.existing {
			x[ki] = m.column(weight(k))
		}
	}
	for ci := range classes {
		z[ci] = make([]int, len(kinds))
		row := map[int]float64{}
		for ki, k := range kinds {
			z[ci][ki] = -1
			if k.most[ci] > 0 {
				z[ci][ki] = m.column(0)
				row[z[ci][ki]] = 1
			}
		}
		m.equal(row, 1)
	}
	for ki, k := range kinds {
		for r := range dims {
			row := map[int]float64{}
			for ci, c := range classes {
				if d := vec(c.req)[r]; d > 0 && z[ci][ki] >= 0 && k.cap[r] > 0 {
					row[z[ci][ki]] = float64(len(c.pods)) * d / k.cap[r]
				}
			}
			if len(row) == 0 {
				continue
			}
			if k.existing {
				m.atMost(row, 1)
			} else {
				row[x[ki]] = -1
				m.atMost(row, 0)
			}
		}
		if !k.existing {
			oneNode(m, classes, sets, z, ki, x[ki])
		}
		for ci, c := range classes {
			n, most := float64(len(c.pods)), float64(k.most[ci])
			if z[ci][ki] < 0 || !k.existing && !tighter(c, k, ci) || k.existing && n <= most ||
				!k.existing && (big && !c.anti || len(sets[c.set]) > 1) {
				continue
			}
			if k.existing {
				m.atMost(map[int]float64{z[ci][ki]: n / most}, 1)
			} else {
				m.atMost(map[int]float64{z[ci][ki]: n / most, x[ki]: -1}, 0)
			}
		}
	}
	return m.solve()
}

// perClassLimit is the number of class × kind pairs above which solve
// leaves out the per-class limits of classes that are not one per node.
const perClassLimit = 2000

// oneNode adds, for new kind ki (x its column), the rows of the
// one-per-node sets of more than one class: their pods together at most
// one a node.
func oneNode(m *model, classes []*class, sets map[string][]int, z [][]int, ki, x int) {
	for _, set := range slices.Sorted(maps.Keys(sets)) {
		if len(sets[set]) < 2 {
			continue
		}
		row := map[int]float64{}
		for _, ci := range sets[set] {
			if z[ci][ki] >= 0 {
				row[z[ci][ki]] = float64(len(classes[ci].pods))
			}
		}
		if len(row) > 0 {
			row[x] = -1
			m.atMost(row, 0)
		}
	}
}

// tighter reports whether most[c] of a new kind is below what the
// resource rows allow, so that its row adds something.
func tighter(c *class, k kind, ci int) bool {
	req := vec(c.req)
	frac := math.Inf(1)
	for r := range dims {
		if req[r] > 0 {
			frac = min(frac, k.cap[r]/req[r])
		}
	}
	return float64(k.most[ci]) < frac-1e-9
}

// model accumulates a standard-form LP: min cᵀx, Ax = b, x ≥ 0.
type model struct {
	c    []float64
	rows []map[int]float64
	b    []float64
}

func (m *model) column(cost float64) int {
	m.c = append(m.c, cost)
	return len(m.c) - 1
}

func (m *model) equal(row map[int]float64, rhs float64) {
	m.rows = append(m.rows, row)
	m.b = append(m.b, rhs)
}

// atMost adds row ≤ rhs with a slack column.
func (m *model) atMost(row map[int]float64, rhs float64) {
	row[m.column(0)] = 1
	m.equal(row, rhs)
}

func (m *model) solve() (float64, error) {
	a := mat.NewDense(len(m.rows), len(m.c), nil)
	for i, row := range m.rows {
		for j, v := range row {
			a.Set(i, j, v)
		}
	}
	opt, _, err := lp.Simplex(m.c, a, m.b, 1e-10, nil)
	if err != nil {
		return 0, fmt.Errorf("simplex on %d rows × %d columns: %w", len(m.rows), len(m.c), err)
	}
	return max(opt, 0), nil
}
