package aws

import (
	"testing"

	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/pool"
	"github.com/kelp-dev/kelp/internal/testenv"
)

func TestParseNodesSpec(t *testing.T) {
	for _, tc := range []struct {
		in, name string
		bounds   *GroupBounds
		err      string
	}{
		{in: "general", name: "general"},
		{in: "1:10:general", name: "general", bounds: &GroupBounds{Min: 1, Max: 10}},
		{in: "0:0:parked", name: "parked", bounds: &GroupBounds{}},
		{in: "2:5:a:b", name: "a:b", bounds: &GroupBounds{Min: 2, Max: 5}},
		{in: "eks:general", name: "eks:general"},
		{in: "5:1:general", err: `--nodes "5:1:general": minimum 5 is above maximum 1`},
		{in: "1:10", err: `--nodes "1:10": want MIN:MAX:NAME`},
		{in: "1:ten:general", err: `--nodes "1:ten:general": want MIN:MAX:NAME`},
		{in: "1:99999999999999999999:g", err: "bounds out of range"},
	} {
		name, bounds, err := ParseNodesSpec(tc.in)
		if tc.err != "" {
			testenv.ErrorContains(t, err, tc.err)
			continue
		}
		if err != nil || name != tc.name || (bounds == nil) != (tc.bounds == nil) || (bounds != nil && *bounds != *tc.bounds) {
			t.Errorf("ParseNodesSpec(%q) = %q, %+v, %v; want %q, %+v", tc.in, name, bounds, err, tc.name, tc.bounds)
		}
	}
}

// TestGroupBoundsWithin: kelp's bounds apply within the group's own.
func TestGroupBoundsWithin(t *testing.T) {
	for _, tc := range []struct {
		b                GroupBounds
		asgMin, asgMax   int
		wantMin, wantMax int
	}{
		{GroupBounds{Min: 1, Max: 4}, 0, 10, 1, 4},   // inside: the flag's
		{GroupBounds{Min: 0, Max: 20}, 2, 10, 2, 10}, // wider: the group's
		{GroupBounds{Min: 3, Max: 20}, 0, 10, 3, 10}, // overlapping
		{GroupBounds{Min: 12, Max: 20}, 0, 10, 10, 10},
		{GroupBounds{Min: 0, Max: 1}, 2, 10, 2, 2},
	} {
		if lo, hi := tc.b.within(tc.asgMin, tc.asgMax); lo != tc.wantMin || hi != tc.wantMax {
			t.Errorf("%+v within [%d, %d] = [%d, %d], want [%d, %d]", tc.b, tc.asgMin, tc.asgMax, lo, hi, tc.wantMin, tc.wantMax)
		}
	}
}

func TestGroupBoundsValidate(t *testing.T) {
	c := Config{ClusterName: testCluster, GroupNames: []string{"a"}, GroupBounds: map[string]GroupBounds{"a": {Min: 2, Max: 1}, "b": {Max: 3}}}
	testenv.ErrorContains(t, c.Validate(), "GroupBounds[a]: [2, 1]: want 0 <= min <= max", "GroupBounds[b]: the group is not in GroupNames")
}

// TestNamedGroupBounds: a group named with MIN:MAX is planned and scaled
// within kelp's bounds inside its own: the snapshot shows them, a target
// above kelp's maximum is refused, and growing from below kelp's minimum
// toward it is allowed.
func TestNamedGroupBounds(t *testing.T) {
	e := newEnv(t, envOptions{})
	name := e.createPool(testCluster, pool.Spec{Name: "general", InstanceTypes: []string{"m5.large"}, MinSize: 0, MaxSize: 10,
		DesiredCapacity: int32p(0)})
	p := e.provider(Config{GroupNames: []string{name}, GroupBounds: map[string]GroupBounds{name: {Min: 2, Max: 4}}})
	if err := p.Refresh(bg); err != nil {
		t.Fatal(err)
	}
	groups, err := p.NodeGroups(bg)
	if err != nil || len(groups) != 1 {
		t.Fatalf("groups %v, %v", groups, err)
	}
	if g := groups[0]; g.MinSize != 2 || g.MaxSize != 4 {
		t.Errorf("snapshot bounds [%d, %d], want kelp's [2, 4]", g.MinSize, g.MaxSize)
	}
	wantIs(t, p.SetTargetSize(bg, name, 5), cloud.ErrOutOfRange)
	if err := p.SetTargetSize(bg, name, 1); err != nil {
		t.Errorf("grow from 0 toward kelp's minimum: %v", err)
	}
	if err := p.SetTargetSize(bg, name, 4); err != nil {
		t.Errorf("grow to kelp's maximum: %v", err)
	}
	if got := *e.group(name).DesiredCapacity; got != 4 {
		t.Errorf("desired capacity %d, want 4", got)
	}
	wantIs(t, p.SetTargetSize(bg, name, 1), cloud.ErrOutOfRange)
}
