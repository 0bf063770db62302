package autoscaler

import (
	"fmt"

	"github.com/kelp-dev/kelp/internal/cloud"
)

// The size bounds of a group, in one place: the planner sizes increases
// with [Room], the caller applies them with [GrowTarget].

// Room is how many nodes g may still grow by: MaxSize minus its size, where
// a group below MinSize counts as at MinSize (the cloud brings it there
// anyway). It is negative when g is above MaxSize.
func Room(g cloud.NodeGroup) int {
	return g.MaxSize - max(g.TargetSize, g.MinSize)
}

// GrowTarget returns the target size of g grown by delta from its current
// size (raised to MinSize first), capped at MaxSize. It fails with
// cloud.ErrOutOfRange, returning the current TargetSize, when g cannot grow
// at all.
func GrowTarget(g cloud.NodeGroup, delta int) (int, error) {
	target := max(g.TargetSize, g.MinSize) + min(delta, Room(g))
	if target <= g.TargetSize {
		return g.TargetSize, fmt.Errorf("group %s at %d: %w (max %d)", g.ID, g.TargetSize, cloud.ErrOutOfRange, g.MaxSize)
	}
	return target, nil
}
