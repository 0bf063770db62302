package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"

	"github.com/kelp-dev/kelp/internal/bootstrap"
	"github.com/kelp-dev/kelp/internal/pool"
	"github.com/kelp-dev/kelp/internal/userdata"
)

// PoolTemplates is what token rotation needs of the pools.
type PoolTemplates interface {
	List(ctx context.Context) ([]pool.Pool, error)
	UserData(ctx context.Context, name string) ([]byte, error)
	Update(ctx context.Context, name string, u pool.Update) (pool.Pool, error)
}

var _ PoolTemplates = (*pool.Provisioner)(nil)

// NeedsRotation is token rotation's pure core: a pool's token is replaced
// when it is gone, or when less than a third of ttl (and never less than
// two rotation periods) remains, so that a scale-up never meets an expired
// token.
func NeedsRotation(found bool, expires, now time.Time, ttl, period time.Duration) bool {
	return !found || expires.Sub(now) < max(ttl/3, 2*period)
}

// TokenRotator keeps every pool's launch template carrying a valid
// bootstrap token: a new token, a new template version with it (the group
// launches $Latest), and the old token set to expire once instances
// launched before the switch have had the join window to use it.
type TokenRotator struct {
	Client     kubernetes.Interface
	Pools      PoolTemplates
	TTL        time.Duration
	JoinWindow time.Duration
	Clock      clock.WithTicker
	Logger     *slog.Logger
	Rotations  *prometheus.CounterVec
	Period     time.Duration
}

// Run rotates every Period until ctx ends.
func (r *TokenRotator) Run(ctx context.Context) {
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
func (r *TokenRotator) Rotate(ctx context.Context) error {
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
		if err := r.rotatePool(ctx, p.Name, byID); err != nil {
			errs = append(errs, fmt.Errorf("pool %s: %w", p.Name, err))
		}
	}
	return errors.Join(errs...)
}

func (r *TokenRotator) rotatePool(ctx context.Context, name string, tokens map[string]bootstrap.Token) error {
	data, err := r.Pools.UserData(ctx, name)
	if err != nil {
		return err
	}
	doc, err := userdata.Decode(data)
	if err != nil {
		return fmt.Errorf("decode user-data: %w", err)
	}
	_, current, err := userdata.BootstrapToken(doc)
	if errors.Is(err, userdata.ErrNoBootstrapToken) {
		return nil // user-data kelp did not render: not ours to rotate
	}
	if err != nil {
		return err
	}
	id, _, _ := strings.Cut(current, ".")
	old, found := tokens[id]
	now := r.Clock.Now()
	if !NeedsRotation(found, old.Expires, now, r.TTL, r.Period) {
		return nil
	}
	fresh, err := bootstrap.CreateToken(ctx, r.Client, bootstrap.TokenSpec{
		Pool: name, TTL: r.TTL, Description: "launch template of pool " + name + " (rotated by kelp)",
	}, now)
	if err != nil {
		return err
	}
	out, err := userdata.ReplaceBootstrapToken(data, fresh.String())
	if err != nil {
		return err
	}
	if _, err := r.Pools.Update(ctx, name, pool.Update{UserData: out.Data}); err != nil {
		// The new template version may exist even so: the fresh token keeps
		// its full lifetime, and the next pass sees which one is in use.
		return err
	}
	if found {
		if err := bootstrap.ExpireTokenBy(ctx, r.Client, id, now.Add(r.JoinWindow)); err != nil && !errors.Is(err, bootstrap.ErrTokenNotFound) {
			return err
		}
	}
	r.Rotations.WithLabelValues(name).Inc()
	r.Logger.Info("rotated bootstrap token of pool", "pool", name, "old", id, "new", fresh.ID, "expires", fresh.Expires)
	return nil
}
