package autoscaler

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestClusterHealth: unhealthy only when the unready Nodes exceed both the
// count and the percentage, as cluster-autoscaler's IsClusterHealthy;
// starting and deleting Nodes are not unready.
func TestClusterHealth(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	const startup = 15 * time.Minute
	old := now.Add(-time.Hour)
	nodes := func(ready, unready, starting, deleting int) []NodeReadiness {
		var out []NodeReadiness
		add := func(n int, kind string, r NodeReadiness) {
			for i := range n {
				r.Name = fmt.Sprintf("%s-%d", kind, i)
				out = append(out, r)
			}
		}
		add(ready, "ready", NodeReadiness{Ready: true, Created: old})
		add(unready, "unready", NodeReadiness{Created: old})
		add(starting, "starting", NodeReadiness{Created: now.Add(-startup + time.Second)})
		add(deleting, "deleting", NodeReadiness{Created: old, Deleting: true})
		return out
	}
	def := DefaultHealthOptions()
	for _, tc := range []struct {
		name    string
		nodes   []NodeReadiness
		o       HealthOptions
		healthy bool
		unready int
	}{
		{"empty cluster", nil, def, true, 0},
		{"all ready", nodes(10, 0, 0, 0), def, true, 0},
		{"3 unready of 4: within the count", nodes(1, 3, 0, 0), def, true, 3},
		{"4 unready of 5: over both", nodes(1, 4, 0, 0), def, false, 4},
		{"4 unready of 10: over the count, within 45%", nodes(6, 4, 0, 0), def, true, 4},
		{"5 unready of 10: over both", nodes(5, 5, 0, 0), def, false, 5},
		{"45 of 100 unready: not more than 45%", nodes(55, 45, 0, 0), def, true, 45},
		{"46 of 100 unready: more than 45%", nodes(54, 46, 0, 0), def, false, 46},
		{"a scale-up still booting is not unready", nodes(2, 0, 20, 0), def, true, 0},
		{"nodes being deleted are not unready", nodes(1, 0, 0, 10), def, true, 0},
		{"zero count, zero percentage: any unready node stops it", nodes(9, 1, 0, 0), HealthOptions{}, false, 1},
		{"100%: never unhealthy", nodes(0, 50, 0, 0), HealthOptions{OkTotalUnreadyCount: 3, MaxTotalUnreadyPercentage: 100}, true, 50},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := ClusterHealth(HealthInput{Nodes: tc.nodes, StartupTime: startup, Options: tc.o, Now: now})
			if h.Healthy != tc.healthy || h.Unready != tc.unready {
				t.Fatalf("got healthy %t, unready %d (%+v); want %t, %d", h.Healthy, h.Unready, h, tc.healthy, tc.unready)
			}
			if h.Ready+h.Unready+h.NotStarted+h.Deleting != h.Nodes || h.Nodes != len(tc.nodes) {
				t.Fatalf("counts do not partition the nodes: %+v", h)
			}
			if tc.healthy != (h.Reason == "") {
				t.Fatalf("reason %q for healthy %t", h.Reason, h.Healthy)
			}
			if !h.Healthy && !strings.Contains(h.Reason, "--ok-total-unready-count") {
				t.Fatalf("reason does not name the flags: %q", h.Reason)
			}
		})
	}
	// The startup boundary: exactly StartupTime old is unready.
	h := ClusterHealth(HealthInput{Nodes: []NodeReadiness{{Name: "n", Created: now.Add(-startup)}}, StartupTime: startup, Options: HealthOptions{}, Now: now})
	if h.Unready != 1 || h.Healthy {
		t.Fatalf("a node not ready for exactly the startup time: %+v, want unready", h)
	}
}

func TestHealthOptionsValidate(t *testing.T) {
	if err := DefaultHealthOptions().Validate(); err != nil {
		t.Fatal(err)
	}
	err := HealthOptions{OkTotalUnreadyCount: -1, MaxTotalUnreadyPercentage: 101}.Validate()
	if err == nil || !strings.Contains(err.Error(), "ok-total-unready-count -1") || !strings.Contains(err.Error(), "max-total-unready-percentage 101") {
		t.Fatalf("got %v, want both problems named", err)
	}
}
