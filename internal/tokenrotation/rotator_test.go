package tokenrotation

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/kubernetes/fake"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/kelp-dev/kelp/internal/bootstrap"
	"github.com/kelp-dev/kelp/internal/pool"
)

// recordingPools is a pool provisioner that records which pools rotation
// read and rotated; every token-mode pool's token is gone.
type recordingPools struct {
	pools         []pool.Pool
	read, rotated []string
}

func (r *recordingPools) List(context.Context) ([]pool.Pool, error) { return r.pools, nil }

func (r *recordingPools) JoinToken(_ context.Context, name string) (string, error) {
	r.read = append(r.read, name)
	return "gone00", nil
}

func (r *recordingPools) RotateToken(_ context.Context, name string, spec bootstrap.TokenSpec) (bootstrap.Token, error) {
	r.rotated = append(r.rotated, name)
	return bootstrap.Token{ID: "new000", Secret: "0123456789abcdef", Pool: name, Expires: time.Now().Add(spec.TTL)}, nil
}

// TestRotateLeavesIdentityPoolsAlone: rotation rotates a token pool whose
// token is gone, and never reads nor writes an identity pool's user-data.
func TestRotateLeavesIdentityPoolsAlone(t *testing.T) {
	pools := &recordingPools{pools: []pool.Pool{{Name: "general", Join: pool.JoinModeToken}, {Name: "secure", Join: pool.JoinModeIdentity}}}
	r := &Rotator{Client: fake.NewClientset(), Pools: pools, TTL: 24 * time.Hour, JoinWindow: 10 * time.Minute,
		Clock: clocktesting.NewFakeClock(time.Now()), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Rotations: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "rotations"}, []string{"pool"}), Period: time.Minute}
	if err := r.Rotate(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(pools.read) != 1 || pools.read[0] != "general" || len(pools.rotated) != 1 || pools.rotated[0] != "general" {
		t.Errorf("read %v, rotated %v; want general only", pools.read, pools.rotated)
	}
}
