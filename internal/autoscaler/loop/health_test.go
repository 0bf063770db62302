package loop

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/kelp-dev/kelp/internal/testenv"
)

// failingGroups fails every Refresh while fail is set.
type failingGroups struct {
	*fakeCloud
	fail chan bool
}

func (f failingGroups) Refresh(context.Context) error {
	select {
	case <-f.fail:
		return errors.New("cloud down")
	default:
		return nil
	}
}

// TestLastCycles: Run records when each cycle finished, and when one last
// succeeded: a failed cycle moves only the first.
func TestLastCycles(t *testing.T) {
	h := newHarness(t, Options{ScaleDownEnabled: false}, testGroup(t, "general", "m5.large", 0, 10))
	groups := failingGroups{fakeCloud: h.cloud, fail: make(chan bool, 1)}
	h.a.d.Groups = groups
	if ran, ok := h.a.LastCycles(); !ran.IsZero() || !ok.IsZero() {
		t.Fatalf("before Run: %v, %v; want zero times", ran, ok)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); h.a.Run(ctx) }()
	defer func() { cancel(); <-done }()
	cycle := func() time.Time {
		t.Helper()
		testenv.EventuallyTrue(t, 30*time.Second, "the loop waiting for its scan interval", h.clock.HasWaiters)
		h.clock.Step(h.a.o.ScanInterval)
		at := h.clock.Now()
		testenv.EventuallyTrue(t, 30*time.Second, "a cycle finished", func() bool { ran, _ := h.a.LastCycles(); return ran.Equal(at) })
		return at
	}
	first := cycle()
	if _, ok := h.a.LastCycles(); !ok.Equal(first) {
		t.Errorf("succeeded %v, want %v", ok, first)
	}
	groups.fail <- true
	second := cycle()
	if ran, ok := h.a.LastCycles(); !ran.Equal(second) || !ok.Equal(first) {
		t.Errorf("after a failed cycle: ran %v, succeeded %v; want %v, %v", ran, ok, second, first)
	}
}
