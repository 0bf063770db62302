package loop

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/kelp-dev/kelp/internal/autoscaler"
	"github.com/kelp-dev/kelp/internal/cloud"
)

// serialScaler lets one size change through at a time, so that a scale-up
// computed from the group's current size and a removal's decrement never
// overwrite each other.
type serialScaler struct {
	cloud.Scaler
	mu sync.Mutex
}

func (s *serialScaler) SetTargetSize(ctx context.Context, group string, n int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.Scaler.SetTargetSize(ctx, group, n)
}

func (s *serialScaler) DeleteInstances(ctx context.Context, group string, ids []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.Scaler.DeleteInstances(ctx, group, ids)
}

// grow raises group's size by delta (autoscaler.GrowTarget) from its
// current size in the provider's snapshot, read under the scaler's lock: a
// removal may have lowered it since the cycle began, and the provider
// updates its cached snapshot on every Scaler call. It returns the size
// set.
func (s *serialScaler) grow(ctx context.Context, groups cloud.GroupLister, group string, delta int) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	all, err := groups.NodeGroups(ctx)
	if err != nil {
		return 0, fmt.Errorf("read group %s: %w", group, err)
	}
	i := slices.IndexFunc(all, func(g cloud.NodeGroup) bool { return g.ID == group })
	if i < 0 {
		return 0, fmt.Errorf("group %s: %w", group, cloud.ErrNotFound)
	}
	target, err := autoscaler.GrowTarget(all[i], delta)
	if err != nil {
		return target, err
	}
	return target, s.Scaler.SetTargetSize(ctx, group, target)
}
