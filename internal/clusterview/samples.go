package clusterview

import "time"

// Sample is one point of the view's plots. Taken by [Peak], each count is
// the highest since the previous sample.
type Sample struct {
	Time time.Time `json:"time"`
	// Nodes counts the Ready nodes of each pool.
	Nodes   map[string]int `json:"nodes"`
	Pending int            `json:"pending"`
	// Latency is View.LatencySeconds.
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

// Peak keeps the highest counts of the views built between two samples: a
// burst of pending pods, a pool's nodes or a pod's decision latency may
// last less than the sample interval. The zero Peak is ready to use; it
// is not safe for concurrent use.
type Peak struct {
	s    Sample
	seen bool
}

// Observe folds v into the peaks.
func (p *Peak) Observe(v View) {
	s := SampleOf(v)
	if !p.seen {
		p.s, p.seen = s, true
		return
	}
	p.s.Pending, p.s.Latency = max(p.s.Pending, s.Pending), max(p.s.Latency, s.Latency)
	for pool, n := range s.Nodes {
		p.s.Nodes[pool] = max(p.s.Nodes[pool], n)
	}
}

// Take observes v and returns the sample at v.Time of the peaks since the
// last Take, then starts over.
func (p *Peak) Take(v View) Sample {
	p.Observe(v)
	s := p.s
	s.Time = v.Time
	*p = Peak{}
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
