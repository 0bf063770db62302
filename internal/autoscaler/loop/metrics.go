package loop

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the autoscaler's Prometheus metrics: every decision is
// counted with its outcome or reason.
type Metrics struct {
	CycleDuration  prometheus.Histogram
	PodsPlanned    *prometheus.CounterVec
	NodesRequested *prometheus.CounterVec
	Errors         *prometheus.CounterVec
	Backoffs       *prometheus.CounterVec
	PoolBackedOff  *prometheus.GaugeVec
	Unschedulable  prometheus.Gauge
	Upcoming       *prometheus.GaugeVec
	Cycles         *prometheus.CounterVec
	// ScaleDownBlocked counts, per cycle and node, why a node stays.
	ScaleDownBlocked *prometheus.CounterVec
	// PlanTruncated counts the scale-up plans stopped by their budget.
	PlanTruncated *prometheus.CounterVec
	// ClusterHealthy is 1 while the cluster is healthy enough to
	// autoscale; Nodes counts the registered nodes by readiness.
	ClusterHealthy prometheus.Gauge
	Nodes          *prometheus.GaugeVec
	// SkippedCycles counts the cycles that neither scaled up nor down,
	// by reason.
	SkippedCycles *prometheus.CounterVec
	// SoftTaints counts the DeletionCandidateOfClusterAutoscaler taint
	// changes, by action and outcome.
	SoftTaints *prometheus.CounterVec
}

// NewMetrics creates the metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		CycleDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "kelp_autoscaler_decision_duration_seconds",
			Help:    "Time of one autoscaler cycle's scale-up decision: gathering facts and planning, without acting.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		}),
		PodsPlanned: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kelp_autoscaler_pods_planned_total",
			Help: "Unschedulable pods considered by scale-up, by outcome: fits (existing or upcoming node), scale-up, no-scale-up, unsupported, deferred (left for the next cycle by a plan stopped by its budget); and left out: expendable (priority below --expendable-pods-priority-cutoff), preempting (the scheduler nominated a node and preempts lower-priority pods there), too-new (younger than --new-pod-scale-up-delay).",
		}, []string{"outcome"}),
		NodesRequested: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kelp_autoscaler_nodes_requested_total",
			Help: "Nodes added to pools' desired capacity by scale-up, by pool (node group).",
		}, []string{"pool"}),
		Errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kelp_autoscaler_errors_total",
			Help: "Autoscaler errors, by step (refresh, gather, scale-up, terminate, status).",
		}, []string{"step"}),
		Backoffs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kelp_autoscaler_backoffs_total",
			Help: "Pools backed off from scale-up, by pool and reason (launch-failed, insufficient-capacity, quota-exceeded, provision-timeout, scale-up-failed).",
		}, []string{"pool", "reason"}),
		PoolBackedOff: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "kelp_autoscaler_pool_backed_off",
			Help: "1 while a pool is backed off from scale-up.",
		}, []string{"pool"}),
		Unschedulable: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "kelp_autoscaler_unschedulable_pods",
			Help: "Pods the scheduler could not place, seen by the last cycle.",
		}),
		Upcoming: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "kelp_autoscaler_upcoming_nodes",
			Help: "Nodes asked for but not yet Ready, by pool.",
		}, []string{"pool"}),
		Cycles: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kelp_autoscaler_cycles_total",
			Help: "Autoscaler cycles, by trigger (pods, resync).",
		}, []string{"trigger"}),
		ScaleDownBlocked: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kelp_autoscaler_scale_down_blocked_total",
			Help: "Nodes kept by scale-down, counted per cycle, by reason (cluster-autoscaler's names where it has one).",
		}, []string{"reason"}),
		PlanTruncated: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kelp_autoscaler_plan_truncated_total",
			Help: "Scale-up plans stopped by their budget (applied as planned, the rest left for the next cycle), by budget: time (--max-planning-duration) or nodes (--max-nodes-per-scaleup).",
		}, []string{"budget"}),
		ClusterHealthy: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "kelp_autoscaler_cluster_healthy",
			Help: "1 while the cluster is healthy enough to autoscale; 0 while too many nodes are unready (--ok-total-unready-count, --max-total-unready-percentage): no scale-up, no scale-down.",
		}),
		Nodes: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "kelp_autoscaler_nodes",
			Help: "Registered nodes seen by the last cycle, by state: ready, unready, not-started (not Ready yet, younger than --max-node-provision-time), deleting.",
		}, []string{"state"}),
		SkippedCycles: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kelp_autoscaler_skipped_cycles_total",
			Help: "Autoscaler cycles that neither scaled up nor down, by reason (cluster-unhealthy).",
		}, []string{"reason"}),
		SoftTaints: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kelp_autoscaler_soft_taints_total",
			Help: "Changes of the DeletionCandidateOfClusterAutoscaler soft taint on nodes found unneeded, by action (taint, untaint) and outcome (done, error, deferred past --max-bulk-soft-taint-time).",
		}, []string{"action", "outcome"}),
	}
	reg.MustRegister(m.SoftTaints, m.ClusterHealthy, m.Nodes, m.SkippedCycles, m.PlanTruncated, m.ScaleDownBlocked, m.CycleDuration, m.PodsPlanned, m.NodesRequested, m.Errors, m.Backoffs, m.PoolBackedOff,
		m.Unschedulable, m.Upcoming, m.Cycles)
	return m
}
