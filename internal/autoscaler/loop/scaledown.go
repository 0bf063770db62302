package loop

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	policylisters "k8s.io/client-go/listers/policy/v1"

	"github.com/kelp-dev/kelp/internal/autoscaler"
	"github.com/kelp-dev/kelp/internal/autoscaler/drain"
	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/simulator"
)

// EventScaleDownBlocked is the Event on a node that an unneeded-looking
// node stays because of a pod or a setting the user controls.
const EventScaleDownBlocked = "ScaleDownBlocked"

// userBlockers are the reasons a node stays that a user can act on; they
// get an Event on the node. The others (busy, not yet unneeded long
// enough, delays, round limits) are routine and only in the status.
var userBlockers = map[autoscaler.BlockReason]bool{
	autoscaler.BlockedScaleDownDisabled: true, autoscaler.BlockedNotSafeToEvict: true,
	autoscaler.BlockedDoNotDisrupt: true, autoscaler.BlockedNotReplicated: true,
	autoscaler.BlockedLocalStorage: true, autoscaler.BlockedKubeSystemPod: true,
	autoscaler.BlockedPDB: true, autoscaler.BlockedNoPlaceToMove: true,
}

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
	BlockedExamples []nodeReason   `json:"blockedExamples,omitempty"`
	LastRemoval     string         `json:"lastRemoval,omitempty"`
	LastFailure     string         `json:"lastFailure,omitempty"`
}

type nodeReason struct {
	Node   string `json:"node"`
	Reason string `json:"reason"`
}

// runScaleDown plans and starts the removals of one cycle. It returns the
// scale-down status.
func (a *Autoscaler) runScaleDown(ctx context.Context, groups []cloud.NodeGroup, gf groupFacts, facts clusterFacts, skip string) ScaleDownStatus {
	sd := a.sd
	st := ScaleDownStatus{Enabled: sd != nil}
	if sd == nil {
		return st
	}
	st.Removing = slices.Sorted(maps.Keys(sd.drainer.Active()))
	sd.mu.Lock()
	if !sd.lastDelete.IsZero() {
		st.LastRemoval = rfc3339(sd.lastDelete)
	}
	if !sd.lastFailure.IsZero() {
		st.LastFailure = fmt.Sprintf("%s: %s: %s", rfc3339(sd.lastFailure), sd.lastFailureNode, sd.lastErr)
	}
	sd.mu.Unlock()
	if skip != "" {
		st.Skipped = skip
		return st
	}
	pdbs, err := sd.pdbs.List(labels.Everything())
	if err != nil {
		a.d.Metrics.Errors.WithLabelValues("gather").Inc()
		st.Skipped = "list PodDisruptionBudgets: " + err.Error()
		return st
	}
	nodeGroups := map[string]string{}
	for id, nodes := range gf.ready {
		for _, n := range nodes {
			nodeGroups[n.Name] = id
		}
	}
	now := a.d.Clock.Now()
	sd.mu.Lock()
	in := autoscaler.ScaleDownInput{
		Snapshot: facts.snapshot, NodeGroups: nodeGroups, Groups: groups, PodInfos: facts.boundInfos,
		PDBs: pdbs, UnneededSince: maps.Clone(sd.unneededSince), InProgress: sd.drainer.Active(),
		LastScaleUp: a.lastScaleUpAt, LastDelete: sd.lastDelete, LastDeleteFailure: sd.lastFailure,
		Options: sd.opts, Now: now,
	}
	sd.mu.Unlock()
	plan := autoscaler.PlanScaleDown(in)
	sd.mu.Lock()
	sd.unneededSince = plan.Unneeded
	sd.mu.Unlock()

	st.Unneeded = slices.Sorted(maps.Keys(plan.Unneeded))
	st.Blocked = map[string]int{}
	for _, name := range slices.Sorted(maps.Keys(plan.Blocked)) {
		b := plan.Blocked[name]
		st.Blocked[string(b.Reason)]++
		if userBlockers[b.Reason] {
			if len(st.BlockedExamples) < maxStatusExamples {
				st.BlockedExamples = append(st.BlockedExamples, nodeReason{name, b.String()})
			}
			if n, err := a.l.nodes.Get(name); err == nil && a.events.first("node/"+name, b.String(), now) {
				a.d.Recorder.Event(n, corev1.EventTypeNormal, EventScaleDownBlocked, "kelp keeps the node: "+b.String())
			}
		}
		a.d.Metrics.ScaleDownBlocked.WithLabelValues(string(b.Reason)).Inc()
	}
	for _, r := range plan.Remove {
		if a.o.DryRun {
			a.d.Logger.Info("dry run: would remove node", "node", r.Node, "group", r.Group, "empty", r.Empty, "utilization", r.Utilization)
			continue
		}
		a.d.Logger.Info("removing node", "node", r.Node, "group", r.Group, "instance", r.InstanceID, "empty", r.Empty,
			"utilization", r.Utilization, "evict", len(r.Evict))
		st.Removing = append(st.Removing, r.Node)
		req := drain.Request{Node: r.Node, Group: r.Group, InstanceID: r.InstanceID}
		sd.removing.Go(func() { a.remove(ctx, req) })
	}
	slices.Sort(st.Removing)
	st.Removing = slices.Compact(st.Removing)
	return st
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
		if p.Spec.NodeName == "" {
			continue
		}
		if _, ok := s.Node(p.Spec.NodeName); !ok {
			continue
		}
		for _, v := range p.Spec.Volumes {
			if v.PersistentVolumeClaim != nil || v.Ephemeral != nil {
				out[p.Namespace+"/"+p.Name] = l.podInfo(p)
				break
			}
		}
	}
	return out
}
