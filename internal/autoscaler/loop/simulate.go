package loop

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	storagev1 "k8s.io/api/storage/v1"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	policylisters "k8s.io/client-go/listers/policy/v1"
	storagelisters "k8s.io/client-go/listers/storage/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"

	"github.com/kelp-dev/kelp/internal/autoscaler"
	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/simulator"
)

// Objects are a cluster's objects in memory, what [Simulate] plans from:
// read from files of `kubectl get -o json`, or listed once from an API
// server. ConfigMaps need only hold the priority expander's.
type Objects struct {
	Nodes          []*corev1.Node
	Pods           []*corev1.Pod
	Namespaces     []*corev1.Namespace
	DaemonSets     []*appsv1.DaemonSet
	PDBs           []*policyv1.PodDisruptionBudget
	PVs            []*corev1.PersistentVolume
	PVCs           []*corev1.PersistentVolumeClaim
	StorageClasses []*storagev1.StorageClass
	CSINodes       []*storagev1.CSINode
	ConfigMaps     []*corev1.ConfigMap
}

// SimulateDeps are what a simulation reads. Nothing in them is written to.
type SimulateDeps struct {
	Objects Objects
	// Groups are read once (Refresh, then NodeGroups). The simulation never
	// changes a group: its scaler refuses every call.
	Groups cloud.GroupLister
	Logger *slog.Logger
	Clock  clock.Clock
	Rand   *rand.Rand
}

// Simulation is what one simulated cycle planned from its objects.
type Simulation struct {
	// Cycle is the cycle as the controller would run it, with the
	// scale-up plan in Cycle.Plan (Cycle.Applied stays empty: nothing is
	// applied) and the scale-down plan in Cycle.ScaleDownPlan.
	Cycle Cycle
	// Groups are the node groups planned with, their templates refined by
	// their Ready nodes (autoscaler.TemplateFromNodes).
	Groups []cloud.NodeGroup
	// UnneededSince is the time every node was taken to have been
	// unneeded since: Now less the longest of the unneeded and unready
	// times, so that the plan shows what the settings do once that time
	// has passed, not the first cycle's wait.
	UnneededSince time.Time
	// Now is the time of the simulated cycle.
	Now time.Time

	a *Autoscaler
}

// simState is what a simulation keeps from its cycle, for WhatIf, and
// the objects it reads ConfigMaps from.
type simState struct {
	configMaps corelisters.ConfigMapLister
	groups     []cloud.NodeGroup
	gf         groupFacts
	facts      clusterFacts
}

// configMap returns the simulation's ConfigMap namespace/name, a NotFound
// error when its objects do not hold it.
func (s *simState) configMap(namespace, name string) (*corev1.ConfigMap, error) {
	return s.configMaps.ConfigMaps(namespace).Get(name)
}

// ErrSimulation is the error of every size change a simulation is asked
// for: it changes nothing.
var ErrSimulation = errors.New("simulation: no cloud change is made")

// refusingScaler is the simulation's cloud.Scaler.
type refusingScaler struct{}

func (refusingScaler) SetTargetSize(_ context.Context, group string, n int) error {
	return fmt.Errorf("set %s to %d: %w", group, n, ErrSimulation)
}

func (refusingScaler) DeleteInstances(_ context.Context, group string, ids []string) error {
	return fmt.Errorf("delete %v from %s: %w", ids, group, ErrSimulation)
}

// Simulate runs one cycle of the autoscaler over objs and groups, as the
// controller's cycle would, with o (DryRun forced), changing nothing:
// the same gathering, scale-up and scale-down planning and report, but no
// size change, no node removal, no soft taint, no status write and no
// Event. A node found unneeded counts as unneeded for longer than the
// unneeded time (Simulation.UnneededSince).
func Simulate(ctx context.Context, o Options, d SimulateDeps) (Simulation, error) {
	o.DryRun = true
	o = o.WithDefaults()
	if err := o.Validate(); err != nil {
		return Simulation{}, fmt.Errorf("invalid autoscaler options: %w", err)
	}
	if d.Groups == nil {
		return Simulation{}, errors.New("simulate: groups are required")
	}
	l, pdbs, cms, err := objectListers(d.Objects)
	if err != nil {
		return Simulation{}, err
	}
	a := newAutoscaler(o, Deps{Groups: d.Groups, Scaler: refusingScaler{}, Metrics: NewMetrics(prometheus.NewRegistry()),
		Logger: d.Logger, Clock: d.Clock, Rand: d.Rand}, l)
	a.sim = &simState{configMaps: cms}
	now := a.d.Clock.Now()
	since := now.Add(-max(o.ScaleDown.UnneededTime, o.ScaleDown.UnreadyTime))
	if o.ScaleDownEnabled {
		a.sd = &scaleDown{opts: o.ScaleDown, pdbs: pdbs, unneededSince: map[string]time.Time{}}
		for _, n := range d.Objects.Nodes {
			a.sd.unneededSince[n.Name] = since
		}
	}
	cyc, err := a.RunOnce(ctx)
	if err != nil {
		return Simulation{}, fmt.Errorf("simulate a cycle: %w", err)
	}
	return Simulation{Cycle: cyc, Groups: a.sim.groups, UnneededSince: since, Now: now, a: a}, nil
}

// WhatIf plans pod alone (bound or not, pending or not: as if
// unschedulable now) once per node group, with only that group able to
// grow, on the simulation's snapshot. It returns each group's plan, by
// group ID; a pod that fits an existing or upcoming node is Placed in
// every plan.
func (s Simulation) WhatIf(ctx context.Context, pod *corev1.Pod) map[string]autoscaler.Plan {
	p := pod.DeepCopy()
	p.Spec.NodeName = ""
	return s.plans(ctx, []simulator.PodInfo{s.a.l.podInfo(p)}, pod.Spec.NodeName)
}

// Alternatives plans the pods of keys (pending in the simulation) once per
// node group, with only that group able to grow: what each group would do
// for them, by group ID.
func (s Simulation) Alternatives(ctx context.Context, keys []string) map[string]autoscaler.Plan {
	want := make(map[string]bool, len(keys))
	for _, k := range keys {
		want[k] = true
	}
	var pods []simulator.PodInfo
	for _, info := range s.a.sim.facts.pending {
		if want[info.Pod.Namespace+"/"+info.Pod.Name] {
			pods = append(pods, info)
		}
	}
	return s.plans(ctx, pods, "")
}

// plans plans pods with each group alone. A single pod bound to a node
// of the snapshot (boundTo) is taken out of a fork first, so that it does
// not count against itself.
func (s Simulation) plans(ctx context.Context, pods []simulator.PodInfo, boundTo string) map[string]autoscaler.Plan {
	st := s.a.sim
	if st.facts.snapshot == nil {
		return nil
	}
	in := s.a.scaleUpInput(ctx, st.groups, st.gf, st.facts)
	in.Pending, in.Now, in.Backoff = pods, s.Now, s.a.backoffs.Active(s.Now)
	if _, ok := in.Snapshot.Node(boundTo); ok && boundTo != "" && len(pods) == 1 {
		in.Snapshot = in.Snapshot.Fork()
		_ = in.Snapshot.RemovePod(boundTo, pods[0].Pod.Namespace+"/"+pods[0].Pod.Name)
	}
	all := in.Groups
	out := make(map[string]autoscaler.Plan, len(all))
	for _, g := range all {
		in.Groups = []cloud.NodeGroup{g}
		out[g.ID] = autoscaler.PlanScaleUp(in)
	}
	return out
}

// objectListers indexes objs and returns the listers a cycle reads, the
// PodDisruptionBudgets' and the ConfigMaps'.
func objectListers(objs Objects) (listers, policylisters.PodDisruptionBudgetLister, corelisters.ConfigMapLister, error) {
	var errs []error
	index := func(kind string, extra cache.Indexers, items ...any) cache.Indexer {
		idx := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
		if err := idx.AddIndexers(extra); err != nil {
			errs = append(errs, fmt.Errorf("index %s: %w", kind, err))
		}
		for _, o := range items {
			if err := idx.Add(o); err != nil {
				errs = append(errs, fmt.Errorf("index %s: %w", kind, err))
			}
		}
		return idx
	}
	l := listers{
		nodes:          corelisters.NewNodeLister(index("nodes", nil, anys(objs.Nodes)...)),
		pods:           index("pods", cache.Indexers{PodsByNode: podsByNode}, anys(objs.Pods)...),
		namespaces:     corelisters.NewNamespaceLister(index("namespaces", nil, anys(objs.Namespaces)...)),
		daemonSets:     appslisters.NewDaemonSetLister(index("daemonsets", nil, anys(objs.DaemonSets)...)),
		pvcs:           corelisters.NewPersistentVolumeClaimLister(index("persistentvolumeclaims", nil, anys(objs.PVCs)...)),
		pvs:            corelisters.NewPersistentVolumeLister(index("persistentvolumes", nil, anys(objs.PVs)...)),
		csiNodes:       storagelisters.NewCSINodeLister(index("csinodes", nil, anys(objs.CSINodes)...)),
		storageClasses: storagelisters.NewStorageClassLister(index("storageclasses", nil, anys(objs.StorageClasses)...)),
	}
	pdbs := policylisters.NewPodDisruptionBudgetLister(index("poddisruptionbudgets", nil, anys(objs.PDBs)...))
	cms := corelisters.NewConfigMapLister(index("configmaps", nil, anys(objs.ConfigMaps)...))
	return l, pdbs, cms, errors.Join(errs...)
}

func anys[T any](items []T) []any {
	out := make([]any, len(items))
	for i, v := range items {
		out[i] = v
	}
	return out
}
