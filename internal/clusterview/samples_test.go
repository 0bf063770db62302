package clusterview

import (
	"maps"
	"testing"
	"time"
)

// TestPeak: a sample carries the highest counts of the views built since
// the previous one, so a burst between two samples shows.
func TestPeak(t *testing.T) {
	view := func(sec, pending int, latency float64, ready map[string]int) View {
		v := View{Time: now.Add(time.Duration(sec) * time.Second), Pending: make([]PendingPod, pending), LatencySeconds: latency}
		for pool, n := range ready {
			v.Pools = append(v.Pools, Pool{Name: pool, Phases: map[Phase]int{PhaseReady: n}})
		}
		return v
	}
	tests := []struct {
		name     string
		observed []View
		taken    View
		want     Sample
	}{{
		name:  "nothing between samples: the view itself",
		taken: view(10, 1, 0, map[string]int{"a": 2}),
		want:  Sample{Time: now.Add(10 * time.Second), Pending: 1, Nodes: map[string]int{"a": 2}},
	}, {
		name: "a burst of pending pods and a latency between samples",
		observed: []View{view(2, 8, 3, map[string]int{"a": 2}), view(5, 2, 1, map[string]int{"a": 3, "b": 1}),
			view(7, 0, 0, map[string]int{"a": 1})},
		taken: view(10, 1, 0, map[string]int{"a": 1}),
		want:  Sample{Time: now.Add(10 * time.Second), Pending: 8, Latency: 3, Nodes: map[string]int{"a": 3, "b": 1}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p Peak
			for _, v := range tt.observed {
				p.Observe(v)
			}
			got := p.Take(tt.taken)
			if !got.Time.Equal(tt.want.Time) || got.Pending != tt.want.Pending || got.Latency != tt.want.Latency || !maps.Equal(got.Nodes, tt.want.Nodes) {
				t.Errorf("sample %+v, want %+v", got, tt.want)
			}
			// Taken, the peaks start over.
			if next := p.Take(tt.taken); next.Pending != len(tt.taken.Pending) || !maps.Equal(next.Nodes, SampleOf(tt.taken).Nodes) {
				t.Errorf("after Take: %+v, want the view's own %+v", next, SampleOf(tt.taken))
			}
		})
	}
}
