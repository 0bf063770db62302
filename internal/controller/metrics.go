package controller

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the controller's own Prometheus metrics. Every decision is
// counted with its reason.
type Metrics struct {
	NodeDeletions   *prometheus.CounterVec
	NodesNotInCloud prometheus.Gauge
	TokenRotations  *prometheus.CounterVec
}

// NewMetrics creates the metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		NodeDeletions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kelp_node_lifecycle_deletions_total",
			Help: "Node objects deleted because their instance was terminated or unknown to the cloud, by reason.",
		}, []string{"reason"}),
		NodesNotInCloud: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "kelp_nodes_not_in_cloud",
			Help: "Nodes without an aws:/// providerID, left alone by node lifecycle.",
		}),
		TokenRotations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kelp_bootstrap_token_rotations_total",
			Help: "Bootstrap tokens replaced in a pool's launch template, by pool.",
		}, []string{"pool"}),
	}
	reg.MustRegister(m.NodeDeletions, m.NodesNotInCloud, m.TokenRotations)
	return m
}
