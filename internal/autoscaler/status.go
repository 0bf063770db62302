package autoscaler

import (
	"fmt"

	"sigs.k8s.io/yaml"
)

// Status is what the autoscaler saw and did in its last cycle, as the
// status ConfigMap shows it (key "status", YAML): computed by [Report],
// written by the caller.
type Status struct {
	Time              string           `json:"time"`
	Autoscaler        AutoscalerStatus `json:"autoscaler"`
	Pools             []PoolStatus     `json:"pools"`
	UnschedulablePods int              `json:"unschedulablePods"`
	LastDecision      DecisionStatus   `json:"lastDecision"`
	LastScaleUp       *ScaleUpRecord   `json:"lastScaleUp,omitempty"`
	ScaleDown         ScaleDownStatus  `json:"scaleDown"`
	// ClusterHealth is the cluster's readiness; while it is unhealthy the
	// autoscaler neither scales up nor down (its reason says why).
	ClusterHealth *Health `json:"clusterHealth,omitempty"`
}

// AutoscalerStatus is the configuration in effect.
type AutoscalerStatus struct {
	Expanders string `json:"expanders"`
	DryRun    bool   `json:"dryRun"`
}

// PoolStatus is one node group.
type PoolStatus struct {
	Group      string         `json:"group"`
	Pool       string         `json:"pool,omitempty"`
	MinSize    int            `json:"minSize"`
	MaxSize    int            `json:"maxSize"`
	TargetSize int            `json:"targetSize"`
	Ready      int            `json:"ready"`
	Upcoming   int            `json:"upcoming"`
	Backoff    *BackoffStatus `json:"backoff,omitempty"`
}

// BackoffStatus is a running backoff.
type BackoffStatus struct {
	Until    string `json:"until"`
	Reason   string `json:"reason"`
	Failures int    `json:"failures"`
}

// DecisionStatus sums up the last scale-up decision.
type DecisionStatus struct {
	Time        string `json:"time"`
	FitExisting int    `json:"fitExistingOrUpcoming"`
	ScaleUp     int    `json:"scaleUp"`
	NoScaleUp   int    `json:"noScaleUp"`
	Unsupported int    `json:"unsupported"`
	// Ignored counts the unschedulable pods scale-up left out, by reason:
	// expendable (priority below --expendable-pods-priority-cutoff),
	// preempting (waiting for the preemption the scheduler nominated a
	// node for), too-new (younger than --new-pod-scale-up-delay).
	Ignored           map[string]int    `json:"ignoredPods,omitempty"`
	NoScaleUpExamples []PodReason       `json:"noScaleUpExamples,omitempty"`
	Skipped           map[string]string `json:"skippedGroups,omitempty"`
	Terminated        []string          `json:"terminatedInstances,omitempty"`
	// Truncated is set when a planning budget stopped the decision: what
	// was planned is applied, the deferred pods wait for the next cycle.
	Truncated *TruncatedStatus `json:"truncated,omitempty"`
}

// TruncatedStatus is a decision stopped by its budget (Plan.Truncated).
type TruncatedStatus struct {
	// Budget is "time" or "nodes".
	Budget string `json:"budget"`
	Reason string `json:"reason"`
	// Rounds are the rounds planned; DeferredPods the pods left for the
	// next cycle, some of them named in DeferredExamples.
	Rounds           int      `json:"rounds"`
	DeferredPods     int      `json:"deferredPods"`
	DeferredExamples []string `json:"deferredExamples,omitempty"`
}

// PodReason says why a pod did not trigger a scale-up.
type PodReason struct {
	Pod    string `json:"pod"`
	Reason string `json:"reason"`
}

// ScaleUpRecord is the last scale-up.
type ScaleUpRecord struct {
	Time      string            `json:"time"`
	DryRun    bool              `json:"dryRun,omitempty"`
	Increases []IncreaseSummary `json:"increases"`
}

// IncreaseSummary is one increase of a scale-up.
type IncreaseSummary struct {
	Group        string `json:"group"`
	InstanceType string `json:"instanceType"`
	Delta        int    `json:"delta"`
	Pods         int    `json:"pods"`
	Reason       string `json:"reason"`
}

// ScaleDownStatus is the scale-down part of the status.
type ScaleDownStatus struct {
	Enabled bool `json:"enabled"`
	// Skipped says why no node was considered this cycle.
	Skipped  string   `json:"skipped,omitempty"`
	Unneeded []string `json:"unneeded,omitempty"`
	Removing []string `json:"removing,omitempty"`
	// Blocked counts the nodes kept, by reason; BlockedExamples names
	// some with the object at fault.
	Blocked         map[string]int `json:"blocked,omitempty"`
	BlockedExamples []NodeReason   `json:"blockedExamples,omitempty"`
	LastRemoval     string         `json:"lastRemoval,omitempty"`
	LastFailure     string         `json:"lastFailure,omitempty"`
}

// NodeReason says why a node stays.
type NodeReason struct {
	Node   string `json:"node"`
	Reason string `json:"reason"`
}

// Render returns the status as the ConfigMap's "status" value. With
// stable, the times are left out, so that two renderings compare equal
// when only the clock moved.
func (s Status) Render(stable bool) (string, error) {
	if stable {
		s.Time, s.LastDecision.Time = "", ""
	}
	body, err := yaml.Marshal(s)
	if err != nil {
		return "", fmt.Errorf("render status: %w", err)
	}
	return string(body), nil
}
