package cloudtest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/kelp-dev/kelp/internal/cloud"
)

// Refresher is an in-memory cloud.InstanceRefresher: it keeps the
// refreshes of the groups given to NewRefresher, one running at a time per
// group, as AWS does, and moves only when the test calls Advance. It is
// safe for concurrent use.
type Refresher struct {
	mu        sync.Mutex
	refreshes map[string][]cloud.InstanceRefresh // by group, oldest first
	instances map[string]int                     // a new refresh's InstancesToUpdate, by group
	started   int
}

var _ cloud.InstanceRefresher = (*Refresher)(nil)

// NewRefresher returns a refresher of groups, each of the given number of
// instances (InstancesToUpdate of its refreshes).
func NewRefresher(groups map[string]int) *Refresher {
	r := &Refresher{refreshes: map[string][]cloud.InstanceRefresh{}, instances: map[string]int{}}
	for g, n := range groups {
		r.instances[g] = n
		r.refreshes[g] = nil
	}
	return r
}

func (r *Refresher) group(name string) ([]cloud.InstanceRefresh, error) {
	rs, ok := r.refreshes[name]
	if !ok {
		return nil, fmt.Errorf("group %s: %w", name, cloud.ErrNotFound)
	}
	return rs, nil
}

// StartInstanceRefresh implements cloud.InstanceRefresher.
func (r *Refresher) StartInstanceRefresh(_ context.Context, group string, prefs cloud.RefreshPreferences) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rs, err := r.group(group)
	if err != nil {
		return "", err
	}
	for _, x := range rs {
		if !x.Status.Ended() {
			return "", fmt.Errorf("start instance refresh of group %s: InstanceRefreshInProgress: %w", group, cloud.ErrRefreshInProgress)
		}
	}
	r.started++
	ref := cloud.InstanceRefresh{ID: fmt.Sprintf("refresh-%d", r.started), Group: group, Status: cloud.RefreshPending,
		InstancesToUpdate: r.instances[group], StartTime: time.Unix(int64(1_700_000_000+r.started), 0).UTC(), Preferences: prefs}
	r.refreshes[group] = append(rs, ref)
	return ref.ID, nil
}

// DescribeInstanceRefreshes implements cloud.InstanceRefresher: newest
// first.
func (r *Refresher) DescribeInstanceRefreshes(_ context.Context, group string, ids ...string) ([]cloud.InstanceRefresh, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rs, err := r.group(group)
	if err != nil {
		return nil, err
	}
	var out []cloud.InstanceRefresh
	for i := len(rs) - 1; i >= 0; i-- {
		if len(ids) == 0 || slices.Contains(ids, rs[i].ID) {
			out = append(out, rs[i])
		}
	}
	return out, nil
}

// CancelInstanceRefresh implements cloud.InstanceRefresher: the running
// refresh becomes Cancelling.
func (r *Refresher) CancelInstanceRefresh(_ context.Context, group string) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rs, err := r.group(group)
	if err != nil {
		return "", err
	}
	for i := range rs {
		if s := rs[i].Status; !s.Ended() && s != cloud.RefreshCancelling {
			rs[i].Status = cloud.RefreshCancelling
			return rs[i].ID, nil
		}
	}
	return "", fmt.Errorf("cancel instance refresh of group %s: ActiveInstanceRefreshNotFound: %w", group, cloud.ErrNoActiveRefresh)
}

// Advance sets the latest refresh of group to status with pct percent of
// its instances replaced; an ended status sets its EndTime.
func (r *Refresher) Advance(group string, status cloud.RefreshStatus, pct int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rs := r.refreshes[group]
	if len(rs) == 0 {
		return
	}
	last := &rs[len(rs)-1]
	last.Status, last.PercentageComplete = status, pct
	last.InstancesToUpdate = r.instances[group] - r.instances[group]*pct/100
	if status.Ended() {
		last.EndTime = last.StartTime.Add(time.Minute)
	}
}
