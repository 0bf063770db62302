package loop

import (
	"context"
	"errors"
	"sync"

	"github.com/kelp-dev/kelp/internal/cloud"
)

// maxTappedErrors bounds the failed launches kept between two cycles; the
// oldest are dropped first (one per group is enough to back it off).
const maxTappedErrors = 1000

// ErrorTap wraps a provider so that the failed launches every Refresh
// reports reach the autoscaler, whoever called Refresh. The AWS provider
// reports each failed scaling activity once, on the Refresh that first sees
// it; the approver and node lifecycle refresh the same provider, so without
// the tap the autoscaler could miss a failure.
type ErrorTap struct {
	cloud.Provider
	// refreshMu makes a Refresh and the read of what it reported one step,
	// so overlapping refreshes neither lose nor repeat failures.
	refreshMu sync.Mutex
	mu        sync.Mutex
	pending   []cloud.GroupError
}

var _ cloud.Provider = (*ErrorTap)(nil)

// NewErrorTap wraps p.
func NewErrorTap(p cloud.Provider) *ErrorTap { return &ErrorTap{Provider: p} }

// Refresh refreshes the provider and keeps the launch failures it reports.
// Template errors (cloud.ErrInvalidGroup) repeat on every Refresh and need
// no backoff: such groups have no template to plan with.
func (t *ErrorTap) Refresh(ctx context.Context) error {
	t.refreshMu.Lock()
	defer t.refreshMu.Unlock()
	if err := t.Provider.Refresh(ctx); err != nil {
		return err
	}
	groups, err := t.Provider.NodeGroups(ctx)
	if err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, g := range groups {
		for _, e := range g.Errors {
			if !errors.Is(e, cloud.ErrInvalidGroup) {
				t.pending = append(t.pending, e)
			}
		}
	}
	if over := len(t.pending) - maxTappedErrors; over > 0 {
		t.pending = append([]cloud.GroupError(nil), t.pending[over:]...)
	}
	return nil
}

// Drain returns the failed launches seen since the last Drain, oldest
// first, and forgets them.
func (t *ErrorTap) Drain() []cloud.GroupError {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := t.pending
	t.pending = nil
	return out
}
