package autoscaler

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
)

func opt(group, it string, nodes, pods int, price, waste float64) Option {
	o := Option{Group: group, Pool: group, InstanceType: it, Nodes: nodes, Price: price, Cost: float64(nodes) * price, Waste: waste}
	for i := range pods {
		o.Pods = append(o.Pods, string(rune('a'+i)))
	}
	return o
}

func TestExpanders(t *testing.T) {
	prio, err := ParsePriorities("100:\n  - gpu-.*\n50:\n  - spot-.*\n  - cheap\n")
	if err != nil {
		t.Fatal(err)
	}
	crafted := []Option{
		opt("cheap", "t3.large", 4, 8, 0.08, 0.50),   // $0.040/pod, 8 pods
		opt("roomy", "m5.4xlarge", 1, 8, 0.77, 0.10), // tightest, $0.096/pod
		opt("spot-a", "m5.large", 3, 9, 0.04, 0.30),  // $0.013/pod, most pods
		opt("unpriced", "x", 1, 9, 0, 0.30),          // price unknown
	}
	tests := []struct {
		name  string
		chain Chain
		opts  []Option
		want  string
		why   string
	}{
		{"least-waste", Chain{LeastWaste()}, crafted, "roomy", "least-waste"},
		{"price", Chain{Price()}, crafted, "spot-a", "price"},
		{"price ignores unknown prices", Chain{Price()}, crafted[3:], "unpriced", "only option"},
		{"priority", Chain{PriorityExpander(prio)}, crafted, "cheap", "priority"},
		{"most-pods ties broken by group name", Chain{MostPods()}, crafted, "spot-a", "most-pods"},
		{"most-pods then least-waste", Chain{MostPods(), LeastWaste()}, crafted, "spot-a", "most-pods"},
		{"priority tie broken by price", Chain{PriorityExpander(prio), Price()}, crafted, "spot-a", "priority,price"},
		{"priority tie broken by least-waste", Chain{PriorityExpander(prio), LeastWaste()}, crafted, "spot-a", "priority,least-waste"},
		{"full tie broken by group name", Chain{LeastWaste()},
			[]Option{opt("b", "m5.large", 1, 1, 1, 0.2), opt("a", "m5.large", 1, 1, 1, 0.2)}, "a", "tie broken by group and instance type name"},
		{"empty chain is least-waste", nil, crafted, "roomy", "least-waste"},
		{"no priority match ranks last", Chain{PriorityExpander(prio)},
			[]Option{opt("other", "m5.large", 1, 1, 1, 0), opt("gpu-x", "g4dn.xlarge", 1, 1, 1, 1)}, "gpu-x", "priority"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, why, ok := tc.chain.Choose(tc.opts)
			if !ok || got.Group != tc.want {
				t.Errorf("Choose = %q (ok %v), want %q", got.Group, ok, tc.want)
			}
			if !strings.Contains(why, tc.why) {
				t.Errorf("reason %q, want it to mention %q", why, tc.why)
			}
		})
	}
	if _, _, ok := (Chain{LeastWaste()}).Choose(nil); ok {
		t.Error("Choose(nil) ok")
	}
}

func TestRandomExpanderSeeded(t *testing.T) {
	opts := []Option{opt("a", "x", 1, 1, 1, 0), opt("b", "x", 1, 1, 1, 0), opt("c", "x", 1, 1, 1, 0), opt("d", "x", 1, 1, 1, 0)}
	pick := func(seed uint64) []string {
		c := Chain{Random(rand.New(rand.NewPCG(seed, 0)))}
		var out []string
		for range 20 {
			o, _, _ := c.Choose(opts)
			out = append(out, o.Group)
		}
		return out
	}
	a, b := pick(7), pick(7)
	if strings.Join(a, "") != strings.Join(b, "") {
		t.Errorf("same seed, different picks: %v vs %v", a, b)
	}
	seen := map[string]bool{}
	for _, g := range a {
		seen[g] = true
	}
	if len(seen) < 2 {
		t.Errorf("random always picks %v", a)
	}
	// Random after least-waste only chooses among least-waste's ties.
	opts = append(opts, opt("tight", "x", 1, 1, 1, -1))
	if o, _, _ := (Chain{LeastWaste(), Random(rand.New(rand.NewPCG(1, 1)))}).Choose(opts); o.Group != "tight" {
		t.Errorf("least-waste,random chose %q", o.Group)
	}
}

func TestParseExpanders(t *testing.T) {
	prio := Priorities{}
	r := rand.New(rand.NewPCG(1, 1))
	tests := []struct {
		spec    string
		deps    ExpanderDeps
		want    []string
		wantErr []string
	}{
		{"", ExpanderDeps{}, []string{"least-waste"}, nil},
		{"priority,least-waste", ExpanderDeps{Priorities: prio}, []string{"priority", "least-waste"}, nil},
		{" price , most-pods,random", ExpanderDeps{Rand: r}, []string{"price", "most-pods", "random"}, nil},
		{"least-waste,bogus", ExpanderDeps{}, nil, []string{`expander 2 "bogus": unknown expander`, "least-waste, price"}},
		{"priority", ExpanderDeps{}, nil, []string{"no priority config"}},
		{"random", ExpanderDeps{}, nil, []string{"no random source"}},
		{"price,price,nope", ExpanderDeps{}, nil, []string{"listed twice", `"nope"`}},
	}
	for _, tc := range tests {
		c, err := ParseExpanders(tc.spec, tc.deps)
		if tc.wantErr != nil {
			if err == nil {
				t.Errorf("ParseExpanders(%q) = nil error", tc.spec)
				continue
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("ParseExpanders(%q) error %q, want %q", tc.spec, err, w)
				}
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseExpanders(%q): %v", tc.spec, err)
			continue
		}
		var names []string
		for _, e := range c {
			names = append(names, e.Name())
		}
		if strings.Join(names, ",") != strings.Join(tc.want, ",") {
			t.Errorf("ParseExpanders(%q) = %v, want %v", tc.spec, names, tc.want)
		}
	}
	if _, err := ParseExpanders("bogus", ExpanderDeps{}); !errors.Is(err, ErrUnknownExpander) {
		t.Errorf("error %v is not ErrUnknownExpander", err)
	}
}

func TestParsePriorities(t *testing.T) {
	p, err := ParsePriorities("10:\n  - .*-spot\n50:\n  - gpu\n  - big-.*\n")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		group, pool string
		want        int
		ok          bool
	}{
		{"a-spot", "", 10, true}, {"gpu", "", 50, true}, {"x", "big-1", 50, true}, {"x", "", 0, false},
		// Unanchored, as cluster-autoscaler matches: anywhere in the name.
		{"gpu-2", "", 50, true}, {"prod-gpu", "", 50, true}, {"a-spot-2", "", 10, true}, {"not-big", "", 0, false},
	} {
		got, ok := p.Priority(tc.group, tc.pool)
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("Priority(%q, %q) = %d, %v; want %d, %v", tc.group, tc.pool, got, ok, tc.want, tc.ok)
		}
	}
	bad := []struct{ doc, want string }{
		{"", "no priorities"},
		{"- a\n- b\n", "want a map of integer priority"},
		{"ten:\n  - a\n", `priority "ten": not an integer`},
		{"10: []\n", "priority 10: no patterns"},
		{"10:\n  - '('\n", `priority 10 pattern 1 "("`},
		{"10:\n  - ''\n", "priority 10 pattern 1: empty"},
		{"10: a\n", "want a map"},
		{"x:\n  - a\n10:\n  - '['\n", `priority "x"`},
	}
	for _, tc := range bad {
		_, err := ParsePriorities(tc.doc)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParsePriorities(%q) error %v, want %q", tc.doc, err, tc.want)
		}
	}
	// Every problem is reported at once.
	if _, err := ParsePriorities("x:\n  - a\n10:\n  - '['\n"); err == nil || !strings.Contains(err.Error(), "pattern 1") {
		t.Errorf("want both problems, got %v", err)
	}
}
