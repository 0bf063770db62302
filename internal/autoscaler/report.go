package autoscaler

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/simulator"
)

// Event reasons, as cluster-autoscaler's: on pods for scale-up, on nodes
// for scale-down.
const (
	ReasonTriggeredScaleUp  = "TriggeredScaleUp"
	ReasonNotTriggerScaleUp = "NotTriggerScaleUp"
	ReasonScaleDownBlocked  = "ScaleDownBlocked"
	// ReasonScaleUpBudgetExhausted is kelp's own: on the pods a plan
	// stopped by its budget left for the next cycle, and as a Warning on
	// the status ConfigMap.
	ReasonScaleUpBudgetExhausted = "ScaleUpBudgetExhausted"
)

// maxStatusExamples bounds the examples the status lists: the events have
// them all.
const maxStatusExamples = 20

// Event is a Kubernetes Event to emit, computed from a plan.
type Event struct {
	// Kind is "Pod" (Key is namespace/name) or "Node" (Key is its name).
	Kind, Key string
	// Type is corev1.EventTypeNormal or corev1.EventTypeWarning.
	Type, Reason, Message string
}

// Event kinds. An event of KindStatus is on the status ConfigMap (its Key
// is empty).
const (
	KindPod    = "Pod"
	KindNode   = "Node"
	KindStatus = "Status"
)

// ReportInput is what [Report] renders: one cycle's plan and what the
// caller did with it.
type ReportInput struct {
	Plan Plan
	// Groups are the node groups, with the target sizes the cycle began
	// from (lowered by recovery, raised by re-plans).
	Groups []cloud.NodeGroup
	// Applied are the target sizes set by scale-up, by group; BackedOff
	// the reasons of the groups backed off this cycle.
	Applied   map[string]int
	BackedOff map[string]string
	// Terminated are the instances terminated for not becoming nodes.
	Terminated []string
	// Pending counts the unschedulable pods, Ignored among them those
	// scale-up left out, by reason (see [SkipPending]).
	Pending int
	Ignored map[PendingSkip]int
	// Ready and Upcoming count, per group, its Ready nodes and the
	// capacity asked for that is not Ready yet.
	Ready, Upcoming map[string]int
	// Backoffs are the backoffs running at Now; Failures each group's
	// consecutive failures (Backoffs.Failures).
	Backoffs map[string]Backoff
	Failures map[string]int
	// LastScaleUp is the previous status's, kept when this cycle grew
	// nothing.
	LastScaleUp *ScaleUpRecord
	// ScaleDown is scale-down's part ([ReportScaleDown]).
	ScaleDown ScaleDownStatus
	// Health is the cluster's readiness ([ClusterHealth]); nil when not
	// computed. While it is unhealthy, the status ConfigMap gets a
	// Warning (ReasonClusterUnhealthy).
	Health    *Health
	Expanders string
	DryRun    bool
	Now       time.Time
}

// Report computes the status and the pod events of one cycle from its plan,
// never by re-running the simulation. Events come in plan order:
// increases, then unschedulable, unsupported and deferred pods by key,
// then, for a truncated plan, the status ConfigMap's Warning.
func Report(in ReportInput) (Status, []Event) {
	var events []Event
	byGroup := make(map[string]cloud.NodeGroup, len(in.Groups))
	for _, g := range in.Groups {
		byGroup[g.ID] = g
	}
	scaled := 0
	var incs []IncreaseSummary
	for _, inc := range in.Plan.Increases {
		target, applied := in.Applied[inc.Group]
		g := byGroup[inc.Group]
		typ, reason := corev1.EventTypeNormal, ReasonTriggeredScaleUp
		var msg string
		switch {
		case in.DryRun:
			msg = fmt.Sprintf("dry run: pod would trigger scale-up: [{%s %d->%d (max: %d)}]", inc.Group, g.TargetSize, g.TargetSize+inc.Delta, g.MaxSize)
		case applied:
			msg = fmt.Sprintf("pod triggered scale-up: [{%s %d->%d (max: %d)}]", inc.Group, g.TargetSize, target, g.MaxSize)
		default:
			msg = fmt.Sprintf("pod didn't trigger scale-up: %s: %s", inc.Group, in.BackedOff[inc.Group])
			typ, reason = corev1.EventTypeWarning, ReasonNotTriggerScaleUp
		}
		for _, k := range inc.Pods {
			events = append(events, Event{Kind: KindPod, Key: k, Type: typ, Reason: reason, Message: msg})
		}
		if applied || in.DryRun {
			scaled += len(inc.Pods)
			incs = append(incs, IncreaseSummary{inc.Group, inc.InstanceType, inc.Delta, len(inc.Pods), inc.Reason})
		}
	}
	for _, k := range slices.Sorted(maps.Keys(in.Plan.Unschedulable)) {
		events = append(events, Event{Kind: KindPod, Key: k, Type: corev1.EventTypeNormal, Reason: ReasonNotTriggerScaleUp,
			Message: "pod didn't trigger scale-up: " + GroupReasons(in.Plan.Unschedulable[k])})
	}
	for _, k := range slices.Sorted(maps.Keys(in.Plan.Unsupported)) {
		events = append(events, Event{Kind: KindPod, Key: k, Type: corev1.EventTypeWarning, Reason: ReasonNotTriggerScaleUp,
			Message: "pod didn't trigger scale-up: kelp cannot simulate it: " + string(in.Plan.Unsupported[k])})
	}
	now := rfc3339(in.Now)
	st := Status{
		Time:              now,
		Autoscaler:        AutoscalerStatus{Expanders: in.Expanders, DryRun: in.DryRun},
		UnschedulablePods: in.Pending,
		LastScaleUp:       in.LastScaleUp,
		ScaleDown:         in.ScaleDown,
		ClusterHealth:     in.Health,
		LastDecision: DecisionStatus{
			Time: now, FitExisting: len(in.Plan.Placed), ScaleUp: scaled,
			NoScaleUp: len(in.Plan.Unschedulable), Unsupported: len(in.Plan.Unsupported),
			Terminated: in.Terminated, Skipped: in.Plan.Skipped,
		},
	}
	st.LastDecision.Ignored = ignoredCounts(in.Ignored)
	if len(incs) > 0 {
		st.LastScaleUp = &ScaleUpRecord{Time: now, DryRun: in.DryRun, Increases: incs}
	}
	for _, g := range in.Groups {
		ps := PoolStatus{Group: g.ID, Pool: g.Pool, MinSize: g.MinSize, MaxSize: g.MaxSize, TargetSize: g.TargetSize,
			Ready: in.Ready[g.ID], Upcoming: in.Upcoming[g.ID]}
		if b, ok := in.Backoffs[g.ID]; ok {
			ps.Backoff = &BackoffStatus{Until: rfc3339(b.Until), Reason: b.Reason, Failures: in.Failures[g.ID]}
		}
		st.Pools = append(st.Pools, ps)
	}
	for _, k := range slices.Sorted(maps.Keys(in.Plan.Unschedulable))[:min(len(in.Plan.Unschedulable), maxStatusExamples)] {
		st.LastDecision.NoScaleUpExamples = append(st.LastDecision.NoScaleUpExamples, PodReason{Pod: k, Reason: GroupReasons(in.Plan.Unschedulable[k])})
	}
	st.LastDecision.Truncated, events = reportTruncated(in.Plan, events)
	if h := in.Health; h != nil && !h.Healthy {
		events = append(events, Event{Kind: KindStatus, Type: corev1.EventTypeWarning, Reason: ReasonClusterUnhealthy,
			Message: "cluster is unhealthy: " + h.Reason})
	}
	return st, events
}

// ignoredCounts returns the non-zero counts by reason, nil when none is.
func ignoredCounts(in map[PendingSkip]int) map[string]int {
	var out map[string]int
	for why, n := range in {
		if n > 0 {
			if out == nil {
				out = map[string]int{}
			}
			out[string(why)] = n
		}
	}
	return out
}

// reportTruncated renders a plan stopped by its budget: the status part,
// a Normal event on each deferred pod and a Warning on the status
// ConfigMap, appended to events.
func reportTruncated(plan Plan, events []Event) (*TruncatedStatus, []Event) {
	t := plan.Truncated
	if t == nil {
		return nil, events
	}
	st := &TruncatedStatus{Budget: string(t.Budget), Reason: t.Reason, Rounds: t.Rounds, DeferredPods: len(plan.Deferred),
		DeferredExamples: plan.Deferred[:min(len(plan.Deferred), maxStatusExamples)]}
	for _, k := range plan.Deferred {
		events = append(events, Event{Kind: KindPod, Key: k, Type: corev1.EventTypeNormal, Reason: ReasonScaleUpBudgetExhausted,
			Message: "pod not planned in this cycle: " + t.Reason + "; the next cycle plans it"})
	}
	events = append(events, Event{Kind: KindStatus, Type: corev1.EventTypeWarning, Reason: ReasonScaleUpBudgetExhausted,
		Message: fmt.Sprintf("scale-up planning stopped: %s; applied the %d round(s) planned, %d pod(s) left for the next cycle",
			t.Reason, t.Rounds, len(plan.Deferred))})
	return st, events
}

// GroupReasons renders per-group reasons sorted by group: "a: why; b: why".
func GroupReasons(why map[string]string) string {
	if len(why) == 0 {
		return "no node group can grow"
	}
	parts := make([]string, 0, len(why))
	for _, g := range slices.Sorted(maps.Keys(why)) {
		if g == "" {
			parts = append(parts, why[g])
			continue
		}
		parts = append(parts, g+": "+why[g])
	}
	return strings.Join(parts, "; ")
}

// UserBlocker reports whether a node kept for reason r gets an Event: the
// reasons a user can act on (a pod or a setting they control). The others
// (busy, not unneeded long enough, delays, round limits) are routine and
// only in the status.
func UserBlocker(r BlockReason) bool {
	switch r {
	case BlockedScaleDownDisabled, BlockedNotSafeToEvict, BlockedDoNotDisrupt, BlockedNotReplicated,
		BlockedLocalStorage, BlockedKubeSystemPod, BlockedPDB, BlockedNoPlaceToMove:
		return true
	}
	return false
}

// ScaleDownReportInput is what [ReportScaleDown] renders.
type ScaleDownReportInput struct {
	// Skipped says why scale-down did not plan this cycle; Plan is used
	// only when it is "".
	Skipped string
	Plan    ScaleDownPlan
	// Removing are the nodes being removed: in flight before this cycle
	// and started by it.
	Removing []string
	// LastRemoval and LastFailure are the times of the last node removal
	// and failed removal (zero: none); FailedNode and FailureErr describe
	// the failure.
	LastRemoval, LastFailure time.Time
	FailedNode, FailureErr   string
}

// ReportScaleDown computes scale-down's part of the status and the Events
// on the nodes kept for a reason a user can act on ([UserBlocker]).
func ReportScaleDown(in ScaleDownReportInput) (ScaleDownStatus, []Event) {
	st := ScaleDownStatus{Enabled: true, Skipped: in.Skipped}
	st.Removing = slices.Compact(slices.Sorted(slices.Values(in.Removing)))
	if !in.LastRemoval.IsZero() {
		st.LastRemoval = rfc3339(in.LastRemoval)
	}
	if !in.LastFailure.IsZero() {
		st.LastFailure = fmt.Sprintf("%s: %s: %s", rfc3339(in.LastFailure), in.FailedNode, in.FailureErr)
	}
	if in.Skipped != "" {
		return st, nil
	}
	var events []Event
	st.Unneeded = slices.Sorted(maps.Keys(in.Plan.Unneeded))
	st.Blocked = map[string]int{}
	for _, name := range slices.Sorted(maps.Keys(in.Plan.Blocked)) {
		b := in.Plan.Blocked[name]
		st.Blocked[string(b.Reason)]++
		if !UserBlocker(b.Reason) {
			continue
		}
		if len(st.BlockedExamples) < maxStatusExamples {
			st.BlockedExamples = append(st.BlockedExamples, NodeReason{name, b.String()})
		}
		events = append(events, Event{Kind: KindNode, Key: name, Type: corev1.EventTypeNormal, Reason: ReasonScaleDownBlocked,
			Message: "kelp keeps the node: " + b.String()})
	}
	return st, events
}

// ScaleDownSkip says why scale-down must not run this cycle, "" when it
// may: a scale-up in this cycle, or pending pods that wait for upcoming
// nodes (removing capacity now would only grow it again).
func ScaleDownSkip(scaledUp bool, podsOnUpcoming int) string {
	switch {
	case scaledUp:
		return "scaled up in this cycle"
	case podsOnUpcoming > 0:
		return fmt.Sprintf("%d pending pod(s) wait for upcoming nodes", podsOnUpcoming)
	}
	return ""
}

// BindPlaced returns a fork of s with the pending pods the plan placed on
// existing nodes bound there, as the scheduler is about to: scale-down then
// neither removes the room they need nor counts those nodes idle. It also
// counts the pods placed on upcoming nodes. s is returned as is when the
// plan placed nothing.
func BindPlaced(s *simulator.Snapshot, pending []simulator.PodInfo, plan Plan) (*simulator.Snapshot, int) {
	if len(plan.Placed) == 0 {
		return s, 0
	}
	infos := make(map[string]simulator.PodInfo, len(pending))
	for _, info := range pending {
		infos[info.Pod.Namespace+"/"+info.Pod.Name] = info
	}
	fork, onUpcoming := s.Fork(), 0
	for _, key := range slices.Sorted(maps.Keys(plan.Placed)) {
		node := plan.Placed[key]
		if _, real := s.Node(node); !real {
			onUpcoming++
			continue
		}
		if info, ok := infos[key]; ok {
			_ = fork.AddPod(node, simulator.NewPod(info)) // a pod that no longer fits is the scheduler's to place
		}
	}
	return fork, onUpcoming
}

// rfc3339 keeps the status's time format in one place.
func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }
