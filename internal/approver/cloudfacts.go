package approver

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"k8s.io/utils/clock"

	"github.com/kelp-dev/kelp/internal/cloud"
)

// Cloud is what the approver reads from the cloud: single instances and
// the managed groups. A cloud.Provider is one.
type Cloud interface {
	// InstanceByPrivateDNSName, InstanceForNode and Invalidate are those
	// of cloud.InstanceFinder.
	InstanceByPrivateDNSName(ctx context.Context, name string) ([]cloud.Instance, error)
	InstanceForNode(ctx context.Context, providerID string) (cloud.Instance, error)
	Invalidate(instanceID string)
	cloud.GroupLister
}

var _ Cloud = cloud.Provider(nil)

// gatherCloud resolves the cloud's facts of the node name into f: the
// instances of that private DNS name, the instance of the Node's
// providerID and the managed groups. A failure is a fact, f.CloudErr, and
// leaves the other cloud facts empty.
func gatherCloud(ctx context.Context, c Cloud, f *Facts, name string) {
	if err := readCloud(ctx, c, f, name); err != nil {
		f.InstancesByName, f.NodeInstance, f.ManagedGroups = nil, nil, nil
		f.CloudErr = err
	}
}

func readCloud(ctx context.Context, c Cloud, f *Facts, name string) error {
	byName, err := c.InstanceByPrivateDNSName(ctx, name)
	if err != nil && !errors.Is(err, cloud.ErrNotFound) {
		return fmt.Errorf("find instances named %s: %w", name, err)
	}
	// Answers come from the provider's short-lived cache, which is dropped
	// for each instance seen so that the next decision reads the cloud
	// again.
	for _, i := range byName {
		c.Invalidate(i.ID)
	}
	f.InstancesByName = byName
	seen := byName
	if f.Node != nil && f.Node.Spec.ProviderID != "" {
		id := f.Node.Spec.ProviderID
		inst, err := c.InstanceForNode(ctx, id)
		switch {
		case errors.Is(err, cloud.ErrNotFound) || errors.Is(err, cloud.ErrInvalidProviderID):
		case err != nil:
			return fmt.Errorf("find instance %s: %w", id, err)
		default:
			f.NodeInstance = &inst
			seen = append(seen[:len(seen):len(seen)], inst)
		}
	}
	f.ManagedGroups, err = managedGroups(ctx, c, seen)
	return err
}

// managedGroups returns the managed groups by name with their pool,
// refreshing the provider's snapshot once when an instance belongs to a
// group it has not seen yet (a pool created since the last refresh): "not
// managed" must never rest on a stale list.
func managedGroups(ctx context.Context, c Cloud, insts []cloud.Instance) (map[string]string, error) {
	groups, err := listGroups(ctx, c)
	if err != nil {
		return nil, err
	}
	for _, i := range insts {
		if _, ok := groups[i.GroupName]; i.GroupName != "" && !ok {
			if err := c.Refresh(ctx); err != nil {
				return nil, fmt.Errorf("refresh node groups: %w", err)
			}
			return listGroups(ctx, c)
		}
	}
	return groups, nil
}

func listGroups(ctx context.Context, c Cloud) (map[string]string, error) {
	gs, err := c.NodeGroups(ctx)
	if err != nil {
		return nil, fmt.Errorf("list node groups: %w", err)
	}
	out := make(map[string]string, len(gs))
	for _, g := range gs {
		out[g.ID] = g.Pool
	}
	return out, nil
}

// Bounds on the load CSRs put on the cloud through a [BoundedCloud].
const (
	// NegativeTTL is how long "no such instance" is remembered for a
	// private DNS name or a providerID: CSRs naming instances that do not
	// exist cost one cloud call per name per NegativeTTL, however many
	// there are. A join whose instance the cloud does not show yet is
	// decided at most this much later than it could be.
	NegativeTTL = 5 * time.Second
	// MinRefreshInterval is the least time between two full refreshes of
	// the managed groups the approver asks for; a caller within it gets
	// the last refresh's answer (the snapshot is that fresh).
	MinRefreshInterval = 10 * time.Second
	// maxNegative bounds the negative answers remembered.
	maxNegative = 1 << 14
)

// BoundedCloud is the approver's [Cloud]: it remembers negative answers
// for NegativeTTL, coalesces concurrent lookups by private DNS name when
// the Cloud it wraps is a [BatchFinder], and runs at most one full refresh
// of the managed groups at a time, at most once per MinRefreshInterval:
// concurrent callers share one. Everything else passes through to the
// Cloud it wraps. It is safe for concurrent use.
type BoundedCloud struct {
	Cloud
	clock clock.PassiveClock

	names nameBatches // lookups by name, coalesced when Cloud is a BatchFinder

	mu          sync.Mutex
	missing     map[string]time.Time // lookup key -> when its "not found" expires
	inflight    *refreshCall
	lastRefresh time.Time
	lastErr     error
}

type refreshCall struct {
	done chan struct{}
	err  error
}

var _ Cloud = (*BoundedCloud)(nil)

// NewBoundedCloud wraps c; clk tells the time of negative answers and
// refreshes.
func NewBoundedCloud(c Cloud, clk clock.PassiveClock) *BoundedCloud {
	return &BoundedCloud{Cloud: c, clock: clk, missing: map[string]time.Time{}}
}

// InstanceByPrivateDNSName is the wrapped cloud's, with a "not found"
// remembered for NegativeTTL. When the wrapped cloud is a [BatchFinder],
// the names asked for while a lookup is under way are looked up together
// in one call once it ends; each caller gets its own name's answer.
func (b *BoundedCloud) InstanceByPrivateDNSName(ctx context.Context, name string) ([]cloud.Instance, error) {
	key := "name/" + name
	if b.knownMissing(key) {
		return nil, fmt.Errorf("instance with private dns name %s (remembered for %s): %w", name, NegativeTTL, cloud.ErrNotFound)
	}
	var insts []cloud.Instance
	var err error
	if find, ok := b.Cloud.(BatchFinder); ok {
		insts, err = b.names.lookup(ctx, find, name)
	} else {
		insts, err = b.Cloud.InstanceByPrivateDNSName(ctx, name)
	}
	if errors.Is(err, cloud.ErrNotFound) {
		b.remember(key)
	}
	return insts, err
}

// InstanceForNode is the wrapped cloud's, with a "not found" remembered
// for NegativeTTL.
func (b *BoundedCloud) InstanceForNode(ctx context.Context, providerID string) (cloud.Instance, error) {
	key := "node/" + providerID
	if b.knownMissing(key) {
		return cloud.Instance{}, fmt.Errorf("instance for node %s (remembered for %s): %w", providerID, NegativeTTL, cloud.ErrNotFound)
	}
	inst, err := b.Cloud.InstanceForNode(ctx, providerID)
	if errors.Is(err, cloud.ErrNotFound) {
		b.remember(key)
	}
	return inst, err
}

func (b *BoundedCloud) knownMissing(key string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	until, ok := b.missing[key]
	if ok && !b.clock.Now().Before(until) {
		delete(b.missing, key)
		return false
	}
	return ok
}

func (b *BoundedCloud) remember(key string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.clock.Now()
	if len(b.missing) >= maxNegative {
		for k, until := range b.missing {
			if !now.Before(until) {
				delete(b.missing, k)
			}
		}
		if len(b.missing) >= maxNegative {
			return // full of live answers: ask the cloud
		}
	}
	b.missing[key] = now.Add(NegativeTTL)
}

// Refresh refreshes the wrapped cloud's groups, once for every caller
// that arrives while a refresh runs, and not again within
// MinRefreshInterval of the last one ended: such a caller gets the last
// refresh's error, nil when it succeeded.
func (b *BoundedCloud) Refresh(ctx context.Context) error {
	b.mu.Lock()
	if call := b.inflight; call != nil {
		b.mu.Unlock()
		select {
		case <-call.done:
			return call.err
		case <-ctx.Done():
			return fmt.Errorf("wait for the refresh of node groups: %w", ctx.Err())
		}
	}
	if !b.lastRefresh.IsZero() && b.clock.Since(b.lastRefresh) < MinRefreshInterval {
		err := b.lastErr
		b.mu.Unlock()
		return err
	}
	call := &refreshCall{done: make(chan struct{})}
	b.inflight = call
	b.mu.Unlock()

	call.err = b.Cloud.Refresh(ctx)
	b.mu.Lock()
	b.inflight, b.lastRefresh, b.lastErr = nil, b.clock.Now(), call.err
	b.mu.Unlock()
	close(call.done)
	return call.err
}
