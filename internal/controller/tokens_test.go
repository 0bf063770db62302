package controller

import (
	"testing"
	"time"
)

func TestNeedsRotation(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	ttl := 24 * time.Hour
	tests := []struct {
		name    string
		found   bool
		expires time.Time
		want    bool
	}{
		{"token gone", false, time.Time{}, true},
		{"fresh", true, now.Add(23 * time.Hour), false},
		{"just over a third left", true, now.Add(8*time.Hour + time.Minute), false},
		{"under a third left", true, now.Add(7 * time.Hour), true},
		{"expired", true, now.Add(-time.Minute), true},
	}
	// A short TTL rotates at least two periods before expiry.
	if !NeedsRotation(true, now.Add(90*time.Second), now, 2*time.Minute, time.Minute) {
		t.Error("a token expiring within two rotation periods was not rotated")
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := NeedsRotation(tt.found, tt.expires, now, ttl, time.Minute); got != tt.want {
				t.Errorf("NeedsRotation = %v, want %v", got, tt.want)
			}
		})
	}
}
