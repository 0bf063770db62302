package difftest

import (
	"fmt"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/kelp-dev/kelp/internal/testenv"
)

// TestKnownCases runs hand-written scenarios whose answer was worked out
// by hand. It checks the harness as much as the simulator: the scheduler's
// verdicts must be the expected ones (so pinning through a resource
// changes no spread domain, terminating pods are seen, and so on), and the
// simulator must agree with them.
func TestKnownCases(t *testing.T) {
	env := testenv.Get(t)
	if err := ensureRuntimeClass(t.Context(), env.Client); err != nil {
		t.Fatal(err)
	}
	h := &harness{client: env.Client, logf: t.Logf}
	for _, tc := range knownCases() {
		t.Run(tc.sc.ID, func(t *testing.T) {
			out, err := h.run(t.Context(), tc.sc)
			if err != nil {
				t.Fatal(err)
			}
			if out.Unsupported != "" {
				t.Fatalf("simulator: %s", out.Unsupported)
			}
			want := make([]string, len(tc.want))
			for i, n := range tc.want {
				want[i] = nodeName(tc.sc.ID, n)
			}
			if !slices.Equal(out.SchedulerFit, want) {
				t.Errorf("scheduler placed the probe on %v, want %v (%s)", out.SchedulerFit, want, tc.why)
			}
			if len(out.Mismatches) > 0 {
				t.Errorf("simulator disagrees with the scheduler:\n%s", mismatchLines(out.Mismatches))
			}
			if t.Failed() {
				t.Logf("scenario:\n%s", tc.sc.YAML())
			}
		})
	}
}

// knownCase is a scenario and the indexes of the nodes the probe fits.
type knownCase struct {
	sc   *scenario
	want []int
	why  string
}

func knownCases() []knownCase {
	const (
		zoneA, zoneB, zoneC = "z-a", "z-b", "z-c"
	)
	appA := map[string]string{"app": "a"}
	tainted := corev1.Taint{Key: "dedicated", Value: "x", Effect: corev1.TaintEffectNoSchedule}
	spreadZone := func(mod func(*corev1.TopologySpreadConstraint)) func(*corev1.Pod) {
		return withSpread(corev1.LabelTopologyZone, mod)
	}
	return []knownCase{{
		sc: build("k-spread-node-affinity", []string{zoneA, zoneB, zoneC}, nil,
			bind(0, appA), bind(1, appA),
			probe(appA, spreadZone(nil), withNodeAffinity(corev1.LabelTopologyZone, corev1.NodeSelectorOpNotIn, zoneC))),
		want: []int{0, 1},
		why:  "nodeAffinityPolicy Honor: z-c is no domain, so the minimum is 1",
	}, {
		sc: build("k-spread-taints-honor", []string{zoneA, zoneB}, map[int]corev1.Taint{1: tainted},
			bind(0, appA),
			probe(appA, spreadZone(func(c *corev1.TopologySpreadConstraint) {
				c.NodeTaintsPolicy = ptr.To(corev1.NodeInclusionPolicyHonor)
			}))),
		want: []int{0},
		why:  "nodeTaintsPolicy Honor: the tainted z-b is no domain",
	}, {
		sc: build("k-spread-taints-ignore", []string{zoneA, zoneB}, map[int]corev1.Taint{1: tainted},
			bind(0, appA),
			probe(appA, spreadZone(nil))),
		want: nil,
		why:  "nodeTaintsPolicy Ignore: the empty z-b makes the minimum 0; z-b's node is tainted",
	}, {
		sc: build("k-spread-min-domains", []string{zoneA, zoneB}, nil,
			bind(0, appA), bind(1, appA),
			probe(appA, spreadZone(func(c *corev1.TopologySpreadConstraint) { c.MinDomains = ptr.To[int32](3) }))),
		want: nil,
		why:  "two domains under minDomains 3: the global minimum is 0",
	}, {
		sc: build("k-spread-terminating", []string{zoneA, zoneB}, nil,
			terminating(bind(0, appA)),
			probe(appA, withSpread(corev1.LabelHostname, nil))),
		want: []int{0, 1},
		why:  "terminating pods do not count for spread",
	}, {
		sc: build("k-terminating-resources", []string{zoneA, zoneB}, nil,
			small(0), small(1), terminating(bind(0, appA)),
			probe(appA)),
		want: []int{1},
		why:  "terminating pods still hold their node's only pod slot",
	}, {
		sc: build("k-self-affinity", []string{zoneA, ""}, nil,
			probe(appA, withPodAffinity(corev1.LabelTopologyZone, appA))),
		want: []int{0},
		why:  "no pod matches, the probe matches its own term; the node without a zone lacks the key",
	}, {
		sc: build("k-existing-anti-affinity", []string{zoneA, zoneA}, nil,
			withBoundAnti(bind(0, map[string]string{"app": "b"}), corev1.LabelHostname, appA),
			probe(appA)),
		want: []int{1},
		why:  "the bound pod on n0 repels app=a from its host",
	}, {
		sc: build("k-host-port-specific-ip", []string{zoneA, zoneA, zoneA}, nil,
			withPort(bind(0, nil), "127.0.0.1", corev1.ProtocolTCP), withPort(bind(1, nil), "", corev1.ProtocolUDP),
			probe(appA, withProbePort("10.0.0.1", corev1.ProtocolTCP))),
		want: []int{0, 1, 2},
		why:  "different specific IPs and different protocols do not conflict",
	}, {
		sc: build("k-host-port-wildcard", []string{zoneA, zoneA, zoneA}, nil,
			withPort(bind(0, nil), "127.0.0.1", corev1.ProtocolTCP), withPort(bind(1, nil), "", corev1.ProtocolUDP),
			probe(appA, withProbePort("", corev1.ProtocolTCP))),
		want: []int{1, 2},
		why:  "the wildcard IP conflicts with a specific IP on the same port and protocol",
	}, {
		sc: build("k-sidecar-then-init", []string{zoneA, zoneB}, nil,
			small(0), probe(appA, withSidecarThenInit)),
		want: []int{1},
		why:  "the init container runs beside the sidecar: 1.5 cpu on n0's 1 cpu, n1's 2 cpu",
	}}
}

// build returns a scenario with a node per zone ("" for none), each of 2
// cpu, 4Gi and 110 pods; node i has taints[i] when present.
func build(id string, nodeZones []string, taints map[int]corev1.Taint, parts ...func(*scenario)) *scenario {
	sc := &scenario{ID: id}
	for i, z := range nodeZones {
		labels, alloc := map[string]string{}, resources("cpu", "2", "memory", "4Gi", "pods", "110")
		if z != "" {
			labels[corev1.LabelTopologyZone] = z
		}
		n := newNode(id, nodeName(id, i), labels, alloc)
		if t, ok := taints[i]; ok {
			n.Spec.Taints = []corev1.Taint{t}
		}
		sc.Nodes = append(sc.Nodes, n)
	}
	for _, part := range parts {
		part(sc)
	}
	return sc
}

func nodeName(id string, i int) string { return fmt.Sprintf("%s-n%d", id, i) }

// small shrinks node i to 1 cpu, 2Gi and a single pod slot.
func small(i int) func(*scenario) {
	return func(sc *scenario) {
		n := sc.Nodes[i]
		a := resources("cpu", "1", "memory", "2Gi", "pods", "1")
		a[pinResource(n.Name)] = n.Status.Allocatable[pinResource(n.Name)]
		n.Status.Allocatable, n.Status.Capacity = a, a.DeepCopy()
	}
}

// bind adds a pod with the labels bound to node i (tolerating everything,
// like the generator's bound pods).
func bind(i int, labels map[string]string) func(*scenario) {
	return func(sc *scenario) {
		p := newPod(fmt.Sprintf("bound-%d", len(sc.Bound)), labels, nil)
		p.Spec.NodeName = nodeName(sc.ID, i)
		p.Spec.Tolerations = []corev1.Toleration{{Operator: corev1.TolerationOpExists}}
		sc.Bound = append(sc.Bound, boundPod{Pod: p})
	}
}

// terminating marks the pod added by part as terminating.
func terminating(part func(*scenario)) func(*scenario) {
	return func(sc *scenario) {
		part(sc)
		sc.Bound[len(sc.Bound)-1].Terminating = true
	}
}

func withBoundAnti(part func(*scenario), key string, sel map[string]string) func(*scenario) {
	return func(sc *scenario) {
		part(sc)
		p := sc.Bound[len(sc.Bound)-1].Pod
		p.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{TopologyKey: key, LabelSelector: &metav1.LabelSelector{MatchLabels: sel}}},
		}}
	}
}

func withPort(part func(*scenario), ip string, proto corev1.Protocol) func(*scenario) {
	return func(sc *scenario) {
		part(sc)
		c := &sc.Bound[len(sc.Bound)-1].Pod.Spec.Containers[0]
		c.Ports = append(c.Ports, corev1.ContainerPort{ContainerPort: 80, HostPort: 8080, HostIP: ip, Protocol: proto})
	}
}

// probe sets the scenario's probe: 100m cpu, the labels, then mods.
func probe(labels map[string]string, mods ...func(*corev1.Pod)) func(*scenario) {
	return func(sc *scenario) {
		sc.Probe = newPod("probe", labels, resources("cpu", "100m"))
		for _, m := range mods {
			m(sc.Probe)
		}
	}
}

func withSpread(key string, mod func(*corev1.TopologySpreadConstraint)) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		c := corev1.TopologySpreadConstraint{
			MaxSkew: 1, TopologyKey: key, WhenUnsatisfiable: corev1.DoNotSchedule,
			LabelSelector: &metav1.LabelSelector{MatchLabels: p.Labels},
		}
		if mod != nil {
			mod(&c)
		}
		p.Spec.TopologySpreadConstraints = append(p.Spec.TopologySpreadConstraints, c)
	}
}

func withNodeAffinity(key string, op corev1.NodeSelectorOperator, values ...string) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
				MatchExpressions: []corev1.NodeSelectorRequirement{{Key: key, Operator: op, Values: values}},
			}}},
		}}
	}
}

func withPodAffinity(key string, sel map[string]string) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		p.Spec.Affinity = &corev1.Affinity{PodAffinity: &corev1.PodAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{TopologyKey: key, LabelSelector: &metav1.LabelSelector{MatchLabels: sel}}},
		}}
	}
}

func withProbePort(ip string, proto corev1.Protocol) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		c := &p.Spec.Containers[0]
		c.Ports = append(c.Ports, corev1.ContainerPort{ContainerPort: 80, HostPort: 8080, HostIP: ip, Protocol: proto})
	}
}

// withSidecarThenInit adds a 500m sidecar followed by a 1-cpu init
// container: the pod needs max(100m+500m, 1+500m) = 1.5 cpu.
func withSidecarThenInit(p *corev1.Pod) {
	p.Spec.InitContainers = []corev1.Container{
		{Name: "sidecar", Image: pauseImage, RestartPolicy: ptr.To(corev1.ContainerRestartPolicyAlways),
			Resources: corev1.ResourceRequirements{Requests: resources("cpu", "500m")}},
		{Name: "init", Image: pauseImage, Resources: corev1.ResourceRequirements{Requests: resources("cpu", "1")}},
	}
}
