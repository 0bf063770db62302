package difftest

import (
	"fmt"
	"math/rand/v2"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// Vocabulary of the generator: few values, so that selectors, taints and
// ports collide often.
var (
	zones      = []string{"z-a", "z-b", "z-c"}
	apps       = []string{"a", "b", "c"}
	taintKeys  = []string{"dedicated", "gpu"}
	taintVals  = []string{"x", "y"}
	hostPorts  = []int32{8080, 9090}
	topologies = []string{corev1.LabelHostname, corev1.LabelTopologyZone}
	effects    = []corev1.TaintEffect{corev1.TaintEffectNoSchedule, corev1.TaintEffectNoExecute, corev1.TaintEffectPreferNoSchedule}
)

// generator draws random scenarios. Its choices are a pure function of the
// rand source, so a (seed, index) pair reproduces a scenario.
type generator struct {
	r *rand.Rand
	// namespace is the scenario's namespace, for namespaceSelectors that
	// select it by its kubernetes.io/metadata.name label.
	namespace string
	// topology marks a scenario about pod affinity and spread: roomy,
	// untainted nodes, more bound pods, a probe with few node constraints
	// and always some inter-pod rule. Other scenarios stress the static
	// filters and resources.
	topology bool
}

// p returns static in a static-filter scenario and topology in a topology
// scenario.
func (g *generator) p(static, topology float64) float64 {
	if g.topology {
		return topology
	}
	return static
}

func pick[T any](g *generator, xs ...T) T { return xs[g.r.IntN(len(xs))] }

func (g *generator) chance(p float64) bool { return g.r.Float64() < p }

// scenario draws scenario id with node names "<id>-n<i>".
func (g *generator) scenario(id string) *scenario {
	s := &scenario{ID: id}
	g.namespace = scenarioNamespace(id)
	g.topology = g.chance(0.5)
	for i := range 2 + g.r.IntN(4) {
		s.Nodes = append(s.Nodes, g.node(id, fmt.Sprintf("%s-n%d", id, i)))
	}
	bound := g.r.IntN(5)
	if g.topology {
		bound = 1 + g.r.IntN(6)
	}
	for i := range bound {
		node := pick(g, s.Nodes...).Name
		p := g.boundPod(fmt.Sprintf("bound-%d", i))
		p.Spec.NodeName = node
		s.Bound = append(s.Bound, boundPod{Pod: p, Terminating: g.chance(0.1)})
	}
	s.Probe = g.probe(s.Nodes)
	return s
}

func (g *generator) node(id, name string) *corev1.Node {
	labels := map[string]string{}
	if g.chance(g.p(0.85, 0.9)) {
		labels[corev1.LabelTopologyZone] = pick(g, zones...)
	}
	if g.chance(0.5) {
		labels["disk"] = pick(g, "ssd", "hdd")
	}
	if g.chance(0.5) {
		labels["gen"] = pick(g, "1", "2", "3", "4", "5")
	}
	alloc := resources(
		"cpu", pick(g, "1", "2", "4", "4"),
		"memory", pick(g, "1Gi", "2Gi", "4Gi", "8Gi"),
		"pods", pick(g, "1", "2", "3", "110", "110", "110"),
		"ephemeral-storage", "10Gi",
		string(resourceGPU), pick(g, "", "", "1", "2"),
	)
	if g.topology && g.chance(0.9) {
		alloc = resources("cpu", "8", "memory", "16Gi", "pods", "110")
	}
	n := newNode(id, name, labels, alloc)
	taints := pick(g, 0, 0, 0, 0, 1, 1, 2)
	if g.topology && g.chance(0.8) {
		taints = 0
	}
	for range taints {
		t := g.taint()
		if !slices.ContainsFunc(n.Spec.Taints, func(o corev1.Taint) bool { return o.MatchTaint(&t) }) { // unique by key and effect
			n.Spec.Taints = append(n.Spec.Taints, t)
		}
	}
	if g.chance(g.p(0.07, 0.03)) {
		cordon(n)
	}
	return n
}

func (g *generator) taint() corev1.Taint {
	t := corev1.Taint{Key: pick(g, taintKeys...), Effect: pick(g, effects...)}
	if g.chance(0.7) {
		t.Value = pick(g, taintVals...)
	}
	return t
}

// boundPod draws a pod to bind: requests, maybe a host port and a required
// anti-affinity. It tolerates everything so taint eviction leaves it.
func (g *generator) boundPod(name string) *corev1.Pod {
	p := newPod(name, g.podLabels(), g.requests())
	p.Spec.Tolerations = []corev1.Toleration{{Operator: corev1.TolerationOpExists}}
	if g.chance(g.p(0.25, 0.1)) {
		g.addHostPort(&p.Spec.Containers[0])
	}
	if g.chance(0.25) {
		p.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{g.podTerm()},
		}}
	}
	return p
}

func (g *generator) podLabels() map[string]string {
	l := map[string]string{"app": pick(g, apps...)}
	if g.chance(0.4) {
		l["tier"] = pick(g, "web", "db")
	}
	return l
}

func (g *generator) requests() corev1.ResourceList {
	if g.topology && g.chance(0.9) {
		return resources("cpu", pick(g, "", "100m"), "memory", pick(g, "", "256Mi"))
	}
	return resources(
		"cpu", pick(g, "", "100m", "500m", "1", "2"),
		"memory", pick(g, "", "256Mi", "1Gi", "3Gi"),
		"ephemeral-storage", pick(g, "", "", "", "", "5Gi", "20Gi"),
		string(resourceGPU), pick(g, "", "", "", "", "", "1"),
	)
}

func (g *generator) addHostPort(c *corev1.Container) {
	c.Ports = append(c.Ports, corev1.ContainerPort{
		ContainerPort: 80,
		HostPort:      pick(g, hostPorts...),
		Protocol:      pick(g, corev1.ProtocolTCP, corev1.ProtocolTCP, corev1.ProtocolUDP),
		HostIP:        pick(g, "", "", "127.0.0.1", "10.0.0.1"),
	})
}

// probe draws the pod whose fit is compared.
func (g *generator) probe(nodes []*corev1.Node) *corev1.Pod {
	p := newPod("probe", g.podLabels(), g.requests())
	g.addInitContainers(p)
	if g.chance(0.08) {
		// Above any sum of container requests the generator draws, as
		// validation demands.
		p.Spec.Resources = &corev1.ResourceRequirements{Requests: resources("cpu", pick(g, "4", "8"), "memory", pick(g, "4Gi", "8Gi"))}
	}
	if g.chance(0.1) {
		p.Spec.RuntimeClassName = ptr.To(runtimeClassOverhead) // admission adds its overhead
	}
	if g.chance(0.3) {
		g.addHostPort(&p.Spec.Containers[0])
	}
	if g.chance(g.p(0.25, 0.1)) {
		p.Spec.NodeSelector = pick(g,
			map[string]string{"disk": "ssd"},
			map[string]string{corev1.LabelTopologyZone: pick(g, zones...)})
	}
	for range pick(g, 0, 1, 1, 2) {
		p.Spec.Tolerations = append(p.Spec.Tolerations, g.toleration())
	}
	aff := &corev1.Affinity{}
	if g.chance(g.p(0.35, 0.15)) {
		aff.NodeAffinity = &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: g.nodeSelector(nodes)}
	}
	if g.chance(g.p(0.2, 0.4)) {
		aff.PodAffinity = &corev1.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: g.podTerms()}
	}
	if g.chance(g.p(0.2, 0.4)) {
		aff.PodAntiAffinity = &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: g.podTerms()}
	}
	if *aff != (corev1.Affinity{}) {
		p.Spec.Affinity = aff
	}
	if g.chance(g.p(0.3, 0.7)) {
		c := g.spreadConstraint(p.Labels)
		p.Spec.TopologySpreadConstraints = append(p.Spec.TopologySpreadConstraints, c)
		if g.chance(0.3) {
			// A second constraint needs another topology key (validation).
			d := g.spreadConstraint(p.Labels)
			if d.TopologyKey != c.TopologyKey {
				p.Spec.TopologySpreadConstraints = append(p.Spec.TopologySpreadConstraints, d)
			}
		}
	}
	return p
}

// addInitContainers sometimes adds an init container and a sidecar
// (restartable init container) with requests.
func (g *generator) addInitContainers(p *corev1.Pod) {
	if g.chance(0.15) {
		p.Spec.InitContainers = append(p.Spec.InitContainers, corev1.Container{
			Name: "sidecar", Image: pauseImage, RestartPolicy: ptr.To(corev1.ContainerRestartPolicyAlways),
			Resources: corev1.ResourceRequirements{Requests: resources("cpu", pick(g, "100m", "500m"))},
		})
	}
	if g.chance(0.15) {
		p.Spec.InitContainers = append(p.Spec.InitContainers, corev1.Container{
			Name: "init", Image: pauseImage,
			Resources: corev1.ResourceRequirements{Requests: resources("cpu", pick(g, "500m", "3"), "memory", pick(g, "", "2Gi"))},
		})
	}
}

func (g *generator) toleration() corev1.Toleration {
	t := corev1.Toleration{Key: pick(g, taintKeys...), Operator: corev1.TolerationOpExists}
	if g.chance(0.5) {
		t.Operator, t.Value = corev1.TolerationOpEqual, pick(g, taintVals...)
	}
	if g.chance(0.1) {
		t.Key = "" // Exists with an empty key tolerates every taint
		t.Operator, t.Value = corev1.TolerationOpExists, ""
	}
	if g.chance(0.5) {
		t.Effect = pick(g, effects...)
	}
	if t.Effect == corev1.TaintEffectNoExecute && g.chance(0.5) {
		t.TolerationSeconds = ptr.To[int64](60)
	}
	return t
}

// nodeSelector draws 1–2 required node affinity terms (ORed) of 1–2
// requirements each (ANDed).
func (g *generator) nodeSelector(nodes []*corev1.Node) *corev1.NodeSelector {
	ns := &corev1.NodeSelector{}
	for range 1 + g.r.IntN(2) {
		var t corev1.NodeSelectorTerm
		for range 1 + g.r.IntN(2) {
			if g.chance(0.15) {
				t.MatchFields = append(t.MatchFields, corev1.NodeSelectorRequirement{
					Key: "metadata.name", Operator: pick(g, corev1.NodeSelectorOpIn, corev1.NodeSelectorOpNotIn),
					Values: []string{pick(g, nodes...).Name},
				})
				continue
			}
			t.MatchExpressions = append(t.MatchExpressions, g.nodeRequirement())
		}
		ns.NodeSelectorTerms = append(ns.NodeSelectorTerms, t)
	}
	if g.chance(0.05) {
		ns.NodeSelectorTerms = append(ns.NodeSelectorTerms, corev1.NodeSelectorTerm{}) // matches no node
	}
	return ns
}

func (g *generator) nodeRequirement() corev1.NodeSelectorRequirement {
	switch g.r.IntN(4) {
	case 0:
		return corev1.NodeSelectorRequirement{Key: corev1.LabelTopologyZone, Operator: corev1.NodeSelectorOpIn,
			Values: []string{pick(g, zones...), pick(g, zones...)}}
	case 1:
		return corev1.NodeSelectorRequirement{Key: "disk", Operator: pick(g, corev1.NodeSelectorOpIn, corev1.NodeSelectorOpNotIn),
			Values: []string{"ssd"}}
	case 2:
		return corev1.NodeSelectorRequirement{Key: pick(g, "disk", "gen", corev1.LabelTopologyZone),
			Operator: pick(g, corev1.NodeSelectorOpExists, corev1.NodeSelectorOpDoesNotExist)}
	default:
		return corev1.NodeSelectorRequirement{Key: "gen", Operator: pick(g, corev1.NodeSelectorOpGt, corev1.NodeSelectorOpLt),
			Values: []string{pick(g, "2", "3", "4")}}
	}
}

func (g *generator) podTerms() []corev1.PodAffinityTerm {
	terms := []corev1.PodAffinityTerm{g.podTerm()}
	if g.chance(0.2) {
		terms = append(terms, g.podTerm())
	}
	return terms
}

// podTerm draws a required pod (anti-)affinity term in the pod's own
// namespace on hostname or zone.
func (g *generator) podTerm() corev1.PodAffinityTerm {
	t := corev1.PodAffinityTerm{TopologyKey: pick(g, topologies...), LabelSelector: g.labelSelector()}
	if g.chance(0.1) {
		// Same pods as the default (own namespace), through the
		// namespaceSelector path. A selector reaching other namespaces
		// would see other scenarios' pods.
		t.NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{corev1.LabelMetadataName: g.namespace}}
	}
	if g.chance(0.15) && t.LabelSelector.MatchLabels != nil {
		// The API server rejects a key both in (mis)matchLabelKeys and the
		// selector.
		delete(t.LabelSelector.MatchLabels, "tier")
		if g.chance(0.5) {
			t.MatchLabelKeys = []string{"tier"}
		} else {
			t.MismatchLabelKeys = []string{"tier"}
		}
	}
	if g.chance(0.04) {
		t.TopologyKey = "disk" // unsupported by the simulator: counted, not compared
	}
	return t
}

func (g *generator) labelSelector() *metav1.LabelSelector {
	if g.chance(0.2) {
		return &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{
			Key: "app", Operator: metav1.LabelSelectorOpIn, Values: []string{pick(g, apps...), pick(g, apps...)},
		}}}
	}
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{"app": pick(g, apps...)}}
	if g.chance(0.2) {
		sel.MatchLabels["tier"] = pick(g, "web", "db")
	}
	return sel
}

// spreadConstraint draws a DoNotSchedule constraint. nodeAffinityPolicy is
// never Ignore: that would make other scenarios' nodes spread domains (see
// the package doc).
func (g *generator) spreadConstraint(podLabels map[string]string) corev1.TopologySpreadConstraint {
	c := corev1.TopologySpreadConstraint{
		MaxSkew:           int32(1 + g.r.IntN(2)),
		TopologyKey:       pick(g, topologies...),
		WhenUnsatisfiable: corev1.DoNotSchedule,
		LabelSelector:     g.labelSelector(),
	}
	if g.chance(0.5) {
		c.LabelSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": podLabels["app"]}}
	}
	if g.chance(0.2) {
		c.MinDomains = ptr.To(int32(2 + g.r.IntN(3)))
	}
	if g.chance(0.4) {
		c.NodeTaintsPolicy = ptr.To(pick(g, corev1.NodeInclusionPolicyHonor, corev1.NodeInclusionPolicyIgnore))
	}
	if g.chance(0.2) {
		c.NodeAffinityPolicy = ptr.To(corev1.NodeInclusionPolicyHonor)
	}
	if g.chance(0.15) && c.LabelSelector.MatchLabels != nil {
		// The API server rejects a key both in matchLabelKeys and the selector.
		delete(c.LabelSelector.MatchLabels, "tier")
		c.MatchLabelKeys = []string{"tier"}
	}
	if g.chance(0.03) {
		c.TopologyKey = "disk" // unsupported by the simulator
	}
	return c
}
