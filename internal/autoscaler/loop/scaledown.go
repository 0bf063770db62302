package loop

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	policylisters "k8s.io/client-go/listers/policy/v1"

	"github.com/kelp-dev/kelp/internal/autoscaler"
	"github.com/kelp-dev/kelp/internal/autoscaler/drain"
	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/simulator"
)

// EventScaleDownBlocked is the Event on a node that an unneeded-looking
// node stays because of a pod or a setting the user controls
// (autoscaler.UserBlocker).
const EventScaleDownBlocked = autoscaler.ReasonScaleDownBlocked

// scaleDown is the scale-down half of the loop: the state PlanScaleDown
// hands back (when nodes were first seen unneeded) and the removals in
// flight.
type scaleDown struct {
	opts    autoscaler.ScaleDownOptions
	drainer *drain.Drainer
	pdbs    policylisters.PodDisruptionBudgetLister

	mu                       sync.Mutex
	unneededSince            map[string]time.Time
	lastDelete, lastFailure  time.Time
	lastFailureNode, lastErr string
	removing                 sync.WaitGroup
}

// runScaleDown plans and starts the removals of one cycle, unless skip
// says why not (autoscaler.ScaleDownSkip). It returns the scale-down status
// and emits the Events on nodes kept for a reason a user can act on.
func (a *Autoscaler) runScaleDown(ctx context.Context, groups []cloud.NodeGroup, gf groupFacts, facts clusterFacts,
	skip string) (autoscaler.ScaleDownStatus, autoscaler.ScaleDownPlan) {
	sd := a.sd
	if sd == nil {
		return autoscaler.ScaleDownStatus{}, autoscaler.ScaleDownPlan{}
	}
	in := autoscaler.ScaleDownReportInput{Skipped: skip, Removing: slices.Collect(maps.Keys(sd.active()))}
	sd.mu.Lock()
	in.LastRemoval, in.LastFailure, in.FailedNode, in.FailureErr = sd.lastDelete, sd.lastFailure, sd.lastFailureNode, sd.lastErr
	sd.mu.Unlock()
	var pdbs []*policyv1.PodDisruptionBudget
	if skip == "" {
		var err error
		if pdbs, err = sd.pdbs.List(labels.Everything()); err != nil {
			a.d.Metrics.Errors.WithLabelValues("gather").Inc()
			in.Skipped = "list PodDisruptionBudgets: " + err.Error()
		}
	}
	if in.Skipped == "" {
		in.Plan = a.planScaleDown(groups, gf, facts, pdbs)
		if !a.o.DryRun {
			removing := slices.Clone(in.Removing)
			for _, r := range in.Plan.Remove {
				removing = append(removing, r.Node)
			}
			a.softTaints(ctx, in.Plan, removing)
		}
		for _, r := range in.Plan.Remove {
			if a.o.DryRun {
				a.d.Logger.Info("dry run: would remove node", "node", r.Node, "group", r.Group, "empty", r.Empty, "utilization", r.Utilization)
				continue
			}
			a.d.Logger.Info("removing node", "node", r.Node, "group", r.Group, "instance", r.InstanceID, "empty", r.Empty,
				"utilization", r.Utilization, "evict", len(r.Evict))
			in.Removing = append(in.Removing, r.Node)
			req := drain.Request{Node: r.Node, Group: r.Group, InstanceID: r.InstanceID}
			sd.removing.Go(func() { a.remove(ctx, req) })
		}
	}
	st, events := autoscaler.ReportScaleDown(in)
	for reason, n := range st.Blocked {
		a.d.Metrics.ScaleDownBlocked.WithLabelValues(reason).Add(float64(n))
	}
	if a.sim == nil {
		a.emit(events, func(e autoscaler.Event) (runtime.Object, bool) {
			n, err := a.l.nodes.Get(e.Key)
			return n, err == nil
		}, a.d.Clock.Now())
	}
	return st, in.Plan
}

// active returns the nodes being removed; none in a simulation, which
// has no drainer.
func (sd *scaleDown) active() map[string]bool {
	if sd.drainer == nil {
		return map[string]bool{}
	}
	return sd.drainer.Active()
}

// planScaleDown calls autoscaler.PlanScaleDown with the cycle's facts and
// keeps the times nodes were first seen unneeded for the next cycle.
func (a *Autoscaler) planScaleDown(groups []cloud.NodeGroup, gf groupFacts, facts clusterFacts, pdbs []*policyv1.PodDisruptionBudget) autoscaler.ScaleDownPlan {
	sd := a.sd
	nodeGroups := map[string]string{}
	for id, nodes := range gf.ready {
		for _, n := range nodes {
			nodeGroups[n.Name] = id
		}
	}
	snapshot, unready := a.withUnready(facts.snapshot, gf, nodeGroups)
	sd.mu.Lock()
	in := autoscaler.ScaleDownInput{
		Snapshot: snapshot, Unready: unready, NodeGroups: nodeGroups, Groups: groups, PodInfos: facts.boundInfos,
		PDBs: pdbs, UnneededSince: maps.Clone(sd.unneededSince), InProgress: sd.active(),
		LastScaleUp: a.lastScaleUpAt, LastDelete: sd.lastDelete, LastDeleteFailure: sd.lastFailure,
		Options: sd.opts, Now: a.d.Clock.Now(),
	}
	sd.mu.Unlock()
	plan := autoscaler.PlanScaleDown(in)
	sd.mu.Lock()
	sd.unneededSince = plan.Unneeded
	sd.mu.Unlock()
	return plan
}

// withUnready returns a fork of s with the groups' Nodes that are not
// Ready and their pods (expendable ones aside), which scale-down removes
// after --scale-down-unready-time, and their names; it adds them to
// nodeGroups. s itself when there are none.
func (a *Autoscaler) withUnready(s *simulator.Snapshot, gf groupFacts, nodeGroups map[string]string) (*simulator.Snapshot, map[string]bool) {
	if len(gf.unreadyNodes) == 0 {
		return s, nil
	}
	fork, names := s.Fork(), map[string]bool{}
	for id, nodes := range gf.unreadyNodes {
		for _, n := range nodes {
			if err := fork.AddNode(n); err != nil {
				a.d.Logger.Error("snapshot unready node for scale-down", "node", n.Name, "err", err)
				continue
			}
			pods, err := a.l.podsOn(n.Name)
			if err != nil {
				a.d.Logger.Error("list pods of unready node for scale-down", "node", n.Name, "err", err)
				_ = fork.RemoveNode(n.Name)
				continue
			}
			for _, p := range pods {
				if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed ||
					autoscaler.Expendable(p, a.o.Pending.ExpendablePodsPriorityCutoff) {
					continue
				}
				_ = fork.AddPod(n.Name, simulator.NewPod(simulator.PodInfo{Pod: p, VolumesResolved: true}))
			}
			names[n.Name], nodeGroups[n.Name] = true, id
		}
	}
	return fork, names
}

// remove runs one removal and records its outcome for the delays.
func (a *Autoscaler) remove(ctx context.Context, req drain.Request) {
	err := a.sd.drainer.Remove(ctx, req)
	now := a.d.Clock.Now()
	a.sd.mu.Lock()
	defer a.sd.mu.Unlock()
	var de *drain.Error
	switch {
	case err == nil:
		a.sd.lastDelete = now
		delete(a.sd.unneededSince, req.Node)
	case errors.As(err, &de) && errors.Is(de, drain.ErrAlreadyRemoving):
	default:
		if ctx.Err() != nil {
			return // stopping: the next start recovers the node
		}
		a.sd.lastFailure, a.sd.lastFailureNode, a.sd.lastErr = now, req.Node, err.Error()
	}
}

// boundPodInfos resolves the volumes of bound pods that have claims, for
// scale-down's simulation of moving them.
func (l listers) boundPodInfos(s *simulator.Snapshot, pods []*corev1.Pod) map[string]simulator.PodInfo {
	out := map[string]simulator.PodInfo{}
	for _, p := range pods {
		if p.Spec.NodeName == "" || !slices.ContainsFunc(p.Spec.Volumes, func(v corev1.Volume) bool {
			return v.PersistentVolumeClaim != nil || v.Ephemeral != nil
		}) {
			continue
		}
		if _, ok := s.Node(p.Spec.NodeName); ok {
			out[p.Namespace+"/"+p.Name] = l.podInfo(p)
		}
	}
	return out
}
