package cloud

import "fmt"

// The size bounds of a node group, in one place: every check of a size
// against [MinSize, MaxSize] in kelp (the planner's room, the autoscaler's
// growth, the provider's Scaler, the pool provisioner) is one of these two
// methods.

// CheckSize returns nil when n is within [g.MinSize, g.MaxSize], and else
// an error wrapping ErrOutOfRange that names the group, n and the bounds.
func (g NodeGroup) CheckSize(n int) error {
	if n >= g.MinSize && n <= g.MaxSize {
		return nil
	}
	return fmt.Errorf("group %s: size %d is outside [%d, %d]: %w", g.ID, n, g.MinSize, g.MaxSize, ErrOutOfRange)
}

// Room is how many nodes g may still grow by: MaxSize minus its size, where
// a group below MinSize counts as at MinSize (the cloud brings it there
// anyway). It is negative when g is above MaxSize. From that size, growing
// by k passes CheckSize exactly when 0 <= k <= Room. It does not allocate:
// the planner calls it for every option it weighs.
func (g NodeGroup) Room() int {
	return g.MaxSize - max(g.TargetSize, g.MinSize)
}
