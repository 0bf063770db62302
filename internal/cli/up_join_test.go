package cli

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/kelp-dev/kelp/internal/pool"
	"github.com/kelp-dev/kelp/internal/testenv"
)

func TestUpJoinMode(t *testing.T) {
	for _, tc := range []struct {
		flag         string
		noController bool
		want         pool.JoinMode
		err          string
	}{
		{"", false, pool.JoinModeIdentity, ""},
		{"", true, pool.JoinModeToken, ""},
		{"token", false, pool.JoinModeToken, ""},
		{"identity", false, pool.JoinModeIdentity, ""},
		{"token", true, pool.JoinModeToken, ""},
		{"identity", true, "", "drop --no-controller"},
		{"secret", false, "", "want identity or token"},
	} {
		got, err := upJoinMode(tc.flag, tc.noController)
		if got != tc.want || (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("upJoinMode(%q, noController=%v) = %q, %v; want %q, error containing %q", tc.flag, tc.noController, got, err, tc.want, tc.err)
		}
	}
}

// TestWaitUp: kelp up stops the cluster and fails with the controller's
// error when its controller stops by itself; Ctrl-C stops it cleanly.
func TestWaitUp(t *testing.T) {
	boom := errors.New("listen for the web view on 127.0.0.1:8081: address already in use")
	done := make(chan struct{})
	close(done)
	stopped := 0
	stop := func() error { stopped++; return nil }
	err := waitUp(context.Background(), "local", done, func() error { return boom }, stop)
	if !errors.Is(err, boom) || stopped != 1 {
		t.Fatalf("controller stopped: waitUp = %v (stopped %d times); want its error and the cluster stopped", err, stopped)
	}
	testenv.ErrorContains(t, err, `local cluster "local": the kelp controller stopped`, "the cluster is stopped")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	stopped = 0
	if err := waitUp(ctx, "local", nil, func() error { return nil }, stop); err != nil || stopped != 1 {
		t.Fatalf("interrupted: waitUp = %v (stopped %d times); want nil and the cluster stopped", err, stopped)
	}
}
