package autoscaler

import (
	"testing"
	"time"
)

func TestBackoffs(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	type step struct {
		fail    bool // else succeed
		at      time.Duration
		want    time.Duration // backoff length earned, from at
		failure int
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"first failure backs off 5m", []step{{true, 0, 5 * time.Minute, 1}}},
		{"failures after each backoff double it", []step{
			{true, 0, 5 * time.Minute, 1},
			{true, 5 * time.Minute, 10 * time.Minute, 2},
			{true, 15 * time.Minute, 20 * time.Minute, 3},
			{true, 35 * time.Minute, 30 * time.Minute, 4},
			{true, 65 * time.Minute, 30 * time.Minute, 5},
		}},
		{"a burst within one backoff counts once", []step{
			{true, 0, 5 * time.Minute, 1},
			{true, time.Minute, 5 * time.Minute, 1},
			{true, 2 * time.Minute, 5 * time.Minute, 1},
		}},
		{"quiet for max after the backoff forgets", []step{
			{true, 0, 5 * time.Minute, 1},
			{true, 5 * time.Minute, 10 * time.Minute, 2},
			{true, 15*time.Minute + 30*time.Minute, 5 * time.Minute, 1},
		}},
		{"success forgets", []step{
			{true, 0, 5 * time.Minute, 1},
			{false, 6 * time.Minute, 0, 0},
			{true, 7 * time.Minute, 5 * time.Minute, 1},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := NewBackoffs(0, 0)
			for i, s := range tc.steps {
				if !s.fail {
					b.Succeeded("g")
					if _, ok := b.Active(at(s.at))["g"]; ok {
						t.Fatalf("step %d: still backed off after success", i)
					}
					continue
				}
				got := b.Failed("g", "launch failed", at(s.at))
				if want := at(s.at).Add(s.want); !got.Until.Equal(want) {
					t.Fatalf("step %d: backoff until %s, want %s", i, got.Until.Sub(t0), want.Sub(t0))
				}
				if f := b.Failures()["g"]; f != s.failure {
					t.Fatalf("step %d: %d failures, want %d", i, f, s.failure)
				}
				act := b.Active(at(s.at + s.want - time.Second))
				if act["g"].Reason != "launch failed" {
					t.Fatalf("step %d: not active just before it ends: %v", i, act)
				}
				if _, ok := b.Active(at(s.at + s.want))["g"]; ok {
					t.Fatalf("step %d: still active when it ends", i)
				}
			}
		})
	}
}

func TestBackoffsBounds(t *testing.T) {
	b := NewBackoffs(time.Minute, 30*time.Second) // max below initial: max = initial
	if b.Max != time.Minute {
		t.Fatalf("max %s, want raised to the initial 1m", b.Max)
	}
	if got := NewBackoffs(0, 0); got.Initial != DefaultInitialBackoff || got.Max != DefaultMaxBackoff {
		t.Fatalf("defaults %s/%s", got.Initial, got.Max)
	}
}
