package tokenrotation

import (
	"testing"
	"time"
)

func TestDecide(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	tests := []struct {
		name    string
		found   bool
		expires time.Time
		ttl     time.Duration
		want    Decision
	}{
		{"token gone", false, time.Time{}, day, Decision{true, ReasonTokenGone}},
		{"fresh", true, now.Add(23 * time.Hour), day, Decision{}},
		{"just over a third left", true, now.Add(8*time.Hour + time.Minute), day, Decision{}},
		{"under a third left", true, now.Add(7 * time.Hour), day, Decision{true, ReasonTokenExpiring}},
		{"expired", true, now.Add(-time.Minute), day, Decision{true, ReasonTokenExpiring}},
		// A short TTL rotates at least two periods before expiry.
		{"within two rotation periods", true, now.Add(90 * time.Second), 2 * time.Minute, Decision{true, ReasonTokenExpiring}},
		{"beyond two rotation periods", true, now.Add(150 * time.Second), 3 * time.Minute, Decision{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Decide(Facts{Found: tt.found, Expires: tt.expires, Now: now, TTL: tt.ttl, Period: time.Minute})
			if got != tt.want {
				t.Errorf("Decide = %+v, want %+v", got, tt.want)
			}
		})
	}
}
