package loop

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/utils/clock"
	testclock "k8s.io/utils/clock/testing"

	"github.com/kelp-dev/kelp/internal/testenv"
)

func TestCycleStart(t *testing.T) {
	o := Options{}.WithDefaults() // idle 1s, quiet 200ms, max 10s
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	ms := time.Millisecond
	lone := func(prev time.Time) pendingBatch {
		return pendingBatch{prev: prev, first: t0, last: t0, firstNew: t0, news: 1}
	}
	for _, tc := range []struct {
		name string
		b    pendingBatch
		want time.Duration // after t0
	}{
		{"first pod ever: quiet wait", lone(time.Time{}), 200 * ms},
		{"pod after a quiet spell", lone(at(-2 * time.Second)), 200 * ms},
		{"quiet spell of exactly BatchIdle", lone(at(-time.Second)), 200 * ms},
		{"new pod soon after the last: batched as a stream", lone(at(-300 * ms)), time.Second},
		{"only a pod marked again: a stream", pendingBatch{first: t0, last: t0}, time.Second},
		{"a new pod in a batch a re-mark opened: quiet wait from the new pod",
			pendingBatch{first: t0, last: at(300 * ms), firstNew: at(300 * ms), news: 1}, 500 * ms},
		{"a re-mark after a lone new pod changes nothing",
			pendingBatch{first: t0, last: at(100 * ms), firstNew: t0, news: 1}, 200 * ms},
		{"a second new pod within the quiet wait: a stream, idle from the last",
			pendingBatch{first: t0, last: at(150 * ms), firstNew: t0, news: 2}, 1150 * ms},
		{"a steady burst ends at BatchMax", pendingBatch{first: t0, last: at(9500 * ms), firstNew: t0, news: 900}, 10 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := cycleStart(o, tc.b); !got.Equal(at(tc.want)) {
				t.Fatalf("cycle starts at t0+%s, want t0+%s", got.Sub(t0), tc.want)
			}
		})
	}
}

func TestBatchQuietIdleDefaultsAndValidation(t *testing.T) {
	if got := (Options{BatchIdle: 100 * time.Millisecond}).WithDefaults().BatchQuietIdle; got != 100*time.Millisecond {
		t.Errorf("quiet wait %s with a 100ms idle window, want 100ms", got)
	}
	if got := (Options{}).WithDefaults().BatchQuietIdle; got != DefaultBatchQuietIdle {
		t.Errorf("default quiet wait %s", got)
	}
	err := Options{BatchQuietIdle: 2 * time.Second}.WithDefaults().Validate()
	if err == nil || !strings.Contains(err.Error(), "batch-quiet-idle-duration 2s: must be at most batch-idle-duration 1s") {
		t.Errorf("error %v", err)
	}
}

// timerClock counts the timers made, so a test knows batch is waiting on
// its latest one before it steps the clock.
type timerClock struct {
	*testclock.FakeClock
	made atomic.Int32
}

func (c *timerClock) NewTimer(d time.Duration) clock.Timer {
	t := c.FakeClock.NewTimer(d)
	c.made.Add(1)
	return t
}

// TestBatchWaits drives batch with a fake clock: a lone new pod on a
// quiet cluster starts a cycle after the quiet wait, even in a batch a
// re-mark opened; a new pod soon after it, a second pod within the quiet
// wait, or a pod marked unschedulable again (no new pod) wait BatchIdle
// after the last trigger.
func TestBatchWaits(t *testing.T) {
	clk := &timerClock{FakeClock: testclock.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))}
	a := &Autoscaler{o: Options{}.WithDefaults(), d: Deps{Clock: clk}, trigger: make(chan struct{}, 1)}
	timers := int32(0)
	waiting := func(what string) {
		timers++
		testenv.EventuallyTrue(t, 5*time.Second, what, func() bool { return clk.made.Load() == timers })
	}
	start := func(newPod bool) <-chan bool {
		if newPod {
			a.newPending.Add(1)
		}
		done := make(chan bool, 1)
		go func() { done <- a.batch(context.Background()) }()
		waiting("batch waiting")
		return done
	}
	closesAfter := func(what string, done <-chan bool, d time.Duration) {
		t.Helper()
		clk.Step(d - time.Millisecond)
		select {
		case <-done:
			t.Fatalf("%s: the batch closed before %s", what, d)
		default:
		}
		clk.Step(time.Millisecond)
		testenv.EventuallyTrue(t, 5*time.Second, what+": the batch closed after "+d.String(), func() bool {
			select {
			case <-done:
				return true
			default:
				return false
			}
		})
	}

	closesAfter("a lone new pod", start(true), 200*time.Millisecond)

	clk.Step(300 * time.Millisecond)
	closesAfter("a new pod 500ms after the last", start(true), time.Second)

	clk.Step(5 * time.Second)
	done := start(true)
	clk.Step(100 * time.Millisecond)
	a.newPending.Add(1)
	a.trigger <- struct{}{}
	waiting("the second pod taken")
	closesAfter("a burst", done, time.Second)

	clk.Step(5 * time.Second)
	closesAfter("a pod marked unschedulable again", start(false), time.Second)

	clk.Step(5 * time.Second)
	done = start(false)
	clk.Step(300 * time.Millisecond)
	a.newPending.Add(1)
	a.trigger <- struct{}{}
	waiting("a new pod after a re-mark")
	closesAfter("a new pod in a batch a re-mark opened", done, 200*time.Millisecond)
}
