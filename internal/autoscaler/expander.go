package autoscaler

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
)

// Option is one way to place pending pods: Nodes new nodes of InstanceType
// in Group.
type Option struct {
	Group        string
	Pool         string
	InstanceType string
	Nodes        int
	// Pods are the keys of the pods that fit the new nodes, sorted.
	Pods []string
	// Price is the instance type's price in USD/hour, 0 when unknown.
	Price float64
	// Cost is Nodes × Price.
	Cost float64
	// Fill estimates how many pending pods of the classes planned after
	// these would take the room the new nodes leave (from their summed
	// requests, after the room already planned; 0 when none are left).
	Fill float64
	// Waste is the fraction of the new nodes' allocatable cpu left unused
	// plus the fraction of their memory left unused (0 to 2, lower is
	// tighter), counting DaemonSet pods and Fill as used.
	Waste float64
}

// Expander narrows options to the ones it prefers.
type Expander interface {
	// Name is the expander's name as ParseExpanders spells it.
	Name() string
	// Best returns the options it prefers (its best ties), in their
	// order. It returns a non-empty subset of a non-empty opts and must not
	// modify opts.
	Best(opts []Option) []Option
}

// Chain applies expanders in order, each breaking the ties of the previous
// one, like cluster-autoscaler's --expander=priority,least-waste.
type Chain []Expander

// Choose returns the chosen option and a reason naming the expanders that
// decided. Remaining ties are broken by group, then instance type. ok is
// false when opts is empty.
func (c Chain) Choose(opts []Option) (best Option, reason string, ok bool) {
	if len(opts) == 0 {
		return Option{}, "", false
	}
	cands := slices.Clone(opts)
	slices.SortStableFunc(cands, func(a, b Option) int {
		return cmp.Or(cmp.Compare(a.Group, b.Group), cmp.Compare(a.InstanceType, b.InstanceType))
	})
	if len(c) == 0 {
		c = Chain{LeastWaste()}
	}
	var used []string
	for _, e := range c {
		if len(cands) == 1 {
			break
		}
		next := e.Best(cands)
		if len(next) == 0 { // a misbehaving expander does not lose options
			continue
		}
		if len(next) < len(cands) {
			used = append(used, e.Name())
		}
		cands = next
	}
	how := "the only option"
	switch {
	case len(used) > 0:
		how = "chosen by " + strings.Join(used, ",")
	case len(opts) > 1:
		how = "tie broken by group and instance type name"
	}
	return cands[0], fmt.Sprintf("%s of %d option(s)", how, len(opts)), true
}

// ties returns the options whose score is within a small tolerance of the
// lowest.
func ties(opts []Option, score func(Option) float64) []Option {
	best := math.Inf(1)
	for _, o := range opts {
		best = min(best, score(o))
	}
	const eps = 1e-9
	var out []Option
	for _, o := range opts {
		s := score(o)
		if s == best || math.Abs(s-best) <= eps*max(1, math.Abs(best)) {
			out = append(out, o)
		}
	}
	return out
}

type funcExpander struct {
	name  string
	score func(Option) float64 // lower is better
}

func (f funcExpander) Name() string                { return f.name }
func (f funcExpander) Best(opts []Option) []Option { return ties(opts, f.score) }

// LeastWaste prefers the options whose new nodes have the least unused cpu
// and memory (cluster-autoscaler's least-waste).
func LeastWaste() Expander {
	return funcExpander{"least-waste", func(o Option) float64 { return o.Waste }}
}

// MostPods prefers the options that place the most pods.
func MostPods() Expander {
	return funcExpander{"most-pods", func(o Option) float64 { return -float64(len(o.Pods)) }}
}

// Price prefers the lowest cost per pod placed, counting the pods
// expected to fill the new nodes (Fill). Options with an unknown price (0)
// come after every option with a known one.
func Price() Expander {
	return funcExpander{"price", func(o Option) float64 {
		if o.Price <= 0 || len(o.Pods) == 0 {
			return math.Inf(1)
		}
		return o.Cost / (float64(len(o.Pods)) + o.Fill)
	}}
}

// Random picks one option with r, which the caller seeds (one pick per
// call, so a seeded r gives reproducible plans).
func Random(r *rand.Rand) Expander { return randomExpander{r} }

type randomExpander struct{ r *rand.Rand }

func (randomExpander) Name() string { return "random" }

func (e randomExpander) Best(opts []Option) []Option {
	if len(opts) == 0 || e.r == nil {
		return opts
	}
	i := e.r.IntN(len(opts))
	return opts[i : i+1]
}

// ExpanderDeps are what some expanders need to be built by ParseExpanders.
type ExpanderDeps struct {
	// Priorities configures the priority expander.
	Priorities Priorities
	// Rand drives the random expander.
	Rand *rand.Rand
}

// ErrUnknownExpander is returned (wrapped) by ParseExpanders for a name it
// does not know.
var ErrUnknownExpander = errors.New("unknown expander")

// ExpanderNames are the names ParseExpanders accepts.
var ExpanderNames = []string{"least-waste", "price", "priority", "most-pods", "random"}

// ParseExpanders parses a comma-separated expander list such as
// "priority,least-waste". Empty means least-waste. Every problem is
// reported at once.
func ParseExpanders(spec string, deps ExpanderDeps) (Chain, error) {
	if strings.TrimSpace(spec) == "" {
		return Chain{LeastWaste()}, nil
	}
	var chain Chain
	var errs []error
	seen := map[string]bool{}
	for i, raw := range strings.Split(spec, ",") {
		name := strings.TrimSpace(raw)
		if seen[name] {
			errs = append(errs, fmt.Errorf("expander %d %q: listed twice", i+1, name))
			continue
		}
		seen[name] = true
		switch name {
		case "least-waste":
			chain = append(chain, LeastWaste())
		case "price":
			chain = append(chain, Price())
		case "most-pods":
			chain = append(chain, MostPods())
		case "priority":
			if deps.Priorities == nil {
				errs = append(errs, fmt.Errorf("expander %d %q: no priority config given", i+1, name))
				continue
			}
			chain = append(chain, PriorityExpander(deps.Priorities))
		case "random":
			if deps.Rand == nil {
				errs = append(errs, fmt.Errorf("expander %d %q: no random source given", i+1, name))
				continue
			}
			chain = append(chain, Random(deps.Rand))
		default:
			errs = append(errs, fmt.Errorf("expander %d %q: %w (want one of %s)",
				i+1, name, ErrUnknownExpander, strings.Join(ExpanderNames, ", ")))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("parse expanders %q: %w", spec, err)
	}
	return chain, nil
}
