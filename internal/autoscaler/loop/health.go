package loop

import (
	"sync/atomic"
	"time"
)

// cycleTimes are when Run last finished a cycle and when one last
// succeeded, in Unix nanoseconds (0: never), read by health checks while
// Run writes them.
type cycleTimes struct {
	ran, succeeded atomic.Int64
}

// done records a cycle that finished at now, failed when err is not nil.
func (c *cycleTimes) done(now time.Time, err error) {
	c.ran.Store(now.UnixNano())
	if err == nil {
		c.succeeded.Store(now.UnixNano())
	}
}

// LastCycles returns when Run last finished a cycle, whatever its outcome,
// and when a cycle last succeeded; zero times when none has. A cycle stuck
// (say, on a cloud call that never returns) finishes nothing, so its
// times stay old: the controller's /healthz reads them
// (cluster-autoscaler's --max-inactivity and --max-failing-time).
func (a *Autoscaler) LastCycles() (ran, succeeded time.Time) {
	return unixNano(a.cycles.ran.Load()), unixNano(a.cycles.succeeded.Load())
}

func unixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}
