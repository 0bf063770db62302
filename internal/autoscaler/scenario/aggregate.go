package scenario

import (
	"fmt"
	"math"

	"github.com/kelp-dev/kelp/internal/autoscaler"
	"github.com/kelp-dev/kelp/internal/simulator"
)

// AggregateBound returns a lower bound on the new nodes needed to place
// the pending pods, for inputs too large for [LPBound]'s simplex. It is
// the dual of LPBound's LP with the same resource prices on every node
// kind (hence no tighter than LPBound): for weights π ≥ 0 on cpu, memory,
// pods and GPUs, and π₁ on the largest one-per-node set (required hostname
// anti-affinity: a node holds at most one of its pods), every plan's new
// nodes offer at least the weighted demand less the weighted free room of
// the existing and upcoming nodes, and each new node of an option offers
// π·free + π₁ at its price, so
//
//	Cost ≥ (π·demand + π₁·|set| − π·room − π₁·existing nodes) · min over options of price / (π·free + π₁)
//
// and the same with price 1 for Nodes. The weights are searched on a grid
// and refined. Pods that fit no fresh node of any option nor any existing
// node are Excluded. It ignores what LPBound ignores, and also which
// classes fit which options (a pod counts against every option).
func AggregateBound(in autoscaler.Input) (Bound, error) {
	opts, err := growOptions(in)
	if err != nil {
		return Bound{}, fmt.Errorf("aggregate bound: %w", err)
	}
	classes := compileClasses(in.Pending)
	existing, err := existingKinds(in, classes)
	if err != nil {
		return Bound{}, fmt.Errorf("aggregate bound: %w", err)
	}
	a := aggregate{sets: map[string]float64{}}
	var b Bound
	for ci, c := range classes {
		fits := false
		for _, o := range opts {
			fits = fits || perNode(c, o.free) > 0 && o.fits(c)
		}
		for _, k := range existing {
			fits = fits || k.most[ci] > 0
		}
		if !fits {
			b.Excluded += len(c.pods)
			continue
		}
		b.Pods += len(c.pods)
		v := vec(c.req)
		for r := range v {
			a.demand[r] += float64(len(c.pods)) * v[r]
		}
		if c.anti {
			a.sets[c.set] += float64(len(c.pods))
		}
	}
	for _, n := range a.sets {
		a.one = max(a.one, n)
	}
	for _, k := range existing {
		for r := range k.cap {
			a.room[r] += k.cap[r]
		}
	}
	a.nodes = float64(len(existingNodes(in)))
	for _, o := range opts {
		a.free = append(a.free, vec(o.free))
		a.price = append(a.price, o.it.Price)
	}
	if b.Pods == 0 || len(opts) == 0 {
		return b, nil
	}
	b.Cost = a.best(a.price)
	ones := make([]float64, len(a.price))
	for i := range ones {
		ones[i] = 1
	}
	b.Nodes = a.best(ones)
	return b, nil
}

// existingNodes returns the names of the existing and upcoming nodes.
func existingNodes(in autoscaler.Input) []string {
	s := simulator.NewSnapshot()
	if in.Snapshot != nil {
		s = in.Snapshot.Fork()
	}
	if err := addUpcoming(s, in); err != nil {
		return nil
	}
	return s.NodeNames()
}

// aggregate is the summed demand and supply AggregateBound weighs.
type aggregate struct {
	demand, room [dims]float64
	sets         map[string]float64 // one-per-node set → pods
	one          float64            // pods of the largest set
	nodes        float64            // existing and upcoming nodes
	free         [][dims]float64    // per option: a fresh node's free room
	price        []float64
}

// bound is the bound for weights w (on the demand's shares: π_r =
// w[r]/demand[r], π₁ = w[dims]/one) and node weights (prices).
func (a *aggregate) bound(w [dims + 1]float64, weight []float64) float64 {
	var pi [dims + 1]float64
	need := 0.0
	for r := range dims {
		if a.demand[r] > 0 {
			pi[r] = w[r] / a.demand[r]
			need += w[r] - pi[r]*a.room[r]
		}
	}
	if a.one > 0 {
		pi[dims] = w[dims] / a.one
		need += w[dims] - pi[dims]*a.nodes
	}
	if need <= 0 {
		return 0
	}
	rate := math.Inf(1)
	for i, f := range a.free {
		offer := pi[dims]
		for r := range dims {
			offer += pi[r] * f[r]
		}
		if offer > 0 {
			rate = min(rate, weight[i]/offer)
		}
	}
	if math.IsInf(rate, 1) {
		return 0
	}
	return need * rate
}

// best searches the weights (a grid of step 1/20 over the simplex, then
// halving steps around the best point) for the highest bound.
func (a *aggregate) best(weight []float64) float64 {
	var bestW [dims + 1]float64
	best := 0.0
	const steps = 20
	var w [dims + 1]float64
	var grid func(i, left int)
	grid = func(i, left int) {
		if i == dims {
			w[i] = float64(left) / steps
			if v := a.bound(w, weight); v > best {
				best, bestW = v, w
			}
			return
		}
		for n := 0; n <= left; n++ {
			w[i] = float64(n) / steps
			grid(i+1, left-n)
		}
	}
	grid(0, steps)
	for step := 1.0 / steps; step > 1e-4; step /= 2 {
		for improved := true; improved; {
			improved = false
			for i := range bestW {
				for _, d := range []float64{step, -step} {
					w := bestW
					w[i] = max(w[i]+d, 0)
					if v := a.bound(w, weight); v > best*(1+1e-12) {
						best, bestW, improved = v, w, true
					}
				}
			}
		}
	}
	return best
}
