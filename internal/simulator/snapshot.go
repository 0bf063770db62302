package simulator

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Errors returned (wrapped) by Snapshot mutations. Test with errors.Is.
var (
	ErrNodeExists   = errors.New("node already in snapshot")
	ErrNodeNotFound = errors.New("node not in snapshot")
	ErrPodExists    = errors.New("pod already on node")
	ErrPodNotFound  = errors.New("pod not on node")
	ErrInvalidNode  = errors.New("invalid node")
)

// generations hands out snapshot generations for copy-on-write; a node is
// owned by (and may be mutated in place by) the snapshot whose gen it
// carries.
var generations atomic.Uint64

// Snapshot is a cluster state: nodes with the pods placed on them and the
// aggregates the predicates need. The zero value is not usable; call
// [NewSnapshot]. Mutations never touch the caller's Node and Pod objects.
type Snapshot struct {
	gen      uint64
	nodes    []*nodeState // nil entries are removed nodes
	index    map[string]int
	nsLabels map[string]labels.Set
	shared   bool // index and nsLabels are shared with another fork
	antiPods int  // pods with required anti-affinity terms
	fam      *family
	// epoch changes on every mutation a Placer cannot replay (removals,
	// namespace labels, forks); additions since the epoch began are in log.
	epoch uint64
	log   []logEntry
	// undo holds the nodes present at a mark that mutations replaced
	// since, for Rollback; marked is the node count at the latest mark.
	undo   []undoEntry
	marked int
}

// logEntry is one addition: a node (pod nil) or a pod on node index idx.
type logEntry struct {
	idx int
	pod *Pod
}

// newEpoch starts a new epoch: Placers bound to s recompute their state.
func (s *Snapshot) newEpoch() {
	s.epoch = generations.Add(1)
	s.log = nil
}

// family is the state shared by a snapshot and all its forks: static keys
// and the static-predicate cache, both keyed by immutable inputs.
//
// A static key names what the static predicates read of a node: every
// real node has its own key, and the nodes made from one template (in any
// fork) share the template's key. The cache thus holds one verdict per pod
// spec and key, however many nodes the forks simulate.
type family struct {
	mu sync.Mutex
	// keyNodes holds, per static key, a node object it stands for.
	keyNodes []*corev1.Node
	tmplKeys map[*corev1.Node]int // template → static key
	// tmplAlloc holds each template's allocatable, parsed once (read-only).
	tmplAlloc map[*corev1.Node]Resources
	static    map[*podSpec][]Reason // static key → verdict, for every key below len
	// probes holds, per template node, the empty node a Packer evaluates
	// new nodes of that template with (read-only).
	probes map[*corev1.Node]*nodeState
}

// staticKey returns the static key of node, made from template when
// template is not nil.
func (f *family) staticKey(node, template *corev1.Node) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if template != nil {
		if k, ok := f.tmplKeys[template]; ok {
			return k
		}
		f.tmplKeys[template] = len(f.keyNodes)
	}
	f.keyNodes = append(f.keyNodes, node)
	return len(f.keyNodes) - 1
}

// nodeState is one node. Fields other than gen are read-only once the node
// is shared between forks; a snapshot clones a node it does not own before
// mutating it.
type nodeState struct {
	gen         uint64
	skey        int // static key (see family)
	node        *corev1.Node
	template    bool
	allocatable Resources
	requested   Resources
	pods        []*Pod
	ports       []hostPort
	antiPods    int
}

// NewSnapshot returns an empty snapshot.
func NewSnapshot() *Snapshot {
	return &Snapshot{
		gen:      generations.Add(1),
		index:    make(map[string]int),
		nsLabels: make(map[string]labels.Set),
		fam: &family{static: make(map[*podSpec][]Reason), tmplKeys: make(map[*corev1.Node]int), tmplAlloc: make(map[*corev1.Node]Resources),
			probes: make(map[*corev1.Node]*nodeState)},
		epoch: generations.Add(1),
	}
}

// Fork returns an independent copy of s. Nodes are shared copy-on-write:
// the fork costs O(nodes) pointer copies, and each later mutation of a
// shared node (in s or in the fork) clones only that node. Use the fork to
// try placements and drop it (or keep it instead of s) afterwards.
func (s *Snapshot) Fork() *Snapshot {
	f := &Snapshot{
		gen:      generations.Add(1),
		nodes:    slices.Clone(s.nodes),
		index:    s.index,
		nsLabels: s.nsLabels,
		shared:   true,
		antiPods: s.antiPods,
		fam:      s.fam,
		epoch:    generations.Add(1),
	}
	s.gen = generations.Add(1) // s no longer owns the nodes it shares
	s.shared = true
	return f
}

// own makes s's maps private before a structural change.
func (s *Snapshot) own() {
	if s.shared {
		s.index = maps.Clone(s.index)
		s.nsLabels = maps.Clone(s.nsLabels)
		s.shared = false
	}
}

// SetNamespaceLabels records the labels of a namespace, used by
// namespaceSelectors of pod affinity terms. Unknown namespaces have no
// labels.
func (s *Snapshot) SetNamespaceLabels(namespace string, l map[string]string) {
	s.own()
	s.nsLabels[namespace] = labels.Set(maps.Clone(l))
	s.newEpoch()
}

// AddNode adds a real node; its allocatable is node.Status.Allocatable.
func (s *Snapshot) AddNode(node *corev1.Node) error {
	if node == nil || node.Name == "" {
		return fmt.Errorf("add node: %w: nil or unnamed", ErrInvalidNode)
	}
	return s.addNode(node, nil)
}

// AddTemplateNode adds a virtual node (upcoming or new) named name, built
// from a pool's template node: labels, taints and allocatable of template,
// with metadata.name and the kubernetes.io/hostname label set to name. The
// daemon pods (see [DaemonSetPods]) are then placed on it when they fit, as
// the DaemonSet controller would. template is not modified, and must not
// be modified afterwards: the static predicates' verdicts are cached per
// template, for every node made from it in s and its forks.
func (s *Snapshot) AddTemplateNode(template *corev1.Node, name string, daemonPods []*Pod) error {
	if template == nil || name == "" {
		return fmt.Errorf("add template node %q: %w: nil template or empty name", name, ErrInvalidNode)
	}
	if err := s.addNode(templateNodeObject(template, name), template); err != nil {
		return err
	}
	for _, p := range daemonPods {
		if ok, _ := Fits(s, p, name); !ok {
			continue
		}
		if err := s.AddPod(name, p); err != nil {
			return fmt.Errorf("add template node %q: %w", name, err)
		}
	}
	return nil
}

// templateNodeObject returns the node object of a template node named
// name.
func templateNodeObject(template *corev1.Node, name string) *corev1.Node {
	// Only the labels differ from the template's: the rest is shared,
	// read-only, as node objects in a snapshot are.
	n := &corev1.Node{ObjectMeta: template.ObjectMeta, Spec: template.Spec, Status: corev1.NodeStatus{
		Capacity: template.Status.Capacity, Allocatable: template.Status.Allocatable,
	}}
	n.Name = name
	n.UID = ""
	n.Labels = make(map[string]string, len(template.Labels)+1)
	maps.Copy(n.Labels, template.Labels)
	n.Labels[LabelHostname] = name
	return n
}

// allocatable returns the allocatable of node, made from template when
// that is not nil (parsed once per template).
func (f *family) allocatable(node, template *corev1.Node) Resources {
	if template == nil {
		return ResourcesFromList(node.Status.Allocatable)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	a, ok := f.tmplAlloc[template]
	if !ok {
		a = ResourcesFromList(template.Status.Allocatable)
		f.tmplAlloc[template] = a
	}
	return a
}

// addNode adds node, made from template when that is not nil.
func (s *Snapshot) addNode(node, template *corev1.Node) error {
	if _, ok := s.index[node.Name]; ok {
		return fmt.Errorf("add node %q: %w", node.Name, ErrNodeExists)
	}
	s.own()
	s.index[node.Name] = len(s.nodes)
	s.nodes = append(s.nodes, &nodeState{
		gen:         s.gen,
		skey:        s.fam.staticKey(node, template),
		node:        node,
		template:    template != nil,
		allocatable: s.fam.allocatable(node, template),
	})
	s.log = append(s.log, logEntry{idx: len(s.nodes) - 1})
	return nil
}

// RemoveNode removes a node and the pods on it.
func (s *Snapshot) RemoveNode(name string) error {
	i, ok := s.index[name]
	if !ok {
		return fmt.Errorf("remove node %q: %w", name, ErrNodeNotFound)
	}
	s.own()
	s.antiPods -= s.nodes[i].antiPods
	s.keep(i)
	s.nodes[i] = nil
	delete(s.index, name)
	s.newEpoch()
	return nil
}

// AddPod places p on the node. It does not check that p fits: the caller
// asks [Fits] first, or is recording pods already bound by the scheduler.
// A pod with the same Key already on that node is an error.
func (s *Snapshot) AddPod(nodeName string, p *Pod) error {
	if p == nil || p.pod == nil {
		return fmt.Errorf("add pod to node %q: %w: nil pod", nodeName, ErrInvalidNode)
	}
	n, idx, err := s.mutableNode(nodeName)
	if err != nil {
		return fmt.Errorf("add pod %s: %w", p.key, err)
	}
	for _, q := range n.pods {
		if q.key == p.key {
			return fmt.Errorf("add pod %s to node %q: %w", p.key, nodeName, ErrPodExists)
		}
	}
	n.pods = append(n.pods, p)
	n.requested.Add(p.requests)
	n.ports = append(n.ports, p.ports...)
	if len(p.antiAffinity) > 0 {
		n.antiPods++
		s.antiPods++
	}
	s.log = append(s.log, logEntry{idx: idx, pod: p})
	return nil
}

// RemovePod removes the pod with key ("namespace/name") from the node.
func (s *Snapshot) RemovePod(nodeName, key string) error {
	n, _, err := s.mutableNode(nodeName)
	if err != nil {
		return fmt.Errorf("remove pod %s: %w", key, err)
	}
	i := slices.IndexFunc(n.pods, func(q *Pod) bool { return q.key == key })
	if i < 0 {
		return fmt.Errorf("remove pod %s from node %q: %w", key, nodeName, ErrPodNotFound)
	}
	p := n.pods[i]
	n.pods = slices.Delete(n.pods, i, i+1)
	n.requested.Sub(p.requests)
	for _, hp := range p.ports {
		if j := slices.Index(n.ports, hp); j >= 0 {
			n.ports = slices.Delete(n.ports, j, j+1)
		}
	}
	if len(p.antiAffinity) > 0 {
		n.antiPods--
		s.antiPods--
	}
	s.newEpoch()
	return nil
}

// mutableNode returns the named node, cloned first if s does not own it.
func (s *Snapshot) mutableNode(name string) (*nodeState, int, error) {
	i, ok := s.index[name]
	if !ok {
		return nil, 0, fmt.Errorf("node %q: %w", name, ErrNodeNotFound)
	}
	n := s.nodes[i]
	if n.gen != s.gen {
		s.keep(i)
		c := *n
		c.gen = s.gen
		c.requested = n.requested.Clone()
		c.pods = slices.Clone(n.pods)
		c.ports = slices.Clone(n.ports)
		n = &c
		s.nodes[i] = n
	}
	return n, i, nil
}

func (s *Snapshot) lookup(name string) (*nodeState, bool) {
	i, ok := s.index[name]
	if !ok {
		return nil, false
	}
	return s.nodes[i], true
}

// NodeNames returns the names of the nodes in insertion order.
func (s *Snapshot) NodeNames() []string {
	out := make([]string, 0, len(s.index))
	for _, n := range s.nodes {
		if n != nil {
			out = append(out, n.node.Name)
		}
	}
	return out
}

// NodeInfo is a read-only view of one node in a snapshot.
type NodeInfo struct {
	Node        *corev1.Node // must not be mutated
	Template    bool         // added by AddTemplateNode
	Allocatable Resources
	Requested   Resources // sum of the placed pods' requests; Pods = pod count
	Pods        []*Pod
}

// Node returns a view of the named node; the slices and maps are copies.
func (s *Snapshot) Node(name string) (NodeInfo, bool) {
	n, ok := s.lookup(name)
	if !ok {
		return NodeInfo{}, false
	}
	return NodeInfo{
		Node: n.node, Template: n.template, Allocatable: n.allocatable.Clone(),
		Requested: n.requested.Clone(), Pods: slices.Clone(n.pods),
	}, true
}

// free returns allocatable minus requested.
func (n *nodeState) free() Resources {
	f := n.allocatable.Clone()
	f.Sub(n.requested)
	return f
}

// FreeRoom returns the cpu, memory and pod slots left on the snapshot's
// nodes, summed over the nodes (a node over its allocatable counts 0 in
// that resource). Ephemeral storage and scalar resources are not summed.
func (s *Snapshot) FreeRoom() Resources {
	var r Resources
	for _, n := range s.nodes {
		if n == nil {
			continue
		}
		r.MilliCPU += max(n.allocatable.MilliCPU-n.requested.MilliCPU, 0)
		r.Memory += max(n.allocatable.Memory-n.requested.Memory, 0)
		r.Pods += max(n.allocatable.Pods-n.requested.Pods, 0)
	}
	return r
}
