package cloud

import (
	"slices"
	"testing"
	"time"
)

func TestLaunchCursor(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	launch := func(group, id string, min int) GroupError {
		return GroupError{Err: ErrInsufficientCapacity, Group: group, ActivityID: id, Time: t0.Add(time.Duration(min) * time.Minute)}
	}
	template := GroupError{Err: ErrInvalidGroup, Group: "a", Message: "no template"}
	group := func(id string, errs ...GroupError) NodeGroup { return NodeGroup{ID: id, Errors: errs} }
	var c LaunchCursor
	for _, step := range []struct {
		name   string
		groups []NodeGroup
		want   []string // activity IDs returned
	}{
		{"first read returns every launch, oldest first, no template error",
			[]NodeGroup{group("a", template, launch("a", "a1", 2)), group("b", launch("b", "b1", 1))}, []string{"b1", "a1"}},
		{"the same failures reported again are not returned",
			[]NodeGroup{group("a", template, launch("a", "a1", 2)), group("b", launch("b", "b1", 1))}, nil},
		{"a new failure is returned alone",
			[]NodeGroup{group("a", launch("a", "a1", 2), launch("a", "a2", 3)), group("b", launch("b", "b1", 1))}, []string{"a2"}},
		{"an absent group keeps what was seen",
			[]NodeGroup{group("a", launch("a", "a1", 2), launch("a", "a2", 3))}, nil},
		{"b1 is still known when b comes back",
			[]NodeGroup{group("b", launch("b", "b1", 1), launch("b", "b2", 4))}, []string{"b2"}},
		{"aged-out failures are forgotten",
			[]NodeGroup{group("a", launch("a", "a2", 3)), group("b")}, nil},
		{"a duplicate in one report is returned once",
			[]NodeGroup{group("c", launch("c", "c1", 5), launch("c", "c1", 5))}, []string{"c1"}},
	} {
		var got []string
		for _, e := range c.Next(step.groups) {
			got = append(got, e.ActivityID)
		}
		if !slices.Equal(got, step.want) {
			t.Errorf("%s: Next = %v, want %v", step.name, got, step.want)
		}
	}
	if len(c.seen["a"]) != 1 || len(c.seen["b"]) != 0 {
		t.Errorf("seen %v: aged-out IDs kept", c.seen)
	}
}

// TestUnresolvedLaunches: a failed launch is resolved by a launch of its
// group at the same time or later, never by an earlier one; a template
// error is no launch.
func TestUnresolvedLaunches(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	fail := func(id string, min int) GroupError {
		return GroupError{Err: ErrInsufficientCapacity, Group: "g", ActivityID: id, Time: t0.Add(time.Duration(min) * time.Minute)}
	}
	launched := func(min int) Instance { return Instance{ID: "i", LaunchTime: t0.Add(time.Duration(min) * time.Minute)} }
	template := GroupError{Err: ErrInvalidGroup, Group: "g", Message: "no template"}
	for _, tc := range []struct {
		name      string
		instances []Instance
		errs      []GroupError
		want      []string
	}{
		{"no instance: every failed launch", nil, []GroupError{template, fail("a1", 1), fail("a2", 2)}, []string{"a1", "a2"}},
		{"a later launch resolves", []Instance{launched(2)}, []GroupError{fail("a1", 1)}, nil},
		{"a launch at the same time resolves (a mixed group's next type)", []Instance{launched(1)}, []GroupError{fail("a1", 1)}, nil},
		{"an earlier launch does not", []Instance{launched(1)}, []GroupError{fail("a1", 1), fail("a2", 2)}, []string{"a2"}},
		{"an instance without a launch time does not", []Instance{{ID: "i"}}, []GroupError{fail("a1", 1)}, []string{"a1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, e := range (NodeGroup{ID: "g", Instances: tc.instances, Errors: tc.errs}).UnresolvedLaunches() {
				got = append(got, e.ActivityID)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("unresolved %v, want %v", got, tc.want)
			}
		})
	}
}
