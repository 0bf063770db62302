package terminationctl

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the drain controller's Prometheus metrics.
type Metrics struct {
	// Drains counts finished drains by cause and outcome (the Plan's
	// reason: Drained, DrainTimedOut, NoNode).
	Drains *prometheus.CounterVec
	// InProgress is the number of drains under way.
	InProgress prometheus.Gauge
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
	}
	reg.MustRegister(m.Drains, m.InProgress)
	return m
}
