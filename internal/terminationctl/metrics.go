package terminationctl

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the drain controller's Prometheus metrics.
type Metrics struct {
	// Drains counts finished drains by cause and outcome (the Plan's
	// reason: Drained, DrainTimedOut, NoNode).
	Drains *prometheus.CounterVec
	// InProgress is the number of drains under way.
	InProgress prometheus.Gauge
	// Notices counts the interruption queue's notices by kind (warning,
	// lifecycle-action, state-change) and outcome (accepted, unmanaged,
	// no-node, forgotten, ignored, error).
	Notices *prometheus.CounterVec
}

// NewMetrics creates the metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Drains: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kelp_node_drains_total",
			Help: "Drains of departing instances' Nodes finished, by cause (scale-in, ...) and outcome (Drained, DrainTimedOut, NoNode).",
		}, []string{"cause", "outcome"}),
		InProgress: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "kelp_node_drains_in_progress",
			Help: "Departing instances whose Nodes are being drained.",
		}),
		Notices: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kelp_drain_notices_total",
			Help: "Notices of the interruption queue handled by the drain controller, by kind (warning, lifecycle-action, state-change) and outcome (accepted, unmanaged, no-node, forgotten, ignored, error).",
		}, []string{"kind", "outcome"}),
	}
	reg.MustRegister(m.Drains, m.InProgress, m.Notices)
	return m
}
