package approver

import (
	"testing"
	"time"

	"k8s.io/client-go/util/workqueue"
	clocktesting "k8s.io/utils/clock/testing"
)

// TestOldestQueued: the oldest CSR waiting for a worker gives the time;
// one a worker took no longer counts; an empty queue gives zero.
func TestOldestQueued(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := clocktesting.NewFakeClock(t0)
	c := &Controller{Clock: clk, queue: workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]())}
	defer c.queue.ShutDown()
	if got := c.OldestQueued(); !got.IsZero() {
		t.Fatalf("empty queue: OldestQueued = %v, want zero", got)
	}
	c.enqueue("a")
	clk.Step(time.Minute)
	c.enqueue("b")
	c.enqueue("a") // queued again: still waiting since t0
	if got := c.OldestQueued(); !got.Equal(t0) {
		t.Errorf("OldestQueued = %v, want %v", got, t0)
	}
	name, _ := c.queue.Get()
	c.queued.Delete(name) // what processNext does as it takes a CSR
	c.queue.Done(name)
	if got, want := c.OldestQueued(), t0.Add(time.Minute); !got.Equal(want) {
		t.Errorf("after a worker took %s: OldestQueued = %v, want %v", name, got, want)
	}
}
