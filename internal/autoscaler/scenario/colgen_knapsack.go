package scenario

import (
	"cmp"
	"math"
	"slices"
)

// knapNodeLimit bounds the branch-and-bound nodes of one knapsack; past
// it the subtrees left are bounded, not searched.
const knapNodeLimit = 5000

// knapGap is how far above the best pattern found a subtree's bound may
// be and the subtree still be left unsearched (its bound kept as the
// upper bound): the Farley bound is then within that of the LP's.
const knapGap = 1e-3

// knapsack is one kind's pricing problem: max Σ y_i·a_i over integer
// a_i ∈ [0, most_i] with Σ a_i·req_i ≤ cap on every resource and at most
// one pod of each one-per-node set.
type knapsack struct {
	pr    *pricing
	items []knapItem // one-per-node items first, then by value per room
	pos   []int      // master item → index in items, -1 if absent
	cap   [dims]float64
	nodes int
	best  float64
	bestA []float64
	cur   []float64
	open  float64 // the highest bound of a subtree left unsearched
}

type knapItem struct {
	idx  int // in the master's items
	val  float64
	req  [dims]float64
	most float64
	set  int
}

// pricing is what every kind's knapsack of one round shares: the duals
// and, per surrogate, the master's items of positive dual without a
// one-per-node set by value per unit of the surrogate's weight.
type pricing struct {
	items   []cgItem
	y       []float64
	sets    int
	orders  [][]int
	weights [][]float64
}

// surrogates are the resource weights of the relaxations knapsack.bound
// takes the least of: each resource alone, and cores + ρ·GiB for ρ from
// 1/8 to 8 (a node's binding mix of cpu and memory lies among them).
var surrogates = func() [][dims]float64 {
	out := [][dims]float64{{dimCPU: 1}, {dimMemory: 1}, {dimPods: 1}, {dimGPU: 1}}
	for _, rho := range []float64{0.125, 0.25, 0.5, 1, 2, 4, 8} {
		out = append(out, [dims]float64{dimCPU: 1.0 / 1000, dimMemory: rho / (1 << 30)})
	}
	return out
}()

func newPricing(items []cgItem, y []float64) *pricing {
	pr := &pricing{items: items, y: make([]float64, len(items))}
	for i, it := range items {
		pr.y[i] = max(y[i], 0)
		pr.sets = max(pr.sets, it.set+1)
	}
	for _, lam := range surrogates {
		w := make([]float64, len(items))
		var order []int
		for i, it := range items {
			for r := range dims {
				w[i] += lam[r] * it.req[r]
			}
			if it.set < 0 && pr.y[i] > 0 {
				order = append(order, i)
			}
		}
		slices.SortStableFunc(order, func(a, b int) int {
			return cmp.Compare(pr.y[b]*w[a], pr.y[a]*w[b]) // y/w descending, w 0 first
		})
		pr.orders, pr.weights = append(pr.orders, order), append(pr.weights, w)
	}
	return pr
}

func newKnapsack(pr *pricing, k cgKind) *knapsack {
	n := len(pr.items)
	kn := &knapsack{pr: pr, cap: k.cap, pos: make([]int, n), bestA: make([]float64, n), cur: make([]float64, n)}
	for i, it := range pr.items {
		if pr.y[i] > 0 && k.most[i] > 0 {
			kn.items = append(kn.items, knapItem{idx: i, val: pr.y[i], req: it.req, most: float64(k.most[i]), set: it.set})
		}
	}
	tight := func(a knapItem) float64 {
		t := 0.0
		for r := range dims {
			if k.cap[r] > 0 {
				t = max(t, a.req[r]/k.cap[r])
			}
		}
		return a.val / max(t, 1e-300)
	}
	slices.SortStableFunc(kn.items, func(a, b knapItem) int {
		return cmp.Or(cmp.Compare(b2i(a.set < 0), b2i(b.set < 0)), cmp.Compare(tight(b), tight(a)))
	})
	for i := range kn.pos {
		kn.pos[i] = -1
	}
	for j, a := range kn.items {
		kn.pos[a.idx] = j
	}
	return kn
}

// bound is an upper bound on the value items d.. add within room rem,
// with used[s] set for the one-per-node sets already used (nil: none):
// for each surrogate, the fractional knapsack of the items without a set
// under the one constraint Σ λ·req·a ≤ λ·rem (each item at most what
// fits rem), plus the highest value left of each unused set; the least
// of these.
func (kn *knapsack) bound(d int, rem [dims]float64, used []bool) float64 {
	extra := 0.0
	if kn.pr.sets > 0 {
		bonus := make([]float64, kn.pr.sets)
		for j := d; j < len(kn.items) && kn.items[j].set >= 0; j++ {
			if a := kn.items[j]; (used == nil || !used[a.set]) && kn.count(a, rem) > 0 {
				bonus[a.set] = max(bonus[a.set], a.val)
			}
		}
		for _, v := range bonus {
			extra += v
		}
	}
	best := math.Inf(1)
	for s, lam := range surrogates {
		left, v := 0.0, 0.0
		for r := range dims {
			left += lam[r] * rem[r]
		}
		w := kn.pr.weights[s]
		for _, i := range kn.pr.orders[s] {
			j := kn.pos[i]
			if j < d {
				continue // not in this kind, or decided
			}
			a := kn.items[j]
			n := kn.count(a, rem)
			if w[i] > 0 {
				n = min(n, left/w[i])
			}
			v += n * a.val
			left -= n * w[i]
			if left <= 0 && w[i] > 0 {
				break // the items left weigh something: none fits
			}
		}
		best = min(best, v)
		if best <= 0 {
			break
		}
	}
	return best + extra
}

// count is how many pods of a fit room rem by every resource, at most most.
func (kn *knapsack) count(a knapItem, rem [dims]float64) float64 {
	n := a.most
	for r := range dims {
		if a.req[r] > 0 {
			n = min(n, math.Floor(rem[r]/a.req[r]+1e-9))
		}
	}
	return max(n, 0)
}

// solve returns the best pattern's value, an upper bound on the optimum
// (the value itself unless the node limit was reached) and the pattern
// (pods per master item).
func (kn *knapsack) solve() (float64, float64, []float64) {
	kn.search(0, kn.cap, 0, make([]bool, kn.pr.sets))
	return kn.best, max(kn.best, kn.open), kn.bestA
}

func (kn *knapsack) search(d int, rem [dims]float64, val float64, used []bool) {
	kn.nodes++
	if val > kn.best {
		kn.best = val
		copy(kn.bestA, kn.cur)
	}
	if d == len(kn.items) {
		return
	}
	a := kn.items[d]
	hi := kn.count(a, rem)
	if a.set >= 0 && used[a.set] {
		hi = 0
	}
	for n := hi; n >= 0; n-- {
		next := rem
		for r := range dims {
			next[r] -= n * a.req[r]
		}
		if a.set >= 0 && n > 0 {
			used[a.set] = true
		}
		ub := val + n*a.val + kn.bound(d+1, next, used)
		switch {
		case ub <= kn.best*(1+1e-12):
		case ub <= kn.best*(1+knapGap) || kn.nodes >= knapNodeLimit:
			kn.open = max(kn.open, ub)
		default:
			kn.cur[a.idx] = n
			kn.search(d+1, next, val+n*a.val, used)
			kn.cur[a.idx] = 0
		}
		if a.set >= 0 && n > 0 {
			used[a.set] = false
		}
	}
}
