package autoscaler

import (
	"maps"
	"time"
)

// Default backoff bounds, as cluster-autoscaler's: the first failure keeps
// a group out of scale-up for 5 minutes, each further one doubles it, up to
// 30 minutes.
const (
	DefaultInitialBackoff = 5 * time.Minute
	DefaultMaxBackoff     = 30 * time.Minute
)

// Backoffs tracks, per group, consecutive scale-up failures and the backoff
// they earn: Initial after the first, doubling after each further one, at
// most Max. A group's failure count is forgotten once Max has passed since
// its backoff ended without a new failure, or when [Backoffs.Succeeded] says its new nodes arrived.
//
// Backoffs holds no clock: every call takes now. It is not safe for
// concurrent use.
type Backoffs struct {
	Initial, Max time.Duration
	groups       map[string]*groupBackoff
}

type groupBackoff struct {
	failures    int
	until, last time.Time
	reason      string
}

// NewBackoffs returns a tracker with the given bounds; zero means the
// default.
func NewBackoffs(initial, maxBackoff time.Duration) *Backoffs {
	if initial <= 0 {
		initial = DefaultInitialBackoff
	}
	if maxBackoff <= 0 {
		maxBackoff = DefaultMaxBackoff
	}
	return &Backoffs{Initial: initial, Max: max(initial, maxBackoff), groups: map[string]*groupBackoff{}}
}

// Failed records a failure of group at now, for reason, and returns the
// backoff it earns. A failure while a backoff is running extends it but
// counts once per backoff period, so a burst of failed launches from one
// scale-up is one failure, not many doublings.
func (b *Backoffs) Failed(group, reason string, now time.Time) Backoff {
	g := b.groups[group]
	if g == nil || !now.Before(g.until.Add(b.Max)) { // quiet for Max after the last backoff: start over
		g = &groupBackoff{}
		b.groups[group] = g
	}
	if g.failures == 0 || !now.Before(g.until) {
		g.failures++
	}
	d := b.Initial
	for i := 1; i < g.failures && d < b.Max; i++ {
		d *= 2
	}
	d = min(d, b.Max)
	g.until, g.last, g.reason = now.Add(d), now, reason
	return Backoff{Until: g.until, Reason: reason}
}

// Succeeded forgets group's failures: its scale-up produced nodes.
func (b *Backoffs) Succeeded(group string) { delete(b.groups, group) }

// Active returns the backoffs still running at now, by group.
func (b *Backoffs) Active(now time.Time) map[string]Backoff {
	out := map[string]Backoff{}
	for id, g := range b.groups {
		if now.Before(g.until) {
			out[id] = Backoff{Until: g.until, Reason: g.reason}
		}
	}
	return out
}

// Failures returns each tracked group's consecutive failure count.
func (b *Backoffs) Failures() map[string]int {
	out := make(map[string]int, len(b.groups))
	for id, g := range maps.All(b.groups) {
		out[id] = g.failures
	}
	return out
}
