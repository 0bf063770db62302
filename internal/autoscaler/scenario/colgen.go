package scenario

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/kelp-dev/kelp/internal/autoscaler"
)

// ConfigBound returns the configuration LP's lower bound on the new nodes
// needed to place the pending pods of an empty cluster, by column
// generation: fast enough for the diverse workload at 1,000 pods, where
// [LPBound]'s dense simplex is not.
//
// The LP has one variable x_p ≥ 0 per pattern p: a node of a kind
// (instance type and group, the DaemonSet pods placed) with a_ip pods of
// each item i (the classes merged by requests, one-per-node set and the
// options they fit), holding them by cpu, memory, pods and GPUs, at most
// one pod of each one-per-node set (required hostname anti-affinity
// selecting each other). It minimises Σ price_p·x_p (Cost; Σ x_p for Nodes)
// subject to Σ_p a_ip·x_p ≥ n_i for every item. Its patterns are integer,
// so it is at least as tight as LPBound's LP (fractions of a pod per node).
// The restricted master LP is solved by a revised simplex over the items'
// rows (dense basis inverse: ≤ a few hundred rows); new patterns come from
// a bounded knapsack per kind over the items, priced by the master's
// duals y, solved by branch and bound. The bound is Farley's, valid at any
// iteration: y·n / max(1, max over kinds of V_k/price_k), V_k an upper
// bound of the kind's knapsack; at the LP optimum it is the LP's value.
//
// Relaxed (so still a lower bound): zone and hostname topology spread,
// pod affinity, anti-affinity other than one replica of a set per node,
// host ports, ephemeral storage and scalar resources other than GPUs,
// group MaxSize and the cluster limits. Pods that fit no fresh node of
// any option are Excluded. Existing or upcoming nodes are an error.
func ConfigBound(in autoscaler.Input) (Bound, error) {
	if n := len(existingNodes(in)); n > 0 {
		return Bound{}, fmt.Errorf("config bound: %d existing or upcoming nodes: only an empty cluster is supported", n)
	}
	opts, err := growOptions(in)
	if err != nil {
		return Bound{}, fmt.Errorf("config bound: %w", err)
	}
	items, kinds, b := cgModel(compileClasses(in.Pending), opts)
	if len(items) == 0 {
		return b, nil
	}
	price := func(k cgKind) float64 { return k.price }
	one := func(cgKind) float64 { return 1 }
	if b.Cost, err = columnGeneration(items, cgUndominated(kinds, price), price); err != nil {
		return b, fmt.Errorf("config bound on cost: %w", err)
	}
	if b.Nodes, err = columnGeneration(items, cgUndominated(kinds, one), one); err != nil {
		return b, fmt.Errorf("config bound on nodes: %w", err)
	}
	return b, nil
}

// cgItem is the pods of the classes merged into one row of the master.
type cgItem struct {
	req [dims]float64
	n   float64 // pods
	set int     // one-per-node set, -1 for none
}

// cgKind is a fresh node of one or more options.
type cgKind struct {
	price float64
	cap   [dims]float64
	most  []int // per item: pods a node holds alone, 0 when none fits
}

// cgModel merges the classes into items (same requests, same one-per-node
// set, same options fitted) and the options into kinds (same price, room
// and items held); classes that fit no option are Excluded.
func cgModel(classes []*class, opts []*option) ([]cgItem, []cgKind, Bound) {
	var b Bound
	var items []cgItem
	var itemClass []*class // a representative per item
	byKey := map[string]int{}
	sets := map[string]int{}
	for _, c := range classes {
		var key strings.Builder
		fmt.Fprint(&key, vec(c.req), c.set, "|")
		fitsAny := false
		for _, o := range opts {
			f := perNode(c, o.free) > 0 && o.fits(c)
			fitsAny = fitsAny || f
			key.WriteByte("01"[b2i(f)])
		}
		if !fitsAny {
			b.Excluded += len(c.pods)
			continue
		}
		b.Pods += len(c.pods)
		if i, ok := byKey[key.String()]; ok {
			items[i].n += float64(len(c.pods))
			continue
		}
		set := -1
		if c.anti {
			if _, ok := sets[c.set]; !ok {
				sets[c.set] = len(sets)
			}
			set = sets[c.set]
		}
		byKey[key.String()] = len(items)
		items = append(items, cgItem{req: vec(c.req), n: float64(len(c.pods)), set: set})
		itemClass = append(itemClass, c)
	}
	var kinds []cgKind
	seen := map[string]bool{}
	for _, o := range opts {
		k := cgKind{price: o.it.Price, cap: vec(o.free), most: make([]int, len(items))}
		for i, c := range itemClass {
			if n := perNode(c, o.free); n > 0 && o.fits(c) {
				k.most[i] = int(n)
			}
		}
		if sig := fmt.Sprint(k); !seen[sig] && slices.ContainsFunc(k.most, func(m int) bool { return m > 0 }) {
			seen[sig] = true
			kinds = append(kinds, k)
		}
	}
	return items, kinds, b
}

// cgUndominated drops the kinds another kind replaces at no more weight:
// as much room of every resource and as many pods of every item.
func cgUndominated(ks []cgKind, weight func(cgKind) float64) []cgKind {
	var out []cgKind
	for i, k := range ks {
		dominated := false
		for j, o := range ks {
			if i == j || dominated || weight(o) > weight(k) {
				continue
			}
			covers := true
			for r := range k.cap {
				covers = covers && o.cap[r] >= k.cap[r]
			}
			for it := range k.most {
				covers = covers && o.most[it] >= k.most[it]
			}
			dominated = covers && (weight(o) < weight(k) || j < i)
		}
		if !dominated {
			out = append(out, k)
		}
	}
	return out
}

// column is a pattern of the master: a node of kind with count pods of
// each item.
type column struct {
	kind  int
	count []float64
	cost  float64
}

// cgMaxPivots bounds the simplex pivots of one column generation; past it
// the Farley bound of the last duals is returned.
const cgMaxPivots = 20000

// cgGap is the relative gap between the master's value (an upper bound
// on the LP's) and the Farley bound at which column generation stops.
const cgGap = 2e-3

// columnGeneration minimises Σ weight·x over the patterns of kinds that
// cover items (see ConfigBound) and returns the best Farley bound seen,
// which at the LP optimum is the LP's value.
func columnGeneration(items []cgItem, kinds []cgKind, weight func(cgKind) float64) (float64, error) {
	var cols []column
	for i := range items {
		col, ok := singleItem(items, kinds, weight, i)
		if !ok {
			return 0, fmt.Errorf("item %d fits no kind", i) // not reached: cgModel excluded it
		}
		cols = append(cols, col)
	}
	s := newSimplex(items, cols)
	best := 0.0
	for s.pivots < cgMaxPivots {
		y := s.duals()
		if q, ok := s.entering(y); ok {
			if err := s.pivot(q); err != nil {
				return best, err
			}
			continue
		}
		newCols, lb := price(items, kinds, weight, y)
		best = max(best, lb)
		if len(newCols) == 0 || s.obj <= best*(1+cgGap) {
			return max(best, 0), nil
		}
		s.cols = append(s.cols, newCols...)
	}
	return max(best, 0), nil
}

// singleItem returns the pattern of item i alone on the kind with the
// lowest weight per pod of it.
func singleItem(items []cgItem, kinds []cgKind, weight func(cgKind) float64, i int) (column, bool) {
	bestK, bestRate := -1, math.Inf(1)
	for k, kd := range kinds {
		if kd.most[i] > 0 && weight(kd)/float64(kd.most[i]) < bestRate {
			bestK, bestRate = k, weight(kd)/float64(kd.most[i])
		}
	}
	if bestK < 0 {
		return column{}, false
	}
	count := make([]float64, len(items))
	count[i] = float64(kinds[bestK].most[i])
	return column{kind: bestK, count: count, cost: weight(kinds[bestK])}, true
}

// cgNewColumns bounds the patterns added per pricing round.
const cgNewColumns = 8

// price solves every kind's knapsack for duals y and returns the patterns
// of most negative reduced cost (at most cgNewColumns) and the Farley
// bound y·n / max(1, max_k V_k/weight_k). Kinds whose cheap upper bound
// cannot beat the ratio already found are not searched.
func price(items []cgItem, kinds []cgKind, weight func(cgKind) float64, y []float64) ([]column, float64) {
	type cand struct {
		k     int
		ratio float64
	}
	pr := newPricing(items, y)
	cands := make([]cand, len(kinds))
	for k := range kinds {
		kn := newKnapsack(pr, kinds[k])
		cands[k] = cand{k, kn.bound(0, kn.cap, nil) / weight(kinds[k])}
	}
	slices.SortStableFunc(cands, func(a, b cand) int { return cmp.Compare(b.ratio, a.ratio) })
	ratio := 1.0
	var cols []column
	for _, c := range cands {
		// The rest price at or above 0 (ratio ≤ 1) or cannot raise the
		// ratio (once enough columns are found).
		if c.ratio <= 1 || len(cols) >= cgNewColumns && c.ratio <= ratio {
			break
		}
		val, ub, count := newKnapsack(pr, kinds[c.k]).solve()
		w := weight(kinds[c.k])
		ratio = max(ratio, ub/w)
		if val > w*(1+1e-9) {
			cols = append(cols, column{kind: c.k, count: count, cost: w})
		}
	}
	slices.SortStableFunc(cols, func(a, b column) int { return cmp.Compare(rc(a, y), rc(b, y)) })
	if len(cols) > cgNewColumns {
		cols = cols[:cgNewColumns]
	}
	dual := 0.0
	for i, it := range items {
		dual += max(y[i], 0) * it.n
	}
	return cols, dual / ratio
}

// rc is column a's reduced cost for duals y, relative to its cost.
func rc(a column, y []float64) float64 {
	v := a.cost
	for i, n := range a.count {
		v -= y[i] * n
	}
	return v / a.cost
}
