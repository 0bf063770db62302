package controller

import (
	"errors"
	"fmt"
	"time"
)

// Defaults of HealthOptions: cluster-autoscaler's --max-inactivity and
// --max-failing-time, and a CSR queue wait far above what a burst of joins
// takes (BenchmarkApproverBurst).
const (
	DefaultMaxInactivity   = 10 * time.Minute
	DefaultMaxFailingTime  = 15 * time.Minute
	DefaultMaxCSRQueueWait = 5 * time.Minute
)

// HealthOptions bound what /healthz tolerates of the leader's loops; zero
// fields take their defaults.
type HealthOptions struct {
	// MaxInactivity is the longest the autoscaler may go without finishing
	// a cycle, whatever its outcome (cluster-autoscaler's --max-inactivity).
	MaxInactivity time.Duration
	// MaxFailingTime is the longest it may go without a cycle that
	// succeeded (cluster-autoscaler's --max-failing-time).
	MaxFailingTime time.Duration
	// MaxCSRQueueWait is the longest a pending CSR may wait in the
	// approver's queue for a worker.
	MaxCSRQueueWait time.Duration
}

// WithDefaults returns o with zero fields set to their defaults.
func (o HealthOptions) WithDefaults() HealthOptions {
	if o.MaxInactivity == 0 {
		o.MaxInactivity = DefaultMaxInactivity
	}
	if o.MaxFailingTime == 0 {
		o.MaxFailingTime = DefaultMaxFailingTime
	}
	if o.MaxCSRQueueWait == 0 {
		o.MaxCSRQueueWait = DefaultMaxCSRQueueWait
	}
	return o
}

// Validate reports every negative bound.
func (o HealthOptions) Validate() error {
	var errs []error
	for _, b := range []struct {
		name string
		v    time.Duration
	}{{"max inactivity", o.MaxInactivity}, {"max failing time", o.MaxFailingTime}, {"max csr queue wait", o.MaxCSRQueueWait}} {
		if b.v < 0 {
			errs = append(errs, fmt.Errorf("%s %s: must not be negative", b.name, b.v))
		}
	}
	return errors.Join(errs...)
}

// HealthFacts are what /healthz decides on, read at Now.
type HealthFacts struct {
	Now time.Time
	// Leading is true while this replica runs the controllers (always,
	// without leader election); Since is when it started to.
	Leading bool
	Since   time.Time
	// Autoscaler, nil when no autoscaler runs, are the times its loop last
	// finished a cycle and last succeeded one (zero: never).
	Autoscaler *CycleTimes
	// OldestQueuedCSR is when the CSR waiting longest in the approver's
	// queue was queued; zero when none waits or no approver runs.
	OldestQueuedCSR time.Time
	Bounds          HealthOptions
}

// CycleTimes are when the autoscaler last finished a cycle, whatever its
// outcome (Ran), and last succeeded one.
type CycleTimes struct {
	Ran, Succeeded time.Time
}

// Health is the verdict of /healthz: healthy, or the reasons it is not.
type Health struct {
	Problems []string
}

// Healthy reports whether there is no problem.
func (h Health) Healthy() bool { return len(h.Problems) == 0 }

// DecideHealth says whether the replica is healthy. A standby is: it runs
// nothing that could be stuck. The leader is not when its autoscaler has
// finished no cycle for longer than MaxInactivity, or succeeded none for
// longer than MaxFailingTime, or a CSR has waited in the approver's queue
// for longer than MaxCSRQueueWait. Times are counted from when the replica
// started leading when nothing happened since.
func DecideHealth(f HealthFacts) Health {
	var h Health
	if !f.Leading {
		return h
	}
	b := f.Bounds.WithDefaults()
	if a := f.Autoscaler; a != nil {
		if idle := f.Now.Sub(latest(f.Since, a.Ran)); idle > b.MaxInactivity {
			h.Problems = append(h.Problems, fmt.Sprintf("autoscaler: no cycle finished for %s (--max-inactivity %s)", idle.Round(time.Second), b.MaxInactivity))
		}
		if failing := f.Now.Sub(latest(f.Since, a.Succeeded)); failing > b.MaxFailingTime {
			h.Problems = append(h.Problems, fmt.Sprintf("autoscaler: no cycle succeeded for %s (--max-failing-time %s)", failing.Round(time.Second), b.MaxFailingTime))
		}
	}
	if !f.OldestQueuedCSR.IsZero() {
		if wait := f.Now.Sub(f.OldestQueuedCSR); wait > b.MaxCSRQueueWait {
			h.Problems = append(h.Problems, fmt.Sprintf("csr approver: a CSR has waited %s for a worker (--max-csr-queue-wait %s)", wait.Round(time.Second), b.MaxCSRQueueWait))
		}
	}
	return h
}

func latest(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
