package scenario

import (
	"cmp"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/kelp-dev/kelp/internal/autoscaler"
	"github.com/kelp-dev/kelp/internal/catalog"
	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/simulator"
)

// class is the pending pods of one equivalence class, compiled once, as
// PlanScaleUp groups them.
type class struct {
	rep  *simulator.Pod
	pods []*simulator.Pod // rep first
	req  simulator.Resources
	// anti is set when a node holds at most one replica: required
	// anti-affinity on kubernetes.io/hostname against the class's own pods.
	anti bool
	// set identifies that anti-affinity term (namespace and selector):
	// classes with the same set select each other's pods, so a node holds
	// at most one pod of all of them. "" when not anti.
	set string
}

// compileClasses groups the pending pods into classes (duplicates and
// unsupported pods dropped), ordered largest first: GPUs, then cpu, then
// memory, then key.
func compileClasses(pending []simulator.PodInfo) []*class {
	byKey := map[string]*class{}
	seen := map[string]bool{}
	var out []*class
	for _, info := range pending {
		if info.Pod == nil || seen[info.Pod.Namespace+"/"+info.Pod.Name] {
			continue
		}
		seen[info.Pod.Namespace+"/"+info.Pod.Name] = true
		ck := fmt.Sprintf("%s|%v|%v", simulator.EquivalenceKey(info.Pod), info.VolumesResolved, slices.Sorted(slices.Values(info.RequiredZones)))
		if c, ok := byKey[ck]; ok {
			c.pods = append(c.pods, c.rep.Replica(info.Pod))
			continue
		}
		rep := simulator.NewPod(info)
		if rep.Unsupported() != simulator.ReasonNone {
			continue
		}
		set := selfAntiHostname(info.Pod)
		c := &class{rep: rep, pods: []*simulator.Pod{rep}, req: rep.Requests(), anti: set != "", set: set}
		byKey[ck] = c
		out = append(out, c)
	}
	slices.SortStableFunc(out, func(a, b *class) int {
		return cmp.Or(cmp.Compare(gpus(b.req), gpus(a.req)), cmp.Compare(b.req.MilliCPU, a.req.MilliCPU),
			cmp.Compare(b.req.Memory, a.req.Memory), cmp.Compare(a.rep.Key(), b.rep.Key()))
	})
	return out
}

func gpus(r simulator.Resources) int64 { return r.Scalar[catalog.ResourceNVIDIAGPU] }

// selfAntiHostname returns the key (namespace and selector) of the pod's
// first required anti-affinity term on kubernetes.io/hostname that matches
// its own labels in its own namespace, so that two replicas never share a
// node; "" when it has none. Pods of the same key never share a node
// either: each matches the term of the other.
func selfAntiHostname(p *corev1.Pod) string {
	if p.Spec.Affinity == nil || p.Spec.Affinity.PodAntiAffinity == nil {
		return ""
	}
	for _, t := range p.Spec.Affinity.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution {
		if t.TopologyKey != corev1.LabelHostname || t.NamespaceSelector != nil ||
			len(t.Namespaces) > 0 && !slices.Contains(t.Namespaces, p.Namespace) {
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(t.LabelSelector)
		if err == nil && !sel.Empty() && sel.Matches(labels.Set(p.Labels)) {
			return p.Namespace + "\x00" + sel.String()
		}
	}
	return ""
}

// option is one instance type of one group that may grow: the node a new
// instance registers as, its DaemonSet pods, and the room a fresh node
// leaves for workload pods.
type option struct {
	group cloud.NodeGroup
	it    cloud.InstanceType
	tmpl  *corev1.Node
	ds    []*simulator.Pod
	free  simulator.Resources // allocatable minus the DaemonSet pods placed
	probe *simulator.Snapshot // one fresh node named probeNode
	room  int                 // nodes the group may still add
}

const probeNode = "probe"

func (o *option) key() string { return o.group.ID + "/" + o.it.Name }

// growOptions returns the options of the groups that may grow at in.Now:
// groups sorted by ID (duplicates after the first, groups in backoff and
// groups at MaxSize dropped), each instance type in template order.
func growOptions(in autoscaler.Input) ([]*option, error) {
	groups := slices.SortedStableFunc(slices.Values(in.Groups), func(a, b cloud.NodeGroup) int { return cmp.Compare(a.ID, b.ID) })
	var out []*option
	for i, g := range groups {
		if i > 0 && groups[i-1].ID == g.ID {
			continue
		}
		if b, ok := in.Backoff[g.ID]; ok && in.Now.Before(b.Until) {
			continue
		}
		room := g.Room()
		if room <= 0 {
			continue
		}
		for _, it := range g.Template.InstanceTypes {
			o, ok, err := newOption(g, it, in)
			if err != nil {
				return nil, err
			}
			if ok {
				o.room = room
				out = append(out, o)
			}
		}
	}
	return out, nil
}

func newOption(g cloud.NodeGroup, it cloud.InstanceType, in autoscaler.Input) (*option, bool, error) {
	t, ok := g.Template.ForInstanceType(it.Name)
	if !ok || len(t.Allocatable) == 0 {
		return nil, false, nil
	}
	n := &corev1.Node{}
	n.Name = g.ID + "-template-" + it.Name
	n.Labels, n.Spec.Taints = t.Labels, t.Taints
	n.Status.Capacity, n.Status.Allocatable = t.Capacity, t.Allocatable
	o := &option{group: g, it: it, tmpl: n, ds: simulator.DaemonSetPods(n, in.DaemonSets), probe: simulator.NewSnapshot()}
	if err := o.probe.AddTemplateNode(n, probeNode, o.ds); err != nil {
		return nil, false, fmt.Errorf("option %s: %w", o.key(), err)
	}
	info, _ := o.probe.Node(probeNode)
	o.free = info.Allocatable
	o.free.Sub(info.Requested) // Requested.Pods counts the pods
	return o, true, nil
}

// fits reports whether one pod of c fits a fresh node of o.
func (o *option) fits(c *class) bool {
	ok, _ := simulator.Fits(o.probe, c.rep, probeNode)
	return ok
}

// perNode is how many pods of c fit in free by resources alone (at most 1
// for an anti-affinity class), 0 when none does.
func perNode(c *class, free simulator.Resources) int64 {
	n := free.Pods
	div := func(have, want int64) {
		if want > 0 {
			n = min(n, have/want)
		}
	}
	div(free.MilliCPU, c.req.MilliCPU)
	div(free.Memory, c.req.Memory)
	div(free.EphemeralStorage, c.req.EphemeralStorage)
	for name, v := range c.req.Scalar {
		div(free.Scalar[name], v)
	}
	if c.anti {
		n = min(n, 1)
	}
	return max(n, 0)
}
