package simulator

import (
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
)

// Well-known topology keys the simulator models for pod affinity and
// topology spread.
const (
	LabelHostname = corev1.LabelHostname              // kubernetes.io/hostname
	LabelZone     = corev1.LabelTopologyZone          // topology.kubernetes.io/zone
	labelZoneBeta = corev1.LabelFailureDomainBetaZone // failure-domain.beta.kubernetes.io/zone
)

// PodInfo is a pod with the facts the caller resolved for it.
type PodInfo struct {
	// Pod is the pod; the simulator never mutates it.
	Pod *corev1.Pod
	// RequiredZones, when non-empty, are the only zones the pod can run in:
	// the zones of the PersistentVolumes its claims are bound to
	// (intersected by the caller). Empty means no zonal constraint.
	RequiredZones []string
	// VolumesResolved says the caller resolved every PersistentVolumeClaim
	// and generic ephemeral volume of the pod into RequiredZones. A pod with
	// such volumes and VolumesResolved false is unsupported.
	VolumesResolved bool
	// Volumes are the CSI volumes the pod attaches, counted against the
	// nodes' attach limits (see [VolumeLimitPrefix]); the caller resolves
	// them with its claims.
	Volumes []Volume
}

// Pod is a PodInfo compiled for fast predicate evaluation: requests,
// selectors, tolerations, ports, affinity terms and spread constraints are
// parsed once. A Pod is immutable and may be shared between snapshots and
// goroutines.
type Pod struct {
	pod       *corev1.Pod
	key       string // namespace/name
	namespace string
	labels    labels.Set
	deleting  bool
	*podSpec
}

// podSpec is the part of a compiled pod shared by the replicas of an
// equivalence class.
type podSpec struct {
	requests     Resources
	ports        []hostPort
	nodeName     string
	nodeAffinity nodeaffinity.RequiredNodeAffinity // nodeSelector and required node affinity
	tolerations  []corev1.Toleration
	affinity     []affinityTerm
	antiAffinity []affinityTerm
	spread       []spreadConstraint
	zones        sets.Set[string] // nil: any zone
	unsupported  Reason
	eqKey        string
	volumes      []Volume // deduplicated
	// readsName: the static predicates read the node's name or hostname
	// label, which differ between nodes made from one template.
	readsName bool
}

// hostPort is a normalized host port: empty IP is 0.0.0.0 and empty
// protocol is TCP.
type hostPort struct {
	ip       string
	protocol corev1.Protocol
	port     int32
}

// affinityTerm is a compiled required PodAffinityTerm.
type affinityTerm struct {
	namespaces  sets.Set[string]
	nsSelector  labels.Selector // nil when the term has none
	selector    labels.Selector
	topologyKey string
}

// spreadConstraint is a compiled DoNotSchedule topology spread constraint.
type spreadConstraint struct {
	maxSkew       int
	topologyKey   string
	selector      labels.Selector
	minDomains    int
	honorAffinity bool // nodeAffinityPolicy Honor (default)
	honorTaints   bool // nodeTaintsPolicy Honor (default Ignore)
}

// NewPod compiles a PodInfo. It never fails: a pod the simulator cannot
// model gets an Unsupported reason, and Fits reports it for every node.
func NewPod(info PodInfo) *Pod {
	if info.Pod == nil {
		return &Pod{podSpec: &podSpec{unsupported: UnsupportedNilPod}}
	}
	p := newPodIdentity(info.Pod)
	p.podSpec = compileSpec(info)
	return p
}

// Replica returns a Pod for another replica of p's equivalence class (same
// [EquivalenceKey]) sharing p's compiled spec. The caller guarantees the
// classes match; only pod's identity (namespace, name, labels, deletion)
// is read.
func (p *Pod) Replica(pod *corev1.Pod) *Pod {
	r := newPodIdentity(pod)
	r.podSpec = p.podSpec
	return r
}

func newPodIdentity(pod *corev1.Pod) *Pod {
	return &Pod{
		pod:       pod,
		key:       pod.Namespace + "/" + pod.Name,
		namespace: pod.Namespace,
		labels:    labels.Set(pod.Labels),
		deleting:  pod.DeletionTimestamp != nil,
	}
}

// Object returns the pod the Pod was compiled from (nil for a nil pod). It
// must not be mutated.
func (p *Pod) Object() *corev1.Pod { return p.pod }

// Key returns "namespace/name", the pod's identity in a Snapshot.
func (p *Pod) Key() string { return p.key }

// Requests returns the pod's requests as the scheduler counts them.
func (p *Pod) Requests() Resources { return p.requests.Clone() }

// Unsupported returns why the simulator cannot model the pod, or
// ReasonNone.
func (p *Pod) Unsupported() Reason { return p.unsupported }

// EquivalenceKey returns the pod's equivalence class key (see
// [EquivalenceKey]).
func (p *Pod) EquivalenceKey() string { return p.eqKey }

func compileSpec(info PodInfo) *podSpec {
	pod := info.Pod
	s := &podSpec{
		requests:    PodRequests(pod),
		ports:       podHostPorts(pod),
		nodeName:    pod.Spec.NodeName,
		tolerations: pod.Spec.Tolerations,
		eqKey:       EquivalenceKey(pod),
		// compiled once per class: parsing per node check would dominate
		nodeAffinity: nodeaffinity.GetRequiredNodeAffinity(pod),
		readsName:    readsNodeName(pod),
	}
	if len(info.RequiredZones) > 0 {
		s.zones = sets.New(info.RequiredZones...)
	}
	for _, v := range info.Volumes {
		if !slices.Contains(s.volumes, v) {
			s.volumes = append(s.volumes, v)
		}
	}
	s.unsupported = unsupportedVolumes(info)
	var err error
	if s.affinity, s.antiAffinity, err = compilePodAffinity(pod); err != nil && s.unsupported == ReasonNone {
		s.unsupported = UnsupportedSelector
	}
	if s.spread, err = compileSpread(pod); err != nil && s.unsupported == ReasonNone {
		s.unsupported = UnsupportedSelector
	}
	if s.unsupported == ReasonNone && !modelledTopologies(s) {
		s.unsupported = UnsupportedTopologyKey
	}
	return s
}

// readsNodeName reports whether the pod's nodeName, nodeSelector or
// required node affinity reads the node's name or hostname label.
func readsNodeName(pod *corev1.Pod) bool {
	if pod.Spec.NodeName != "" {
		return true
	}
	if _, ok := pod.Spec.NodeSelector[LabelHostname]; ok {
		return true
	}
	a := pod.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return false
	}
	for _, t := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
		if len(t.MatchFields) > 0 || slices.ContainsFunc(t.MatchExpressions, func(r corev1.NodeSelectorRequirement) bool {
			return r.Key == LabelHostname
		}) {
			return true
		}
	}
	return false
}

func unsupportedVolumes(info PodInfo) Reason {
	if len(info.Pod.Spec.ResourceClaims) > 0 {
		return UnsupportedResourceClaims
	}
	if info.VolumesResolved {
		return ReasonNone
	}
	for _, v := range info.Pod.Spec.Volumes {
		if v.PersistentVolumeClaim != nil || v.Ephemeral != nil {
			return UnsupportedVolumes
		}
	}
	return ReasonNone
}

func modelledTopologies(s *podSpec) bool {
	ok := func(key string) bool { return key == LabelHostname || key == LabelZone }
	for _, terms := range [][]affinityTerm{s.affinity, s.antiAffinity} {
		for _, t := range terms {
			if !ok(t.topologyKey) {
				return false
			}
		}
	}
	for _, c := range s.spread {
		if !ok(c.topologyKey) {
			return false
		}
	}
	return true
}

// podHostPorts returns the host ports of the containers and restartable init
// containers, as the NodePorts plugin collects them (HostPort > 0 only).
func podHostPorts(pod *corev1.Pod) []hostPort {
	var out []hostPort
	add := func(c *corev1.Container) {
		for _, cp := range c.Ports {
			if cp.HostPort <= 0 {
				continue
			}
			hp := hostPort{ip: cp.HostIP, protocol: cp.Protocol, port: cp.HostPort}
			if hp.ip == "" {
				hp.ip = "0.0.0.0"
			}
			if hp.protocol == "" {
				hp.protocol = corev1.ProtocolTCP
			}
			out = append(out, hp)
		}
	}
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			add(c)
		}
	}
	for i := range pod.Spec.Containers {
		add(&pod.Spec.Containers[i])
	}
	return out
}

func compilePodAffinity(pod *corev1.Pod) (aff, anti []affinityTerm, err error) {
	a := pod.Spec.Affinity
	if a == nil {
		return nil, nil, nil
	}
	if a.PodAffinity != nil {
		if aff, err = compileTerms(pod, a.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution); err != nil {
			return nil, nil, fmt.Errorf("pod affinity of %s/%s: %w", pod.Namespace, pod.Name, err)
		}
	}
	if a.PodAntiAffinity != nil {
		if anti, err = compileTerms(pod, a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution); err != nil {
			return nil, nil, fmt.Errorf("pod anti-affinity of %s/%s: %w", pod.Namespace, pod.Name, err)
		}
	}
	return aff, anti, nil
}

// compileTerms follows the scheduler's newAffinityTerm: no namespaces and no
// namespaceSelector means the pod's own namespace; matchLabelKeys and
// mismatchLabelKeys are merged into the selector as the API server does.
func compileTerms(pod *corev1.Pod, terms []corev1.PodAffinityTerm) ([]affinityTerm, error) {
	out := make([]affinityTerm, 0, len(terms))
	for i := range terms {
		t := &terms[i]
		sel, err := metav1.LabelSelectorAsSelector(t.LabelSelector)
		if err != nil {
			return nil, fmt.Errorf("term %d label selector: %w", i, err)
		}
		sel, err = mergeLabelKeys(sel, pod.Labels, t.MatchLabelKeys, t.MismatchLabelKeys)
		if err != nil {
			return nil, fmt.Errorf("term %d match label keys: %w", i, err)
		}
		at := affinityTerm{selector: sel, topologyKey: t.TopologyKey, namespaces: sets.New(t.Namespaces...)}
		if len(t.Namespaces) == 0 && t.NamespaceSelector == nil {
			at.namespaces.Insert(pod.Namespace)
		}
		if t.NamespaceSelector != nil {
			if at.nsSelector, err = metav1.LabelSelectorAsSelector(t.NamespaceSelector); err != nil {
				return nil, fmt.Errorf("term %d namespace selector: %w", i, err)
			}
		}
		out = append(out, at)
	}
	return out, nil
}

// mergeLabelKeys adds "key in (value)" for each matchLabelKeys key and
// "key notin (value)" for each mismatchLabelKeys key the pod carries.
// Adding a requirement the API server already merged is harmless.
func mergeLabelKeys(sel labels.Selector, podLabels map[string]string, match, mismatch []string) (labels.Selector, error) {
	if sel == labels.Nothing() || len(match)+len(mismatch) == 0 {
		return sel, nil
	}
	add := func(keys []string, op selection.Operator) error {
		for _, k := range keys {
			v, ok := podLabels[k]
			if !ok {
				continue
			}
			r, err := labels.NewRequirement(k, op, []string{v})
			if err != nil {
				return fmt.Errorf("label key %q: %w", k, err)
			}
			sel = sel.Add(*r)
		}
		return nil
	}
	if err := add(match, selection.In); err != nil {
		return nil, err
	}
	if err := add(mismatch, selection.NotIn); err != nil {
		return nil, err
	}
	return sel, nil
}

// matches reports whether the term selects pod q: q's namespace is listed
// (or selected by the namespace selector, given nsLabels of q's
// namespace) and q's labels match.
func (t *affinityTerm) matches(q *Pod, nsLabels labels.Set) bool {
	if t.namespaces.Has(q.namespace) || (t.nsSelector != nil && t.nsSelector.Matches(nsLabels)) {
		return t.selector.Matches(q.labels)
	}
	return false
}
