package tokenrotation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"

	"github.com/kelp-dev/kelp/internal/bootstrap"
	"github.com/kelp-dev/kelp/internal/pool"
)

// Pools is what rotation needs of the pool provisioner.
type Pools interface {
	List(ctx context.Context) ([]pool.Pool, error)
	// JoinToken is the ID of the token in the pool's user-data, or an
	// error wrapping pool.ErrNoJoinToken.
	JoinToken(ctx context.Context, name string) (string, error)
	// RotateToken issues a fresh token for spec and writes it into a new
	// launch template version of the pool.
	RotateToken(ctx context.Context, name string, spec bootstrap.TokenSpec) (bootstrap.Token, error)
}

var _ Pools = (*pool.Provisioner)(nil)

// Rotator keeps every token-mode pool's launch template carrying a valid
// bootstrap token (identity pools carry none and are left alone): a new token in a new template version (the group launches
// $Latest), and the old token set to expire once instances launched before
// the switch have had the join window to use it.
type Rotator struct {
	// Client reads kelp's token Secrets and expires old tokens.
	Client     kubernetes.Interface
	Pools      Pools
	TTL        time.Duration
	JoinWindow time.Duration
	Clock      clock.WithTicker
	Logger     *slog.Logger
	Rotations  *prometheus.CounterVec
	Period     time.Duration
}

// Run rotates every Period until ctx ends.
func (r *Rotator) Run(ctx context.Context) {
	t := r.Clock.NewTicker(r.Period)
	defer t.Stop()
	for {
		if err := r.Rotate(ctx); err != nil && ctx.Err() == nil {
			r.Logger.Warn("bootstrap token rotation failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
	}
}

// Rotate checks every pool once.
func (r *Rotator) Rotate(ctx context.Context) error {
	pools, err := r.Pools.List(ctx)
	if err != nil {
		return err
	}
	tokens, malformed, err := bootstrap.ListTokensLenient(ctx, r.Client)
	if err != nil {
		return err
	}
	for _, m := range malformed {
		// A pool whose token is one of these rotates: its token is "gone".
		r.Logger.Warn("malformed kelp bootstrap token ignored", "err", m)
	}
	byID := make(map[string]bootstrap.Token, len(tokens))
	for _, t := range tokens {
		byID[t.ID] = t
	}
	var errs []error
	for _, p := range pools {
		if p.Join == pool.JoinModeIdentity {
			continue // its user-data carries no token, and must not get one
		}
		if err := r.rotatePool(ctx, p.Name, byID); err != nil {
			errs = append(errs, fmt.Errorf("pool %s: %w", p.Name, err))
		}
	}
	return errors.Join(errs...)
}

func (r *Rotator) rotatePool(ctx context.Context, name string, tokens map[string]bootstrap.Token) error {
	id, err := r.Pools.JoinToken(ctx, name)
	if errors.Is(err, pool.ErrNoJoinToken) {
		return nil // user-data kelp did not render: not ours to rotate
	}
	if err != nil {
		return err
	}
	old, found := tokens[id]
	now := r.Clock.Now()
	d := Decide(Facts{Found: found, Expires: old.Expires, Now: now, TTL: r.TTL, Period: r.Period})
	if !d.Rotate {
		return nil
	}
	fresh, err := r.Pools.RotateToken(ctx, name, bootstrap.TokenSpec{
		TTL: r.TTL, Description: "launch template of pool " + name + " (rotated by kelp)",
	})
	if err != nil {
		return err
	}
	if found {
		if err := bootstrap.ExpireTokenBy(ctx, r.Client, id, now.Add(r.JoinWindow)); err != nil && !errors.Is(err, bootstrap.ErrTokenNotFound) {
			return err
		}
	}
	r.Rotations.WithLabelValues(name).Inc()
	r.Logger.Info("rotated bootstrap token of pool", "pool", name, "reason", d.Reason, "old", id, "new", fresh.ID, "expires", fresh.Expires)
	return nil
}
