package cloud

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"time"

	"k8s.io/utils/clock"
)

// ThrottleRetry is kelp's own backoff for a call that stayed throttled
// after the cloud SDK's retries: Rounds more tries, waiting a jittered,
// exponential time from Backoff before each.
type ThrottleRetry struct {
	Rounds  int
	Backoff time.Duration
}

// RetryThrottled runs f; while it fails with ErrThrottled (f classifies
// its errors), it waits (honouring ctx, on clk) and tries again, up to
// p.Rounds times. The last error is returned as it is: callers name the
// operation.
func RetryThrottled[T any](ctx context.Context, p ThrottleRetry, clk clock.Clock, log *slog.Logger, op string, f func(context.Context) (T, error)) (T, error) {
	var zero T
	for round := 0; ; round++ {
		out, err := f(ctx)
		if err == nil {
			return out, nil
		}
		if !errors.Is(err, ErrThrottled) || round >= p.Rounds {
			return zero, err
		}
		d := ThrottleBackoff(p.Backoff, round)
		log.Warn("cloud call throttled after the sdk's retries; backing off", "op", op, "round", round+1, "delay", d)
		select {
		case <-ctx.Done():
			return zero, err
		case <-clk.After(d):
		}
	}
}

// Kelp's default throttle retry: the AWS adapter's defaults, and the
// interruption queue's setup.
const (
	DefaultThrottleRounds  = 3
	DefaultThrottleBackoff = 2 * time.Second
)

// MaxThrottleBackoff caps one wait of RetryThrottled.
const MaxThrottleBackoff = 2 * time.Minute

// ThrottleBackoff returns a wait in [d/2, d) for d = base×2^round, capped
// at MaxThrottleBackoff.
func ThrottleBackoff(base time.Duration, round int) time.Duration {
	d := base
	for range round {
		if d >= MaxThrottleBackoff {
			break
		}
		d *= 2
	}
	d = min(d, MaxThrottleBackoff)
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2)
}
