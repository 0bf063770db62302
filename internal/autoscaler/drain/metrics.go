package drain

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the drain's Prometheus metrics.
type Metrics struct {
	// Evictions counts eviction attempts by result: evicted, refused (a
	// PDB's 429 or a transient error, retried) or failed.
	Evictions *prometheus.CounterVec
	// Removals counts nodes removed, by group.
	Removals *prometheus.CounterVec
	// Failures counts failed removals by the step that failed (and
	// Untaint when removing the taints failed too).
	Failures *prometheus.CounterVec
	// Recovered counts nodes untainted by Recover.
	Recovered prometheus.Counter
}

// NewMetrics creates the metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Evictions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kelp_scale_down_evictions_total",
			Help: "Pod evictions attempted to remove nodes, by result (evicted, refused, failed).",
		}, []string{"result"}),
		Removals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kelp_scale_down_nodes_removed_total",
			Help: "Nodes drained, terminated and deleted, by node group.",
		}, []string{"group"}),
		Failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kelp_scale_down_failures_total",
			Help: "Node removals that failed, by the step that failed.",
		}, []string{"step"}),
		Recovered: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kelp_scale_down_recovered_nodes_total",
			Help: "Nodes found tainted to-be-deleted by an unfinished removal and untainted at start-up.",
		}),
	}
	reg.MustRegister(m.Evictions, m.Removals, m.Failures, m.Recovered)
	return m
}
