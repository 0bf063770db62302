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
