package nodeagent

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/clock"
)

// backoff returns a jittered exponential backoff from initial, doubling up
// to limit, never giving up.
func backoff(initial, limit time.Duration) wait.Backoff {
	return wait.Backoff{Duration: initial, Factor: 2, Jitter: 0.5, Steps: math.MaxInt32, Cap: limit}
}

// sleep waits d on clk, or until ctx ends; it returns ctx.Err() then.
func sleep(ctx context.Context, clk clock.WithTicker, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := clk.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C():
		return nil
	}
}

// retrier retries an agent's operations on its clock, logging failures and
// reporting them to record.
type retrier struct {
	clock  clock.WithTicker
	log    *slog.Logger
	record func(error)
}

// do calls fn until it succeeds, fails with ErrCertificateDenied, or ctx
// ends, sleeping b's jittered steps between attempts. It returns nil on
// success and otherwise the permanent error or ctx.Err().
func (r retrier) do(ctx context.Context, what string, b wait.Backoff, fn func(context.Context) error) error {
	for {
		err := fn(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		r.record(err)
		if errors.Is(err, ErrCertificateDenied) {
			r.log.Error(what+" failed for good", "err", err)
			return err
		}
		d := b.Step()
		r.log.Warn(what+" failed; retrying", "err", err, "retryIn", d.Round(time.Millisecond))
		if err := sleep(ctx, r.clock, d); err != nil {
			return err
		}
	}
}
