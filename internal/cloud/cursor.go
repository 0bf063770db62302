package cloud

import (
	"errors"
	"slices"
)

// LaunchCursor is a reader's position in the failed launches of
// [NodeGroup.Errors]: it remembers which it has returned, so that a reader
// acts on each failed launch once although every Refresh reports it again
// while it is recent. The zero value is ready; each reader keeps its own.
// It is not safe for concurrent use.
type LaunchCursor struct {
	seen map[string]map[string]bool // group → activity IDs returned
}

// Next returns the failed launches in groups that it has not returned
// before, oldest first (by Time, then group), and remembers them. Errors
// without an ActivityID (ErrInvalidGroup: a template that cannot be built)
// are not launches and are never returned. For each group in groups, the
// IDs it no longer reports are forgotten: a failure that aged out does not
// come back. Groups absent from groups keep what was seen of them.
func (c *LaunchCursor) Next(groups []NodeGroup) []GroupError {
	if c.seen == nil {
		c.seen = map[string]map[string]bool{}
	}
	var out []GroupError
	for _, g := range groups {
		seen, now := c.seen[g.ID], map[string]bool{}
		for _, e := range g.Errors {
			if e.ActivityID == "" || errors.Is(e, ErrInvalidGroup) || now[e.ActivityID] {
				continue
			}
			now[e.ActivityID] = true
			if !seen[e.ActivityID] {
				out = append(out, e)
			}
		}
		c.seen[g.ID] = now
	}
	slices.SortStableFunc(out, func(a, b GroupError) int { return a.Time.Compare(b.Time) })
	return out
}

// UnresolvedLaunches returns the group's failed launches that no
// successful launch followed: those later than the newest LaunchTime of
// its instances (a launch at the same time, such as another type launched
// in the same pass of a mixed-instances group, resolves a failure). Like
// Errors, they are read fresh from each Refresh; ErrInvalidGroup errors
// are not launches and are never returned.
func (g NodeGroup) UnresolvedLaunches() []GroupError {
	var out []GroupError
	for _, e := range g.Errors {
		if !g.Resolved(e) {
			out = append(out, e)
		}
	}
	return out
}

// Resolved reports whether a successful launch of the group followed the
// failed launch e, at or after its Time (see [NodeGroup.UnresolvedLaunches]).
// An error that is no launch (ErrInvalidGroup) counts as resolved.
func (g NodeGroup) Resolved(e GroupError) bool {
	if e.ActivityID == "" || errors.Is(e, ErrInvalidGroup) {
		return true
	}
	for _, i := range g.Instances {
		if !i.LaunchTime.IsZero() && !e.Time.After(i.LaunchTime) {
			return true
		}
	}
	return false
}
