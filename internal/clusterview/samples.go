package clusterview

import "time"

// Sample is one point of the view's plots.
type Sample struct {
	Time time.Time `json:"time"`
	// Nodes counts the Ready nodes of each pool.
	Nodes   map[string]int `json:"nodes"`
	Pending int            `json:"pending"`
	// Latency is View.LatencySeconds (a caller may keep the peak of the
	// views since the last sample instead).
	Latency float64 `json:"latency"`
}

// SampleOf is the plots' point of v.
func SampleOf(v View) Sample {
	s := Sample{Time: v.Time, Nodes: make(map[string]int, len(v.Pools)), Pending: len(v.Pending), Latency: v.LatencySeconds}
	for _, p := range v.Pools {
		s.Nodes[p.Name] = p.Phases[PhaseReady]
	}
	return s
}

// Ring keeps the samples of the last Span, oldest first. The zero Ring
// keeps nothing; use NewRing. It is not safe for concurrent use.
type Ring struct {
	span    time.Duration
	samples []Sample
}

// NewRing returns a ring of the samples of the last span.
func NewRing(span time.Duration) *Ring { return &Ring{span: span} }

// Add appends s and drops the samples older than s.Time - span. Samples
// are expected in time order; one older than the newest is dropped.
func (r *Ring) Add(s Sample) {
	if n := len(r.samples); n > 0 && s.Time.Before(r.samples[n-1].Time) {
		return
	}
	r.samples = append(r.samples, s)
	cut := 0
	for cut < len(r.samples) && s.Time.Sub(r.samples[cut].Time) > r.span {
		cut++
	}
	if cut > 0 {
		r.samples = append(r.samples[:0], r.samples[cut:]...)
	}
}

// Samples returns a copy of the samples, oldest first.
func (r *Ring) Samples() []Sample {
	return append([]Sample(nil), r.samples...)
}
