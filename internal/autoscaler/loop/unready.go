package loop

import (
	"context"

	"github.com/kelp-dev/kelp/internal/autoscaler"
	"github.com/kelp-dev/kelp/internal/cloud"
)

// health decides whether the cluster is healthy enough to autoscale
// (autoscaler.ClusterHealth) and sets the gauges.
func (a *Autoscaler) health(facts clusterFacts) autoscaler.Health {
	h := autoscaler.ClusterHealth(autoscaler.HealthInput{Nodes: facts.readiness, StartupTime: a.o.MaxNodeProvisionTime,
		Options: *a.o.Health, Now: a.d.Clock.Now()})
	m := a.d.Metrics
	m.ClusterHealthy.Set(boolFloat(h.Healthy))
	m.Nodes.WithLabelValues("ready").Set(float64(h.Ready))
	m.Nodes.WithLabelValues("unready").Set(float64(h.Unready))
	m.Nodes.WithLabelValues("not-started").Set(float64(h.NotStarted))
	m.Nodes.WithLabelValues("deleting").Set(float64(h.Deleting))
	return h
}

// unhealthy ends a cycle in which too much of the cluster is unready, as
// cluster-autoscaler does: no scale-up, no scale-down (the nodes seen
// unneeded are forgotten), and the status, a Warning event on the status
// ConfigMap, a log line and the metrics say why. Recovery from failed
// launches has run: instances that never become nodes are still
// terminated.
func (a *Autoscaler) unhealthy(ctx context.Context, groups []cloud.NodeGroup, gf groupFacts, facts clusterFacts, h autoscaler.Health, cyc *Cycle) {
	a.d.Logger.Warn("cluster is unhealthy: not autoscaling", "reason", h.Reason, "nodes", h.Nodes, "unready", h.Unready,
		"okTotalUnreadyCount", a.o.Health.OkTotalUnreadyCount, "maxTotalUnreadyPercentage", a.o.Health.MaxTotalUnreadyPercentage)
	a.d.Metrics.SkippedCycles.WithLabelValues("cluster-unhealthy").Inc()
	if a.sd != nil {
		a.sd.mu.Lock()
		a.sd.unneededSince = nil
		a.sd.mu.Unlock()
		cyc.ScaleDown = autoscaler.ScaleDownStatus{Enabled: true, Skipped: "cluster is unhealthy: " + h.Reason}
	}
	a.report(ctx, groups, gf, facts, autoscaler.Plan{}, &h, cyc)
}
