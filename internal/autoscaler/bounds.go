package autoscaler

import (
	"fmt"

	"github.com/kelp-dev/kelp/internal/cloud"
)

// The autoscaler's side of a group's size bounds, whose check is
// internal/cloud's (cloud.NodeGroup.CheckSize and Room): the planner sizes
// increases with Room, the caller applies them with [GrowTarget].

// GrowTarget returns the target size of g grown by delta from its current
// size (raised to MinSize first), capped at MaxSize. It fails with
// cloud.ErrOutOfRange, returning the current TargetSize, when g cannot grow
// at all: the error of g.CheckSize for the size asked, or, for a delta that
// asks for no node, one naming the delta.
func GrowTarget(g cloud.NodeGroup, delta int) (int, error) {
	from := max(g.TargetSize, g.MinSize)
	target := from + min(delta, g.Room())
	if target > g.TargetSize {
		return target, nil
	}
	if delta <= 0 {
		return g.TargetSize, fmt.Errorf("grow group %s at %d by %d: %w", g.ID, g.TargetSize, delta, cloud.ErrOutOfRange)
	}
	return g.TargetSize, fmt.Errorf("grow by %d: %w", delta, g.CheckSize(from+delta))
}
