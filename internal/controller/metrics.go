package controller

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/kelp-dev/kelp/internal/joincleanup"
)

// Metrics are the controller's own Prometheus metrics.
type Metrics struct {
	TokenRotations *prometheus.CounterVec
	// JoinCleanups counts the cleanup after identity joins.
	JoinCleanups *prometheus.CounterVec
}

// NewMetrics creates the metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		TokenRotations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kelp_bootstrap_token_rotations_total",
			Help: "Bootstrap tokens replaced in a pool's launch template, by pool.",
		}, []string{"pool"}),
		JoinCleanups: joincleanup.NewActions(nil),
	}
	reg.MustRegister(m.TokenRotations, m.JoinCleanups)
	return m
}
