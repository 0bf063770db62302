package approver

import "github.com/prometheus/client_golang/prometheus"

// Metrics count every decision.
type Metrics struct {
	Decisions *prometheus.CounterVec
	Latency   *prometheus.HistogramVec
	// Pending is Facts.PendingNodeCSRs of the last decision.
	Pending prometheus.Gauge
	// Contested counts the CSRs denied because another pending new-node
	// CSR asked for the same node: each side of a contested join once.
	Contested prometheus.Counter
	// ContestedDeleted counts the contested CSRs deleted after
	// ContestedDeleteGrace, so that their kubelets can ask again.
	ContestedDeleted prometheus.Counter
	// DeniesDeferred counts denials put off by the per-requestor rate
	// limit of failed checks.
	DeniesDeferred prometheus.Counter
	// RecordBytes is the size of kelp's approval record ConfigMap.
	RecordBytes prometheus.Gauge
}

// NewMetrics registers the approver's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kelp_csr_decisions_total",
			Help: "CSR decisions by signer, decision (approve, deny, pending) and reason.",
		}, []string{"signer", "decision", "reason"}),
		Latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "kelp_csr_decision_latency_seconds",
			Help:    "Time from CSR creation to its approval or denial.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 16),
		}, []string{"signer", "decision"}),
		Pending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "kelp_csr_pending_new_node",
			Help: "Pending new-node CSRs that passed the request and requestor checks (junk is not counted); " +
				"flood control admits them oldest first, up to nodes + --flood-headroom at a time (reason FloodControl for the rest).",
		}),
		Contested: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kelp_csr_contested_joins_total",
			Help: "New-node CSRs denied because another pending new-node CSR asked for the same node (reason ContestedJoin), each side counted.",
		}),
		ContestedDeleted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kelp_csr_contested_deleted_total",
			Help: "CSRs denied ContestedJoin that kelp deleted after a grace, so that their kubelets, restarted, can file a new CSR of the same name.",
		}),
		DeniesDeferred: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kelp_csr_denials_deferred_total",
			Help: "Denials put off by the per-requestor rate limit of CSRs that failed checks; each is written later.",
		}),
		RecordBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "kelp_csr_record_bytes",
			Help: "Size of the approval record ConfigMap kube-system/kelp-approved-instances (the API server's limit is 1 MiB).",
		}),
	}
	reg.MustRegister(m.Decisions, m.Latency, m.Pending, m.Contested, m.ContestedDeleted, m.DeniesDeferred, m.RecordBytes)
	return m
}
