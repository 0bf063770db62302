package approver

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/kelp-dev/kelp/internal/cloud"
)

// BatchFinder is implemented by a Cloud that looks up many private DNS
// names in one call (internal/cloud/aws does). Its answer holds, for each
// name that has any, the instances that are not terminated and have
// exactly that name, sorted by ID, as InstanceByPrivateDNSName's; a name
// with none is absent. An error is every name's.
type BatchFinder interface {
	InstancesByPrivateDNSNames(ctx context.Context, names []string) (map[string][]cloud.Instance, error)
}

// Bounds of the coalesced lookups.
const (
	// maxNameBatch bounds the names looked up in one call.
	maxNameBatch = 1000
	// nameBatchTimeout bounds one batch's lookup.
	nameBatchTimeout = time.Minute
)

// nameBatches coalesces the lookups of private DNS names: a lookup made
// while none is under way goes at once, alone; the lookups made while one
// is under way wait for it and then go together in one call. So an idle
// join is looked up as soon as it comes, and a burst of joins costs a
// call per batch rather than per join.
type nameBatches struct {
	mu      sync.Mutex
	waiting map[string][]chan nameResult
	running bool
}

type nameResult struct {
	insts []cloud.Instance
	err   error
}

// lookup returns find's answer for name, looked up with the names asked
// for at the same time: the instances of that name, cloud.ErrNotFound when
// there is none, or the batch's error.
func (q *nameBatches) lookup(ctx context.Context, find BatchFinder, name string) ([]cloud.Instance, error) {
	ch := make(chan nameResult, 1)
	q.mu.Lock()
	if q.waiting == nil {
		q.waiting = map[string][]chan nameResult{}
	}
	q.waiting[name] = append(q.waiting[name], ch)
	if !q.running {
		q.running = true
		go q.run(context.WithoutCancel(ctx), find)
	}
	q.mu.Unlock()
	select {
	case r := <-ch:
		return r.insts, r.err
	case <-ctx.Done():
		return nil, fmt.Errorf("find instances named %s: %w", name, ctx.Err())
	}
}

// run looks up the waiting names, a batch at a time, until none waits.
func (q *nameBatches) run(ctx context.Context, find BatchFinder) {
	for {
		q.mu.Lock()
		if len(q.waiting) == 0 {
			q.running = false
			q.mu.Unlock()
			return
		}
		batch := q.take()
		q.mu.Unlock()
		names := make([]string, 0, len(batch))
		for name := range batch {
			names = append(names, name)
		}
		slices.Sort(names)
		bctx, cancel := context.WithTimeout(ctx, nameBatchTimeout)
		found, err := find.InstancesByPrivateDNSNames(bctx, names)
		cancel()
		for _, name := range names {
			deliver(batch[name], nameAnswer(name, found, err))
		}
	}
}

// take removes up to maxNameBatch waiting names with their waiters. q.mu
// is held.
func (q *nameBatches) take() map[string][]chan nameResult {
	batch := make(map[string][]chan nameResult, min(len(q.waiting), maxNameBatch))
	for name, waiters := range q.waiting {
		if len(batch) == maxNameBatch {
			break
		}
		batch[name] = waiters
		delete(q.waiting, name)
	}
	return batch
}

// nameAnswer is name's part of a batch's answer.
func nameAnswer(name string, found map[string][]cloud.Instance, err error) nameResult {
	switch insts := found[name]; {
	case err != nil:
		return nameResult{err: fmt.Errorf("find instances named %s (in a batch): %w", name, err)}
	case len(insts) == 0:
		return nameResult{err: fmt.Errorf("instance with private dns name %s: %w", name, cloud.ErrNotFound)}
	default:
		for _, i := range insts {
			if i.PrivateDNSName != name { // a finder's bug must not pass for an answer
				return nameResult{err: fmt.Errorf("find instances named %s (in a batch): answer holds instance %s named %s", name, i.ID, i.PrivateDNSName)}
			}
		}
		return nameResult{insts: insts}
	}
}

// deliver sends r to every waiter, each its own copy of the instances.
func deliver(waiters []chan nameResult, r nameResult) {
	for _, ch := range waiters {
		own := nameResult{err: r.err}
		for _, i := range r.insts {
			own.insts = append(own.insts, i.Clone())
		}
		ch <- own
	}
}
