package autoscaler

import (
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/simulator"
)

// Input is everything [PlanScaleUp] needs, resolved by the caller.
type Input struct {
	// Snapshot holds the cluster's nodes and the pods bound to them. It is
	// forked, never mutated; nil means an empty cluster. Forking touches
	// the snapshot's bookkeeping, so the caller must not mutate or fork it
	// concurrently with PlanScaleUp.
	Snapshot *simulator.Snapshot
	// Pending are the pods to place. Pods with the same namespace/name
	// after the first are ignored.
	Pending []simulator.PodInfo
	// Groups are the node groups that may grow, with their current
	// TargetSize, MaxSize and Template.
	Groups []cloud.NodeGroup
	// Upcoming counts, per group ID, the instances launched (counted in
	// TargetSize) that are not yet nodes in Snapshot. They are simulated as
	// nodes of the group's primary instance type already present, so pods
	// that will land on them trigger no second scale-up.
	Upcoming map[string]int
	// DaemonSets run on every new node they tolerate and select; their
	// pods reduce the room a new node offers.
	DaemonSets []*appsv1.DaemonSet
	// Backoff holds, per group ID, a backoff; a group whose backoff ends
	// after Now is not grown.
	Backoff map[string]Backoff
	// Limits are the cluster-wide limits; the zero value is unlimited.
	Limits Limits
	// Expanders choose between options, in order (see [Chain]); nil means
	// least-waste alone.
	Expanders Chain
	// Now is the time of the decision, compared with backoffs.
	Now time.Time
	// Budget bounds the planning work; the zero value is unlimited.
	Budget Budget
	// BalanceSimilarNodeGroups spreads each increase over the groups
	// similar to its group ([SimilarGroups]) that can grow and take its
	// pods, balancing their sizes (cluster-autoscaler's
	// --balance-similar-node-groups).
	BalanceSimilarNodeGroups bool
}

// Backoff keeps a group from growing until Until.
type Backoff struct {
	Until time.Time
	// Reason says why, e.g. the launch error; it is repeated in the plan.
	Reason string
}

// Limits bound the whole cluster: nodes, and the cpu and memory capacity
// of its nodes (existing, upcoming and planned). Zero means no limit.
type Limits struct {
	MaxNodesTotal int
	// MaxCoresTotal is in whole cores of node capacity.
	MaxCoresTotal int64
	// MaxMemoryTotal is in bytes of node capacity (cluster-autoscaler's
	// --memory-total is in GiB: multiply by 1<<30).
	MaxMemoryTotal int64
}

// Plan is the decision of [PlanScaleUp]. Every pending pod appears in
// exactly one of Placed, Increases[].Pods, Unschedulable, Unsupported or
// Deferred.
type Plan struct {
	// Increases to apply, in the order chosen; a group may appear more
	// than once (once per instance type chosen).
	Increases []Increase
	// Placed maps a pod key to the existing or upcoming node it fits on
	// without any scale-up.
	Placed map[string]string
	// Unschedulable maps a pod key to, per group ID, why growing that group
	// does not help it (empty when there are no groups). For a
	// mixed-instance group whose types disagree the reason reads
	// "type: reason; type: reason".
	Unschedulable map[string]map[string]string
	// Unsupported maps a pod key to why the simulator cannot model it; such
	// pods are never planned.
	Unsupported map[string]simulator.Reason
	// Skipped maps a group ID to why it cannot grow (further): backoff, no
	// instance types, duplicate ID, or MaxSize reached (possibly by this
	// plan's own increases).
	Skipped map[string]string
	// Totals are the sums of the increases.
	Totals Totals
	// Truncated is set when the budget stopped planning (see [Budget]):
	// the plan holds the rounds before it, whole, and is to be applied as
	// it stands.
	Truncated *Truncation
	// Deferred are the keys of the pods a truncated plan did not consider,
	// sorted: not known to be unhelpable, they are for the next cycle.
	Deferred []string
}

// Increase grows one group by Delta nodes of one instance type.
type Increase struct {
	Group        string
	InstanceType string
	Delta        int
	// Pods are the keys of the pods planned onto the new nodes, sorted.
	Pods []string
	// Cost is Delta × the instance type's price (USD/hour, 0 if unknown).
	Cost float64
	// Reason explains the choice, for events and status.
	Reason string
}

// Totals sums the increases of a plan.
type Totals struct {
	Nodes int
	Pods  int
	// Cores and Memory (bytes) are node capacity added.
	Cores  int64
	Memory int64
	Cost   float64
}

// templateNode builds the node a new instance of type it in group g would
// register as: the template's labels and taints, the type's capacity and
// allocatable.
func templateNode(g cloud.NodeGroup, it cloud.InstanceType) (*corev1.Node, bool) {
	one := g.Template // ForInstanceType clones every type: give it only this one
	found, ok := one.InstanceType(it.Name)
	if !ok {
		return nil, false
	}
	one.InstanceTypes = []cloud.InstanceType{found}
	t, ok := one.ForInstanceType(it.Name)
	if !ok || len(t.Allocatable) == 0 {
		return nil, false
	}
	n := &corev1.Node{}
	n.Name = g.ID + "-template-" + it.Name
	n.Labels = t.Labels
	n.Spec.Taints = t.Taints
	n.Status.Capacity = t.Capacity
	n.Status.Allocatable = t.Allocatable
	return n, true
}
