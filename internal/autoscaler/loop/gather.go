package loop

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/sets"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	storagelisters "k8s.io/client-go/listers/storage/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/kelp-dev/kelp/internal/autoscaler"
	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/simulator"
)

// listers are the informer caches a cycle reads.
type listers struct {
	nodes corelisters.NodeLister
	// pods is the pod informer's cache, indexed by node (PodsByNode).
	pods       cache.Indexer
	namespaces corelisters.NamespaceLister
	daemonSets appslisters.DaemonSetLister
	pvcs       corelisters.PersistentVolumeClaimLister
	pvs        corelisters.PersistentVolumeLister
	// csiNodes and storageClasses resolve volume attach limits and the
	// drivers of claims; nil in tests that do not need them.
	csiNodes       storagelisters.CSINodeLister
	storageClasses storagelisters.StorageClassLister
}

// clusterFacts is what one cycle knows about the cluster.
type clusterFacts struct {
	snapshot   *simulator.Snapshot
	pending    []simulator.PodInfo
	daemonSets []*appsv1.DaemonSet
	// readyNodes are the Ready nodes by providerID.
	readyNodes map[string]*corev1.Node
	// nodes are every node by providerID, Ready or not.
	nodes map[string]*corev1.Node
	// skippedNodes counts nodes left out of the snapshot (not Ready).
	skippedNodes int
	// readiness is every registered node's, for autoscaler.ClusterHealth.
	readiness []autoscaler.NodeReadiness
	// boundInfos are the resolved volumes of bound pods with claims.
	boundInfos map[string]simulator.PodInfo
	// skipped counts the unschedulable pods scale-up leaves out, by
	// reason (autoscaler.SkipPending); expendable counts the bound pods
	// left out of the snapshot.
	skipped    map[autoscaler.PendingSkip]int
	expendable int
}

// gatherCluster builds the snapshot of Ready nodes and their pods, and lists
// the unschedulable pods with their volumes resolved. Bound pods are
// compiled through pc, which then holds this cycle's pods. Expendable
// pods (below o's priority cutoff) are left out of the snapshot, as
// cluster-autoscaler does: they are preempted or evicted, so they neither
// take room from real pods nor keep a node.
func (l listers) gatherCluster(pc *podCache, o autoscaler.PendingOptions, now time.Time) (clusterFacts, error) {
	f := clusterFacts{snapshot: simulator.NewSnapshot(), readyNodes: map[string]*corev1.Node{}, nodes: map[string]*corev1.Node{},
		skipped: map[autoscaler.PendingSkip]int{}}
	nodes, err := l.nodes.List(labels.Everything())
	if err != nil {
		return f, fmt.Errorf("list nodes: %w", err)
	}
	for _, n := range nodes {
		if n.Spec.ProviderID != "" {
			f.nodes[n.Spec.ProviderID] = n
		}
		f.readiness = append(f.readiness, autoscaler.NodeReadiness{Name: n.Name, Ready: nodeReady(n), Created: n.CreationTimestamp.Time,
			Deleting: deleting(n)})
		if !nodeReady(n) || n.DeletionTimestamp != nil {
			f.skippedNodes++
			continue
		}
		n = l.withVolumeLimits(withoutStartupTaints(n), pc.limits)
		if err := f.snapshot.AddNode(n); err != nil {
			return f, fmt.Errorf("snapshot node %s: %w", n.Name, err)
		}
		if n.Spec.ProviderID != "" {
			f.readyNodes[n.Spec.ProviderID] = n
		}
	}
	namespaces, err := l.namespaces.List(labels.Everything())
	if err != nil {
		return f, fmt.Errorf("list namespaces: %w", err)
	}
	for _, ns := range namespaces {
		f.snapshot.SetNamespaceLabels(ns.Name, ns.Labels)
	}
	// Only the pods of the snapshot's nodes and the unbound ones are read.
	defer pc.next()
	var bound []*corev1.Pod
	for _, name := range f.snapshot.NodeNames() {
		pods, err := l.podsOn(name)
		if err != nil {
			return f, err
		}
		for _, p := range pods {
			if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
				continue
			}
			if autoscaler.Expendable(p, o.ExpendablePodsPriorityCutoff) {
				f.expendable++
				continue
			}
			if err := f.snapshot.AddPod(name, pc.compiled(p, l.podInfo)); err != nil {
				return f, fmt.Errorf("snapshot pod %s/%s: %w", p.Namespace, p.Name, err)
			}
			bound = append(bound, p)
		}
	}
	if err := l.gatherPending(&f, nodes, o, now); err != nil {
		return f, err
	}
	f.boundInfos = l.boundPodInfos(f.snapshot, bound)
	if f.daemonSets, err = l.daemonSets.List(labels.Everything()); err != nil {
		return f, fmt.Errorf("list daemonsets: %w", err)
	}
	return f, nil
}

// gatherPending lists the unschedulable pods scale-up considers, with
// their volumes resolved, and counts those it leaves out
// (autoscaler.SkipPending). A pod waiting for the preemption of
// lower-priority pods on the node the scheduler nominated is placed there
// in the snapshot, as cluster-autoscaler does, so scale-down counts it.
func (l listers) gatherPending(f *clusterFacts, nodes []*corev1.Node, o autoscaler.PendingOptions, now time.Time) error {
	unbound, err := l.podsOn("")
	if err != nil {
		return err
	}
	names := make(map[string]bool, len(nodes))
	for _, n := range nodes {
		names[n.Name] = true
	}
	exists := func(name string) bool { return names[name] }
	for _, p := range unbound {
		if !Unschedulable(p) || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		skip := autoscaler.SkipPending(p, exists, o, now)
		if skip == "" {
			f.pending = append(f.pending, l.podInfo(p))
			continue
		}
		f.skipped[skip]++
		if node := p.Status.NominatedNodeName; skip == autoscaler.SkipPreempting {
			if _, ok := f.snapshot.Node(node); ok {
				bound := p.DeepCopy()
				bound.Spec.NodeName = node
				_ = f.snapshot.AddPod(node, simulator.NewPod(simulator.PodInfo{Pod: bound, VolumesResolved: true}))
			}
		}
	}
	return nil
}

// podCache holds the bound pods compiled in the last cycle, by informer
// object. An informer replaces a cached object when it changes and never
// mutates it (nor does kelp: cached objects are read-only), so the same
// pointer is the same pod, and its compiled form (immutable, shareable
// between snapshots) is reused instead of compiled again every cycle.
type podCache struct {
	prev, cur map[*corev1.Pod]*simulator.Pod
	// limits are the nodes copied with their attach limits, likewise.
	limits *limitCache
}

func newPodCache() *podCache {
	return &podCache{prev: map[*corev1.Pod]*simulator.Pod{}, cur: map[*corev1.Pod]*simulator.Pod{}, limits: newLimitCache()}
}

// compiled returns p, bound, compiled: from the last cycle when it was
// seen there. A pod with claims is compiled with its volumes (resolve),
// which count against its node's attach limits.
func (c *podCache) compiled(p *corev1.Pod, resolve func(*corev1.Pod) simulator.PodInfo) *simulator.Pod {
	q, ok := c.cur[p]
	if !ok {
		if q, ok = c.prev[p]; !ok {
			info := simulator.PodInfo{Pod: p, VolumesResolved: true}
			if hasClaims(p) {
				info = resolve(p)
				info.RequiredZones, info.VolumesResolved = nil, true // bound: placed already
			}
			q = simulator.NewPod(info)
		}
		c.cur[p] = q
	}
	return q
}

// next ends a cycle: the pods and nodes not seen in it (deleted or
// replaced) are forgotten.
func (c *podCache) next() {
	c.prev, c.cur = c.cur, make(map[*corev1.Pod]*simulator.Pod, len(c.cur))
	c.limits.next()
}

// hasClaims reports whether the pod has persistent volume claims or
// generic ephemeral volumes.
func hasClaims(p *corev1.Pod) bool {
	return slices.ContainsFunc(p.Spec.Volumes, func(v corev1.Volume) bool { return v.PersistentVolumeClaim != nil || v.Ephemeral != nil })
}

// PodsByNode is the name of the pod informer's index by spec.nodeName
// ("" for pods not bound yet).
const PodsByNode = "kelp.dev/pods-by-node"

// podsByNode indexes a pod by its spec.nodeName.
func podsByNode(obj any) ([]string, error) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return nil, nil
	}
	return []string{p.Spec.NodeName}, nil
}

// podsOn returns the pods bound to node ("": the unbound ones), sorted by
// namespace/name.
func (l listers) podsOn(node string) ([]*corev1.Pod, error) {
	objs, err := l.pods.ByIndex(PodsByNode, node)
	if err != nil {
		return nil, fmt.Errorf("list pods of node %q: %w", node, err)
	}
	out := make([]*corev1.Pod, 0, len(objs))
	for _, o := range objs {
		if p, ok := o.(*corev1.Pod); ok {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b *corev1.Pod) int {
		return cmp.Or(strings.Compare(a.Namespace, b.Namespace), strings.Compare(a.Name, b.Name))
	})
	return out, nil
}

// startupTaints are put on a node until a controller has seen it Ready or
// initialized; a Ready node carrying one is about to lose it.
var startupTaints = map[string]bool{
	corev1.TaintNodeNotReady: true, corev1.TaintNodeUnreachable: true,
	corev1.TaintNodeNetworkUnavailable: true, "node.cloudprovider.kubernetes.io/uninitialized": true,
}

// withoutStartupTaints returns a Ready node without its startup taints
// (a copy when it had some). Otherwise a node that just turned Ready would
// look full, neither upcoming nor usable, and pods would scale up twice.
func withoutStartupTaints(n *corev1.Node) *corev1.Node {
	if !slices.ContainsFunc(n.Spec.Taints, func(t corev1.Taint) bool { return startupTaints[t.Key] }) {
		return n
	}
	n = n.DeepCopy()
	n.Spec.Taints = slices.DeleteFunc(n.Spec.Taints, func(t corev1.Taint) bool { return startupTaints[t.Key] })
	return n
}

// Unschedulable reports whether the scheduler gave up on pod for now: not
// bound, not being deleted, condition PodScheduled=False with reason
// Unschedulable.
func Unschedulable(p *corev1.Pod) bool {
	if p.Spec.NodeName != "" || p.DeletionTimestamp != nil {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled {
			return c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable
		}
	}
	return false
}

// deleting reports whether the node is being deleted or removed by an
// autoscaler (a to-be-deleted taint).
func deleting(n *corev1.Node) bool {
	return n.DeletionTimestamp != nil || slices.ContainsFunc(n.Spec.Taints, func(t corev1.Taint) bool {
		return t.Key == autoscaler.ToBeDeletedTaint || t.Key == autoscaler.CAToBeDeletedTaint
	})
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// podInfo resolves the zones a pod's volumes bind it to: a claim bound to
// a PersistentVolume with zone node affinity limits the pod to those zones;
// an unbound claim (WaitForFirstConsumer) or an ephemeral volume is
// provisioned where the pod lands. A missing claim or volume leaves the pod
// unresolved, which the simulator reports as unsupported. It also resolves
// the CSI volumes the pod attaches, for the nodes' attach limits: a bound
// claim's PersistentVolume, or the StorageClass's provisioner of a claim
// or ephemeral volume not provisioned yet.
func (l listers) podInfo(p *corev1.Pod) simulator.PodInfo {
	info := simulator.PodInfo{Pod: p, VolumesResolved: true}
	var zones sets.Set[string]
	for _, v := range p.Spec.Volumes {
		if v.Ephemeral != nil {
			l.ephemeralVolume(&info, p, v)
			continue
		}
		if v.PersistentVolumeClaim == nil {
			continue
		}
		pvc, err := l.pvcs.PersistentVolumeClaims(p.Namespace).Get(v.PersistentVolumeClaim.ClaimName)
		if apierrors.IsNotFound(err) || err != nil {
			info.VolumesResolved = false
			continue
		}
		if pvc.Spec.VolumeName == "" {
			if d := l.classDriver(pvc.Spec.StorageClassName); d != "" {
				info.Volumes = append(info.Volumes, simulator.Volume{Driver: d, Handle: "pvc:" + p.Namespace + "/" + pvc.Name})
			}
			continue
		}
		pv, err := l.pvs.Get(pvc.Spec.VolumeName)
		if err != nil {
			info.VolumesResolved = false
			continue
		}
		if vol, ok := pvVolume(pv); ok {
			info.Volumes = append(info.Volumes, vol)
		}
		if z := volumeZones(pv); z != nil {
			if zones == nil {
				zones = z
			} else {
				zones = zones.Intersection(z)
			}
		}
	}
	if zones != nil {
		info.RequiredZones = sets.List(zones)
		if len(info.RequiredZones) == 0 { // claims in disjoint zones: no zone works
			info.RequiredZones = []string{"(no zone: the pod's volumes are in disjoint zones)"}
		}
	}
	return info
}

// ephemeralVolume adds the CSI volume of a generic ephemeral volume to
// info: its claim's (named pod-volume) once created, else its template's
// StorageClass provisioner.
func (l listers) ephemeralVolume(info *simulator.PodInfo, p *corev1.Pod, v corev1.Volume) {
	name := p.Name + "-" + v.Name
	if pvc, err := l.pvcs.PersistentVolumeClaims(p.Namespace).Get(name); err == nil && pvc.Spec.VolumeName != "" {
		if pv, err := l.pvs.Get(pvc.Spec.VolumeName); err == nil {
			if vol, ok := pvVolume(pv); ok {
				info.Volumes = append(info.Volumes, vol)
			}
			return
		}
	}
	var class *string
	if t := v.Ephemeral.VolumeClaimTemplate; t != nil {
		class = t.Spec.StorageClassName
	}
	if d := l.classDriver(class); d != "" {
		info.Volumes = append(info.Volumes, simulator.Volume{Driver: d, Handle: "pvc:" + p.Namespace + "/" + name})
	}
}

// volumeZones returns the zones a PersistentVolume's required node affinity
// allows (union over its terms), nil when it does not name zones.
func volumeZones(pv *corev1.PersistentVolume) sets.Set[string] {
	if pv.Spec.NodeAffinity == nil || pv.Spec.NodeAffinity.Required == nil {
		if z := pv.Labels[corev1.LabelTopologyZone]; z != "" {
			return sets.New(z)
		}
		return nil
	}
	var out sets.Set[string]
	for _, term := range pv.Spec.NodeAffinity.Required.NodeSelectorTerms {
		for _, e := range term.MatchExpressions {
			if (e.Key == corev1.LabelTopologyZone || e.Key == corev1.LabelFailureDomainBetaZone) && e.Operator == corev1.NodeSelectorOpIn {
				if out == nil {
					out = sets.New[string]()
				}
				out.Insert(e.Values...)
			}
		}
	}
	return out
}

// groupFacts relates groups to nodes, per group: the Ready nodes, the
// instances that have not registered a Node yet, and the instances whose
// Node is registered but not Ready.
type groupFacts struct {
	ready        map[string][]*corev1.Node // group ID → its Ready nodes
	unregistered map[string][]cloud.Instance
	// unready counts registered Nodes that are not Ready; those registered
	// longer ago than the provision time are broken, not upcoming.
	unready, broken map[string]int
	// unreadyNodes are the registered Nodes that are not Ready (unready
	// and broken), not being deleted, by group ID, for scale-down.
	unreadyNodes map[string][]*corev1.Node
	// nodes are the Nodes of the groups' active instances, by providerID,
	// as autoscaler.Upcoming reads them; provisionTime and now are the
	// cycle's.
	nodes         map[string]autoscaler.InstanceNode
	provisionTime time.Duration
	now           time.Time
	// preceding holds, per group ID, the failed launches reported when
	// its target was last raised (the Autoscaler's raisedOver).
	preceding map[string]map[string]bool
}

func relate(groups []cloud.NodeGroup, c clusterFacts, provisionTime time.Duration, now time.Time) groupFacts {
	gf := groupFacts{ready: map[string][]*corev1.Node{}, unregistered: map[string][]cloud.Instance{},
		unready: map[string]int{}, broken: map[string]int{}, nodes: map[string]autoscaler.InstanceNode{},
		unreadyNodes:  map[string][]*corev1.Node{},
		provisionTime: provisionTime, now: now}
	for _, g := range groups {
		for _, inst := range g.Instances {
			if !inst.State.Active() {
				continue
			}
			if n, ok := c.readyNodes[inst.ProviderID]; ok {
				gf.nodes[inst.ProviderID] = autoscaler.InstanceNode{Registered: true, Ready: true, Created: n.CreationTimestamp.Time}
				gf.ready[g.ID] = append(gf.ready[g.ID], n)
				continue
			}
			n, registered := c.nodes[inst.ProviderID]
			if registered {
				gf.nodes[inst.ProviderID] = autoscaler.InstanceNode{Registered: true, Created: n.CreationTimestamp.Time}
				if !deleting(n) {
					gf.unreadyNodes[g.ID] = append(gf.unreadyNodes[g.ID], n)
				}
			}
			switch {
			case !registered:
				gf.unregistered[g.ID] = append(gf.unregistered[g.ID], inst)
			case now.Sub(n.CreationTimestamp.Time) >= provisionTime:
				gf.broken[g.ID]++
			default:
				gf.unready[g.ID]++
			}
		}
	}
	return gf
}

// upcoming counts, per group, the capacity asked for that is not a Ready
// node yet but still expected (autoscaler.Upcoming): instances not Ready
// within the provision time, and the target's missing instances while the
// group has no unresolved launch failure since its target was last raised.
func (gf groupFacts) upcoming(groups []cloud.NodeGroup) map[string]int {
	out := map[string]int{}
	for _, g := range groups {
		n := autoscaler.Upcoming(autoscaler.UpcomingInput{Group: g, Nodes: gf.nodes, Preceding: gf.preceding[g.ID],
			ProvisionTime: gf.provisionTime, Now: gf.now})
		if n > 0 {
			out[g.ID] = n
		}
	}
	return out
}

// existing counts a group's active instances: Ready, registered or not.
func (gf groupFacts) existing(id string) int {
	return len(gf.ready[id]) + len(gf.unregistered[id]) + gf.unready[id] + gf.broken[id]
}

// existingAll counts the active instances of each group.
func (gf groupFacts) existingAll(groups []cloud.NodeGroup) map[string]int {
	out := make(map[string]int, len(groups))
	for _, g := range groups {
		out[g.ID] = gf.existing(g.ID)
	}
	return out
}
