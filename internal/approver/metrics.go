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
	// QueueWait is how long a pending CSR waited in the queue, from the
	// event (or the freed place in flood control) that queued it to a
	// worker taking it; timed retries are not counted.
	QueueWait prometheus.Histogram
	// Phase is how long each part of a decision took: "facts" (the
	// cluster's facts and the policy), "cloud" (the cloud's facts), "record"
	// (the approval recorded before it is written) and "write" (the
	// Approved or Denied condition written).
	Phase *prometheus.HistogramVec
}

// Phases of a decision timed by Metrics.Phase.
const (
	PhaseFacts  = "facts"
	PhaseCloud  = "cloud"
	PhaseRecord = "record"
	PhaseWrite  = "write"
)

// phaseBuckets double from 1 ms to 32 s.
var phaseBuckets = prometheus.ExponentialBuckets(0.001, 2, 16)

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
		QueueWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "kelp_csr_queue_wait_seconds",
			Help:    "Time a pending kubelet CSR waited in the approver's queue before a worker took it (timed retries not counted).",
			Buckets: phaseBuckets,
		}),
		Phase: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "kelp_csr_decision_phase_seconds",
			Help: "Time of each part of a CSR decision: facts (cluster facts and policy), cloud (instance and group lookups), " +
				"record (the approval recorded first), write (the condition written).",
			Buckets: phaseBuckets,
		}, []string{"phase"}),
	}
	reg.MustRegister(m.Decisions, m.Latency, m.Pending, m.Contested, m.ContestedDeleted, m.DeniesDeferred, m.RecordBytes,
		m.QueueWait, m.Phase)
	return m
}
