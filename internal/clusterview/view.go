package clusterview

import (
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/kelp-dev/kelp/internal/autoscaler"
	"github.com/kelp-dev/kelp/internal/cloud"
)

// Input is what a replica knows at Now. Every field but Now may be empty.
type Input struct {
	Now time.Time
	// Nodes are the cluster's Nodes.
	Nodes []*corev1.Node
	// Pods are pods not bound to a node (others are ignored).
	Pods []*corev1.Pod
	// CSRs are the kubelet client CSRs.
	CSRs []*certificatesv1.CertificateSigningRequest
	// Events are kelp's Events (source kelp-controller); others count too
	// when their reason is one kelp's timeline knows.
	Events []*corev1.Event
	// Status is the status ConfigMap's "status" value ("" when there is
	// none: no autoscaler runs, or it has not written one yet).
	Status string
	// Groups, when set, are the cloud's snapshot of the groups: the
	// instances by state. Without it the view counts instances from the
	// status (desired and upcoming).
	Groups []cloud.NodeGroup
	// Leading says whether this replica runs the controllers; nil when
	// the view is not built by a controller replica (`kelp status`).
	Leading *bool
}

// View is the cluster as the web view and `kelp status` show it.
type View struct {
	Time time.Time `json:"time"`
	// Leading says whether the replica that built the view runs the
	// controllers; absent when no replica built it (`kelp status`).
	Leading *bool `json:"leading,omitempty"`
	// Autoscaler is the leader's last cycle, nil without a status.
	Autoscaler *Autoscaler  `json:"autoscaler,omitempty"`
	Pools      []Pool       `json:"pools"`
	Nodes      []Node       `json:"nodes"`
	Pending    []PendingPod `json:"pendingPods"`
	Timeline   []Decision   `json:"timeline"`
	// LastScaleUp and LastScaleDown are the last of each, however many
	// decisions came after (nil when none is known): the status's last
	// scale-up, the newest node removal of the timeline.
	LastScaleUp   *Decision `json:"lastScaleUp,omitempty"`
	LastScaleDown *Decision `json:"lastScaleDown,omitempty"`
	// LatencySeconds is the longest decision latency among the pending
	// pods (see pendingOf), in seconds.
	LatencySeconds float64 `json:"decisionLatencySeconds"`
	// Problems are what could not be read (a status that does not parse).
	Problems []string `json:"problems,omitempty"`
}

// Autoscaler sums up the status the leading autoscaler published.
type Autoscaler struct {
	Time          string `json:"time"`
	Expanders     string `json:"expanders"`
	DryRun        bool   `json:"dryRun,omitempty"`
	Unschedulable int    `json:"unschedulablePods"`
	// Health is "" while the cluster is healthy, else why scaling waits.
	Health       string                     `json:"health,omitempty"`
	LastDecision autoscaler.DecisionStatus  `json:"lastDecision"`
	ScaleDown    autoscaler.ScaleDownStatus `json:"scaleDown"`
}

// Phase is where a node is on its way into or out of the cluster.
type Phase string

// Phases, in the order a node goes through them.
const (
	// PhaseLaunching: the group counts the instance, no CSR nor Node yet.
	PhaseLaunching Phase = "launching"
	// PhaseCSRPending: its client CSR waits for approval.
	PhaseCSRPending Phase = "csr-pending"
	// PhaseJoining: the Node is registered, not Ready yet.
	PhaseJoining Phase = "joining"
	PhaseReady   Phase = "ready"
	// PhaseNotReady: the Node was Ready and is not.
	PhaseNotReady Phase = "not-ready"
	// PhaseDraining: cordoned or tainted for removal.
	PhaseDraining Phase = "draining"
)

// Phases lists every phase in order.
var Phases = []Phase{PhaseLaunching, PhaseCSRPending, PhaseJoining, PhaseReady, PhaseNotReady, PhaseDraining}

// Pool is one node group.
type Pool struct {
	Name    string `json:"name"`
	Group   string `json:"group,omitempty"`
	Min     int    `json:"min"`
	Desired int    `json:"desired"`
	Max     int    `json:"max"`
	// Instances counts the group's instances by state (the cloud's
	// snapshot, else Running = ready and Pending = upcoming of the status).
	Instances map[string]int `json:"instances,omitempty"`
	// Phases counts its nodes (and nodes to be) by phase.
	Phases map[Phase]int `json:"phases"`
	// Backoff says why scale-up skips the pool, "" when it does not.
	Backoff string `json:"backoff,omitempty"`
}

// Node is one node, or a node to be (a CSR not yet approved).
type Node struct {
	Name  string `json:"name"`
	Pool  string `json:"pool,omitempty"`
	Phase Phase  `json:"phase"`
	// AgeSeconds is how long the node is in the cluster (for a CSR: since
	// the request).
	AgeSeconds int64 `json:"ageSeconds"`
	// Reason says more about the phase (the CSR's last condition, the
	// taint that drains it).
	Reason string `json:"reason,omitempty"`
}

// PendingPod is a pod the scheduler could not place.
type PendingPod struct {
	Name string `json:"name"`
	// AgeSeconds is how long it waits (since it became unschedulable).
	AgeSeconds int64 `json:"ageSeconds"`
	// Waiting is the scheduler's message.
	Waiting string `json:"waiting,omitempty"`
	// Decision is kelp's last word on it: the reason and message of its
	// latest TriggeredScaleUp or NotTriggerScaleUp event.
	Decision string `json:"decision,omitempty"`
}

// Build assembles the view of in.
func Build(in Input) View {
	v := View{Time: in.Now, Leading: in.Leading, Nodes: []Node{}, Pending: []PendingPod{}, Timeline: []Decision{}}
	st, problem := parseStatus(in.Status)
	if problem != "" {
		v.Problems = append(v.Problems, problem)
	}
	if st != nil {
		v.Autoscaler = autoscalerOf(st)
	}
	v.Nodes = nodesOf(in)
	v.Pools = poolsOf(in, st, v.Nodes)
	var latency time.Duration
	v.Pending, latency = pendingOf(in)
	v.LatencySeconds = latency.Seconds()
	v.Timeline = timelineOf(in, st)
	if st != nil {
		v.LastScaleUp = lastScaleUp(st)
	}
	v.LastScaleDown = lastScaleDown(v.Timeline, st)
	return v
}
