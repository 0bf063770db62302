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
