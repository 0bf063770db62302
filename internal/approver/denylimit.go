package approver

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
	certificatesv1 "k8s.io/api/certificates/v1"
	"k8s.io/apimachinery/pkg/types"
)

// The rate limit of CSRs that failed checks: each requestor may have
// DenyRate denials written per second, in bursts of DenyBurst; a denial
// over the limit is written when its turn comes. Approvals and pending
// decisions are never limited, so a pool's burst of joins (every new node
// of a pool shares the pool token's requestor) is not slowed by junk.
const (
	DenyRate  = 5
	DenyBurst = 20
	// maxDenyLimiters bounds the limiters kept, one per requestor; beyond
	// it, requestors without a limiter share one.
	maxDenyLimiters = 4096
)

// denyLimiter schedules denials per requestor. It is safe for concurrent
// use; the zero value is ready.
type denyLimiter struct {
	mu       sync.Mutex
	limiters map[string]*rate.Limiter
	overflow *rate.Limiter
	// deferred holds the CSRs whose denial has a reserved turn.
	deferred map[string]deferredDenial
}

type deferredDenial struct {
	uid types.UID
	due time.Time
}

// wait returns how long the denial of csr must wait from now; 0 means
// write it now. A CSR gets one turn: asking again before it comes returns
// the rest of the wait and takes no other.
func (l *denyLimiter) wait(csr *certificatesv1.CertificateSigningRequest, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if d, ok := l.deferred[csr.Name]; ok && d.uid == csr.UID {
		return max(d.due.Sub(now), 0)
	}
	delay := l.limiter(csr.Spec.Username, now).ReserveN(now, 1).DelayFrom(now)
	if delay <= 0 {
		return 0
	}
	if l.deferred == nil {
		l.deferred = map[string]deferredDenial{}
	}
	l.deferred[csr.Name] = deferredDenial{uid: csr.UID, due: now.Add(delay)}
	return delay
}

// forget drops the turn of the named CSR (written or deleted).
func (l *denyLimiter) forget(name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.deferred, name)
}

// limiter returns the requestor's limiter. l.mu is held.
func (l *denyLimiter) limiter(requestor string, now time.Time) *rate.Limiter {
	if lim, ok := l.limiters[requestor]; ok {
		return lim
	}
	if l.limiters == nil {
		l.limiters = map[string]*rate.Limiter{}
		l.overflow = rate.NewLimiter(DenyRate, DenyBurst)
	}
	if len(l.limiters) >= maxDenyLimiters {
		// A full bucket holds nothing worth keeping.
		for r, lim := range l.limiters {
			if lim.TokensAt(now) >= DenyBurst {
				delete(l.limiters, r)
			}
		}
		if len(l.limiters) >= maxDenyLimiters {
			return l.overflow
		}
	}
	lim := rate.NewLimiter(DenyRate, DenyBurst)
	l.limiters[requestor] = lim
	return lim
}
