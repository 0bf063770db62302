package autoscaler

import (
	"errors"
	"fmt"
	"time"
)

// Defaults of [HealthOptions], cluster-autoscaler's.
const (
	DefaultOkTotalUnreadyCount       = 3
	DefaultMaxTotalUnreadyPercentage = 45.0
)

// ReasonClusterUnhealthy is the Warning event on the status ConfigMap while
// too much of the cluster is unready (cluster-autoscaler's reason).
const ReasonClusterUnhealthy = "ClusterUnhealthy"

// HealthOptions bound how much of the cluster may be unready before the
// autoscaler stops acting, as cluster-autoscaler's
// --ok-total-unready-count and --max-total-unready-percentage.
type HealthOptions struct {
	OkTotalUnreadyCount       int
	MaxTotalUnreadyPercentage float64
}

// DefaultHealthOptions returns cluster-autoscaler's defaults.
func DefaultHealthOptions() HealthOptions {
	return HealthOptions{OkTotalUnreadyCount: DefaultOkTotalUnreadyCount, MaxTotalUnreadyPercentage: DefaultMaxTotalUnreadyPercentage}
}

// Validate reports every problem at once, naming the flag.
func (o HealthOptions) Validate() error {
	var errs []error
	if o.OkTotalUnreadyCount < 0 {
		errs = append(errs, fmt.Errorf("ok-total-unready-count %d: must not be negative", o.OkTotalUnreadyCount))
	}
	if !(o.MaxTotalUnreadyPercentage >= 0 && o.MaxTotalUnreadyPercentage <= 100) {
		errs = append(errs, fmt.Errorf("max-total-unready-percentage %v: want a value in [0, 100]", o.MaxTotalUnreadyPercentage))
	}
	return errors.Join(errs...)
}

// NodeReadiness is what [ClusterHealth] needs of one registered Node.
type NodeReadiness struct {
	Name  string
	Ready bool
	// Created is the Node's creation time.
	Created time.Time
	// Deleting: the Node is being deleted or removed by an autoscaler
	// (deletion timestamp, to-be-deleted taint).
	Deleting bool
}

// HealthInput is everything [ClusterHealth] needs.
type HealthInput struct {
	// Nodes are every registered Node of the cluster, in any group or none.
	// Instances without a Node are not counted (cluster-autoscaler counts
	// them as unregistered, neither ready nor unready).
	Nodes []NodeReadiness
	// StartupTime is how long a new Node may stay not Ready while it
	// starts (kelp's --max-node-provision-time, cluster-autoscaler's
	// MaxNodeStartupTime of 15 minutes): such a Node is starting, not
	// unready.
	StartupTime time.Duration
	Options     HealthOptions
	Now         time.Time
}

// Health is the cluster's readiness and the verdict.
type Health struct {
	// Healthy is false while too much of the cluster is unready: the
	// autoscaler neither scales up nor down.
	Healthy bool `json:"healthy"`
	// Nodes counts the registered Nodes; Ready, Unready, NotStarted
	// (younger than the startup time) and Deleting partition them.
	Nodes      int `json:"nodes"`
	Ready      int `json:"ready"`
	Unready    int `json:"unready"`
	NotStarted int `json:"notStarted,omitempty"`
	Deleting   int `json:"deleting,omitempty"`
	// Reason says why the cluster is unhealthy, "" when it is healthy.
	Reason string `json:"reason,omitempty"`
}

// ClusterHealth decides, as cluster-autoscaler's IsClusterHealthy, whether
// the cluster is healthy enough to autoscale: it is not when the unready
// Nodes are more than OkTotalUnreadyCount and more than
// MaxTotalUnreadyPercentage percent of all registered Nodes. A Node that
// is not Ready is starting (not unready) while younger than StartupTime,
// so a scale-up that is still booting never stops the autoscaler; a Node
// being deleted counts as neither. Both conditions must hold, so a small
// cluster with a few broken Nodes keeps autoscaling, and a CNI outage that
// takes most Nodes NotReady stops it before it scales up for the pods
// those Nodes cannot run.
func ClusterHealth(in HealthInput) Health {
	h := Health{Nodes: len(in.Nodes)}
	for _, n := range in.Nodes {
		switch {
		case n.Deleting:
			h.Deleting++
		case n.Ready:
			h.Ready++
		case in.Now.Sub(n.Created) < in.StartupTime:
			h.NotStarted++
		default:
			h.Unready++
		}
	}
	o := in.Options
	limit := o.MaxTotalUnreadyPercentage / 100 * float64(h.Nodes)
	if h.Unready > o.OkTotalUnreadyCount && float64(h.Unready) > limit {
		h.Reason = fmt.Sprintf("%d of %d node(s) unready: more than --ok-total-unready-count=%d and more than --max-total-unready-percentage=%g%%; no scale-up or scale-down until fewer are",
			h.Unready, h.Nodes, o.OkTotalUnreadyCount, o.MaxTotalUnreadyPercentage)
		return h
	}
	h.Healthy = true
	return h
}
