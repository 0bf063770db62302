package controller

import (
	"strings"
	"testing"
	"time"
)

func TestDecideHealth(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ago := func(d time.Duration) time.Time { return t0.Add(-d) }
	bounds := HealthOptions{MaxInactivity: 10 * time.Minute, MaxFailingTime: 15 * time.Minute, MaxCSRQueueWait: 5 * time.Minute}
	for _, tc := range []struct {
		name  string
		facts HealthFacts
		// defaults leaves the bounds zero
		defaults bool
		want     []string // substrings of the problems, in order; none: healthy
	}{
		{name: "standby with nothing running", facts: HealthFacts{Since: ago(time.Hour), Autoscaler: &CycleTimes{}, OldestQueuedCSR: ago(time.Hour)}},
		{name: "leader without autoscaler or queue", facts: HealthFacts{Leading: true, Since: ago(time.Hour)}},
		{name: "new leader, no cycle yet", facts: HealthFacts{Leading: true, Since: ago(9 * time.Minute), Autoscaler: &CycleTimes{}}},
		{name: "leader whose loop never finished a cycle", facts: HealthFacts{Leading: true, Since: ago(11 * time.Minute), Autoscaler: &CycleTimes{}},
			want: []string{"autoscaler: no cycle finished for 11m0s (--max-inactivity 10m0s)"}},
		{name: "stuck loop: neither ran nor succeeded", facts: HealthFacts{Leading: true, Since: ago(time.Hour), Autoscaler: &CycleTimes{Ran: ago(20 * time.Minute), Succeeded: ago(20 * time.Minute)}},
			want: []string{"no cycle finished for 20m0s", "no cycle succeeded for 20m0s (--max-failing-time 15m0s)"}},
		{name: "failing loop: runs, never succeeds", facts: HealthFacts{Leading: true, Since: ago(time.Hour), Autoscaler: &CycleTimes{Ran: ago(time.Second), Succeeded: ago(16 * time.Minute)}},
			want: []string{"no cycle succeeded for 16m0s"}},
		{name: "failing less than the bound", facts: HealthFacts{Leading: true, Since: ago(time.Hour), Autoscaler: &CycleTimes{Ran: ago(time.Second), Succeeded: ago(14 * time.Minute)}}},
		{name: "old successes before leading do not count against it", facts: HealthFacts{Leading: true, Since: ago(time.Minute), Autoscaler: &CycleTimes{Ran: ago(time.Hour), Succeeded: ago(time.Hour)}}},
		{name: "csr waiting within the bound", facts: HealthFacts{Leading: true, Since: ago(time.Hour), OldestQueuedCSR: ago(4 * time.Minute)}},
		{name: "csr waiting past the bound", facts: HealthFacts{Leading: true, Since: ago(time.Hour), OldestQueuedCSR: ago(6 * time.Minute)},
			want: []string{"csr approver: a CSR has waited 6m0s for a worker (--max-csr-queue-wait 5m0s)"}},
		{name: "everything wrong at once", facts: HealthFacts{Leading: true, Since: ago(time.Hour), Autoscaler: &CycleTimes{}, OldestQueuedCSR: ago(time.Hour)},
			want: []string{"no cycle finished", "no cycle succeeded", "a CSR has waited"}},
		{name: "zero bounds take the defaults", facts: HealthFacts{Leading: true, Since: ago(11 * time.Minute), Autoscaler: &CycleTimes{}}, defaults: true,
			want: []string{"--max-inactivity 10m0s"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.facts
			f.Now = t0
			if !tc.defaults {
				f.Bounds = bounds
			}
			h := DecideHealth(f)
			if h.Healthy() != (len(tc.want) == 0) || len(h.Problems) != len(tc.want) {
				t.Fatalf("problems %q, want %d matching %q", h.Problems, len(tc.want), tc.want)
			}
			for i, w := range tc.want {
				if !strings.Contains(h.Problems[i], w) {
					t.Errorf("problem %d %q lacks %q", i, h.Problems[i], w)
				}
			}
		})
	}
}

func TestHealthOptionsValidate(t *testing.T) {
	err := HealthOptions{MaxInactivity: -time.Second, MaxCSRQueueWait: -time.Minute}.Validate()
	if err == nil || !strings.Contains(err.Error(), "max inactivity -1s") || !strings.Contains(err.Error(), "max csr queue wait -1m0s") {
		t.Errorf("Validate = %v, want both negative bounds named", err)
	}
	if err := (HealthOptions{}).Validate(); err != nil {
		t.Errorf("zero options: %v", err)
	}
}
