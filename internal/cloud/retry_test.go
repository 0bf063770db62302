package cloud

import (
	"testing"
	"time"
)

func TestBackoffIsJitteredAndCapped(t *testing.T) {
	tests := []struct {
		base   time.Duration
		round  int
		lo, hi time.Duration // want lo <= d < hi
	}{
		{time.Second, 0, 500 * time.Millisecond, time.Second},
		{time.Second, 1, time.Second, 2 * time.Second},
		{time.Second, 3, 4 * time.Second, 8 * time.Second},
		{time.Second, 40, MaxThrottleBackoff / 2, MaxThrottleBackoff},
		{10 * time.Minute, 0, MaxThrottleBackoff / 2, MaxThrottleBackoff},
		{1, 0, 1, 2},
	}
	for _, tt := range tests {
		seen := map[time.Duration]bool{}
		for range 50 {
			d := ThrottleBackoff(tt.base, tt.round)
			if d < tt.lo || d >= tt.hi {
				t.Fatalf("ThrottleBackoff(%s, %d) = %s, want in [%s, %s)", tt.base, tt.round, d, tt.lo, tt.hi)
			}
			seen[d] = true
		}
		if tt.hi-tt.lo > time.Millisecond && len(seen) < 2 {
			t.Errorf("ThrottleBackoff(%s, %d) is not jittered: always %v", tt.base, tt.round, seen)
		}
	}
}
