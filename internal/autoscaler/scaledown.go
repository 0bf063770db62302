// Scale-down planning: [PlanScaleDown] decides which nodes nobody needs and
// which of them to remove now, and says for every other node why it stays.
// (A file comment; the package's is in doc.go.)
//
// A node is unneeded when it belongs to a node group, is not annotated
// scale-down-disabled, its utilization (max of requested/allocatable cpu
// and memory; mirror pods excluded, DaemonSet pods too with
// IgnoreDaemonSetsUtilization, as cluster-autoscaler) is below
// [ScaleDownOptions.UtilizationThreshold] or it has no pod to move, none
// of its pods blocks eviction (see [BlockReason]), and the simulator
// places all its movable pods on the other Ready nodes. It is removed once
// it has been unneeded for UnneededTime (UnreadyTime for a node that is
// not Ready), no scale-down delay is in effect, its group
// stays at or above MinSize, the round's limits allow it (empty nodes in
// bulk up to MaxEmptyBulkDelete, non-empty ones up to MaxDrainParallelism
// drains at once), the PDBs' DisruptionsAllowed cover every node removed
// in the round, and its pods still fit with every node removed this round
// gone: removals are simulated one after the other in one fork, so pods
// never land on another node of the same round.
//
// The caller keeps one piece of state between rounds, the time each node
// was first seen unneeded, and hands back what the plan returns:
//
//	since := map[string]time.Time{}
//	for {
//		in := gather()                 // snapshot, groups, PDBs, times
//		in.UnneededSince = since
//		in.InProgress = drainer.Active()
//		in.Now = clock.Now()
//		plan := autoscaler.PlanScaleDown(in)
//		since = plan.Unneeded          // acknowledge, like raft's Ready
//		for _, r := range plan.Remove {
//			go drainer.Remove(ctx, drain.Request{Node: r.Node, Group: r.Group, InstanceID: r.InstanceID})
//		}
//		report(autoscaler.ReportScaleDown(...)) // status and Events, from plan.Blocked
//	}

package autoscaler

import (
	"errors"
	"fmt"
	"time"

	policyv1 "k8s.io/api/policy/v1"

	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/simulator"
)

// Annotations and taints read by scale-down, shared with cluster-autoscaler
// where it has one.
const (
	// AnnotationSafeToEvict on a pod: "true" lets a pod without a
	// controller, with local storage or in kube-system without a PDB be
	// evicted; "false" keeps its node.
	AnnotationSafeToEvict = "cluster-autoscaler.kubernetes.io/safe-to-evict"
	// AnnotationSafeToEvictLocalVolumes on a pod lists (comma-separated)
	// the local volumes that may be lost, as in cluster-autoscaler.
	AnnotationSafeToEvictLocalVolumes = "cluster-autoscaler.kubernetes.io/safe-to-evict-local-volumes"
	// AnnotationDoNotDisrupt on a pod: "true" keeps its node.
	AnnotationDoNotDisrupt = "kelp.dev/do-not-disrupt"
	// AnnotationScaleDownDisabled on a node: "true" keeps it.
	AnnotationScaleDownDisabled = "cluster-autoscaler.kubernetes.io/scale-down-disabled"
	// AnnotationMirrorPod marks a static pod's mirror; such pods are
	// ignored.
	AnnotationMirrorPod = "kubernetes.io/config.mirror"
)

// ScaleDownOptions are scale-down's tunables, named after
// cluster-autoscaler's flags. Start from [DefaultScaleDownOptions]: the
// zero value does not skip nodes with local storage or system pods.
type ScaleDownOptions struct {
	// UtilizationThreshold: a node whose utilization is below it is a
	// candidate (--scale-down-utilization-threshold).
	UtilizationThreshold float64
	// UnneededTime a node must stay unneeded before it is removed.
	UnneededTime time.Duration
	// DelayAfterAdd, DelayAfterDelete and DelayAfterFailure suspend
	// removals after a scale-up, a node removal and a failed removal.
	DelayAfterAdd, DelayAfterDelete, DelayAfterFailure time.Duration
	// MaxEmptyBulkDelete bounds the empty nodes removed in one round.
	MaxEmptyBulkDelete int
	// MaxDrainParallelism bounds the non-empty nodes drained at once,
	// drains in progress included.
	MaxDrainParallelism int
	// SkipNodesWithLocalStorage keeps nodes with pods using emptyDir
	// (not memory-backed) or hostPath volumes.
	SkipNodesWithLocalStorage bool
	// SkipNodesWithSystemPods keeps nodes with kube-system pods that no PDB
	// covers.
	SkipNodesWithSystemPods bool
	// CandidatesPoolRatio and CandidatesPoolMinCount bound the non-empty
	// nodes whose removal is simulated in one round to
	// max(CandidatesPoolRatio × nodes, CandidatesPoolMinCount), as
	// cluster-autoscaler's --scale-down-candidates-pool-ratio and
	// --scale-down-candidates-pool-min-count: the nodes unneeded in the
	// previous round first, then the others in snapshot order; the rest
	// wait for a later round (BlockedCandidatesPoolFull). Both zero: no
	// bound.
	CandidatesPoolRatio    float64
	CandidatesPoolMinCount int
	// UnreadyTime a node that is not Ready must stay unneeded before it is
	// removed (--scale-down-unready-time), instead of UnneededTime.
	UnreadyTime time.Duration
	// UnreadyEnabled lets nodes that are not Ready be removed
	// (--scale-down-unready-enabled); without it they stay
	// (BlockedUnreadyDisabled).
	UnreadyEnabled bool
	// IgnoreDaemonSetsUtilization leaves DaemonSet pods out of a node's
	// utilization (--ignore-daemonsets-utilization); by default they
	// count, as in cluster-autoscaler. Mirror pods never count.
	IgnoreDaemonSetsUtilization bool
	// MaxBulkSoftTaintCount bounds the DeletionCandidateTaint changes of a
	// cycle (0: no soft taints, and those left are removed);
	// MaxBulkSoftTaintTime bounds the time spent on them.
	MaxBulkSoftTaintCount int
	MaxBulkSoftTaintTime  time.Duration
}

// candidatesPool returns how many non-empty nodes of nodes may be
// simulated in one round, 0 for no bound.
func (o ScaleDownOptions) candidatesPool(nodes int) int {
	if o.CandidatesPoolRatio == 0 && o.CandidatesPoolMinCount == 0 {
		return 0
	}
	return max(int(o.CandidatesPoolRatio*float64(nodes)), o.CandidatesPoolMinCount, 1)
}

// DefaultScaleDownOptions returns cluster-autoscaler's defaults.
func DefaultScaleDownOptions() ScaleDownOptions {
	return ScaleDownOptions{
		UtilizationThreshold:      0.5,
		UnneededTime:              10 * time.Minute,
		DelayAfterAdd:             10 * time.Minute,
		DelayAfterDelete:          10 * time.Second, // cluster-autoscaler: its scan interval
		DelayAfterFailure:         3 * time.Minute,
		MaxEmptyBulkDelete:        10,
		MaxDrainParallelism:       1,
		SkipNodesWithLocalStorage: true,
		SkipNodesWithSystemPods:   true,
		CandidatesPoolRatio:       0.1,
		CandidatesPoolMinCount:    50,
		UnreadyTime:               20 * time.Minute,
		UnreadyEnabled:            true,
		MaxBulkSoftTaintCount:     DefaultMaxBulkSoftTaintCount,
		MaxBulkSoftTaintTime:      DefaultMaxBulkSoftTaintTime,
	}
}

// Validate returns every problem of o at once, naming the field.
func (o ScaleDownOptions) Validate() error {
	var errs []error
	if !(o.UtilizationThreshold > 0 && o.UtilizationThreshold <= 1) {
		errs = append(errs, fmt.Errorf("scale-down utilization threshold %v: want a value in (0, 1]", o.UtilizationThreshold))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"unneeded time", o.UnneededTime}, {"unready time", o.UnreadyTime}, {"delay after add", o.DelayAfterAdd},
		{"delay after delete", o.DelayAfterDelete}, {"delay after failure", o.DelayAfterFailure}} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("scale-down %s %v: must not be negative", d.name, d.v))
		}
	}
	if o.MaxEmptyBulkDelete < 0 {
		errs = append(errs, fmt.Errorf("max empty bulk delete %d: must not be negative", o.MaxEmptyBulkDelete))
	}
	if !(o.CandidatesPoolRatio >= 0 && o.CandidatesPoolRatio <= 1) {
		errs = append(errs, fmt.Errorf("scale-down candidates pool ratio %v: want a value in [0, 1]", o.CandidatesPoolRatio))
	}
	if o.CandidatesPoolMinCount < 0 {
		errs = append(errs, fmt.Errorf("scale-down candidates pool min count %d: must not be negative", o.CandidatesPoolMinCount))
	}
	if o.MaxBulkSoftTaintCount < 0 || o.MaxBulkSoftTaintTime < 0 {
		errs = append(errs, fmt.Errorf("max bulk soft taint count %d and time %s: must not be negative", o.MaxBulkSoftTaintCount, o.MaxBulkSoftTaintTime))
	}
	if o.MaxDrainParallelism < 0 {
		errs = append(errs, fmt.Errorf("max drain parallelism %d: must not be negative", o.MaxDrainParallelism))
	}
	return errors.Join(errs...)
}

// ScaleDownInput is everything [PlanScaleDown] needs, resolved by the
// caller. PlanScaleDown never mutates it.
type ScaleDownInput struct {
	// Snapshot holds the cluster's nodes and the pods bound to them (the
	// same snapshot scale-up plans on). It is forked, never mutated; the
	// caller must not mutate or fork it concurrently. Template nodes are
	// ignored; nil is an empty cluster.
	Snapshot *simulator.Snapshot
	// NodeGroups maps a node name to its group's ID. Nodes without an
	// entry (or whose group is not in Groups, or whose spec.providerID is
	// not one of the group's instances) are never removed.
	NodeGroups map[string]string
	// Groups are the node groups, with MinSize, TargetSize and Instances.
	Groups []cloud.NodeGroup
	// PodInfos holds, by pod key ("namespace/name"), the facts the caller
	// resolved for bound pods (RequiredZones of their volumes). A pod
	// without an entry moves without zonal constraint, and one with
	// persistent volume claims then cannot move.
	PodInfos map[string]simulator.PodInfo
	// PDBs with their status.DisruptionsAllowed, as last observed.
	PDBs []*policyv1.PodDisruptionBudget
	// UnneededSince is the previous plan's Unneeded (nil at first).
	UnneededSince map[string]time.Time
	// Unready are the nodes of Snapshot that are not Ready: candidates
	// once unneeded for Options.UnreadyTime (not UnneededTime), never
	// destinations of other nodes' pods.
	Unready map[string]bool
	// InProgress are the nodes being removed now (drains in flight): never
	// candidates nor destinations; they count against their group's room
	// and MaxDrainParallelism.
	InProgress map[string]bool
	// LastScaleUp, LastDelete and LastDeleteFailure are the times of the
	// last group increase, node removal and failed removal (zero: never).
	LastScaleUp, LastDelete, LastDeleteFailure time.Time
	Options                                    ScaleDownOptions
	// Now is the time of the decision.
	Now time.Time
}

// ScaleDownPlan is the decision of [PlanScaleDown]. Every node of the
// snapshot (template nodes aside) is in exactly one of Remove and Blocked.
type ScaleDownPlan struct {
	// Unneeded maps every unneeded node to when it was first seen unneeded;
	// the caller passes it back as the next input's UnneededSince. Nodes
	// removed now are in it too (a failed removal keeps its time).
	Unneeded map[string]time.Time
	// Remove lists the nodes to remove now, empty ones first.
	Remove []NodeRemoval
	// Blocked maps every other node to why it stays.
	Blocked map[string]Blocker
}

// NodeRemoval is one node to remove.
type NodeRemoval struct {
	Node       string
	Group      string
	InstanceID string
	// Empty: no pods to evict (DaemonSet and mirror pods aside).
	Empty bool
	// Evict are the keys of the pods to evict, in snapshot order.
	Evict []string
	// Utilization is max(cpu, memory) requested / allocatable.
	Utilization float64
}

// Blocker says why a node stays.
type Blocker struct {
	Reason BlockReason
	// Detail names the object at fault (a pod or PDB key) or the numbers
	// behind the reason; "" when the reason says it all.
	Detail string
}

// String renders the blocker for events and status.
func (b Blocker) String() string {
	if b.Detail == "" {
		return string(b.Reason)
	}
	return string(b.Reason) + ": " + b.Detail
}

// BlockReason is a typed reason a node is not removed. Values are
// CamelCase, cluster-autoscaler's names where it has one, for events and
// the status ConfigMap.
type BlockReason string

// Reasons a node stays, roughly in the order they are checked.
const (
	// BlockedInProgress: the node is being removed already.
	BlockedInProgress BlockReason = "CurrentlyBeingDeleted"
	// BlockedNotAutoscaled: the node belongs to no known group, or its
	// instance is not among the group's.
	BlockedNotAutoscaled BlockReason = "NotAutoscaled"
	// BlockedScaleDownDisabled: the node is annotated
	// cluster-autoscaler.kubernetes.io/scale-down-disabled=true.
	BlockedScaleDownDisabled BlockReason = "ScaleDownDisabledAnnotation"
	// BlockedNotUnderutilized: utilization at or above the threshold.
	BlockedNotUnderutilized BlockReason = "NotUnderutilized"
	// BlockedNotSafeToEvict: a pod is annotated safe-to-evict=false.
	BlockedNotSafeToEvict BlockReason = "NotSafeToEvictAnnotation"
	// BlockedDoNotDisrupt: a pod is annotated kelp.dev/do-not-disrupt=true.
	BlockedDoNotDisrupt BlockReason = "DoNotDisruptAnnotation"
	// BlockedNotReplicated: a pod has no controller owner.
	BlockedNotReplicated BlockReason = "NotReplicated"
	// BlockedLocalStorage: a pod has an emptyDir or hostPath volume.
	BlockedLocalStorage BlockReason = "LocalStorageRequested"
	// BlockedKubeSystemPod: a kube-system pod no PDB covers.
	BlockedKubeSystemPod BlockReason = "UnmovableKubeSystemPod"
	// BlockedPDB: evicting the node's pods would violate a PDB (Detail
	// names it), or a pod is covered by more than one PDB (the Eviction API
	// refuses those).
	BlockedPDB BlockReason = "NotEnoughPdb"
	// BlockedNoPlaceToMove: a pod fits on no remaining node.
	BlockedNoPlaceToMove BlockReason = "NoPlaceToMovePods"
	// BlockedCandidatesPoolFull: the node is underutilized, but the round
	// simulated as many removals as its candidates pool allows
	// (ScaleDownOptions.CandidatesPoolRatio); a later round evaluates it.
	BlockedCandidatesPoolFull BlockReason = "CandidatesPoolFull"
	// BlockedDelayAfterAdd, -Delete, -Failure: a scale-down delay is in
	// effect (Detail says until when).
	BlockedDelayAfterAdd     BlockReason = "ScaleDownDelayAfterAdd"
	BlockedDelayAfterDelete  BlockReason = "ScaleDownDelayAfterDelete"
	BlockedDelayAfterFailure BlockReason = "ScaleDownDelayAfterFailure"
	// BlockedMinSize: the group would go below MinSize.
	BlockedMinSize BlockReason = "NodeGroupMinSizeReached"
	// BlockedNotUnneededLongEnough: unneeded for less than UnneededTime.
	BlockedNotUnneededLongEnough BlockReason = "NotUnneededLongEnough"
	// BlockedNotUnreadyLongEnough: a node that is not Ready, unneeded for
	// less than UnreadyTime.
	BlockedNotUnreadyLongEnough BlockReason = "NotUnreadyLongEnough"
	// BlockedUnreadyDisabled: the node is not Ready and UnreadyEnabled is
	// off.
	BlockedUnreadyDisabled BlockReason = "ScaleDownUnreadyDisabled"
	// BlockedMaxEmptyBulkDelete and BlockedMaxDrainParallelism: the
	// round's limit is reached; the node is removed in a later round.
	BlockedMaxEmptyBulkDelete  BlockReason = "MaxEmptyBulkDeleteReached"
	BlockedMaxDrainParallelism BlockReason = "MaxDrainParallelismReached"
)

// PlanScaleDown decides which nodes are unneeded and which to remove now.
// It never mutates the input; the same input gives the same plan.
func PlanScaleDown(in ScaleDownInput) ScaleDownPlan {
	p := newScaleDownPlanner(in)
	cands := p.findUnneeded()
	p.selectRemovals(cands)
	return p.plan
}
