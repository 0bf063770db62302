package simulator

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// Fixtures: m5.large allocatable is cpu 1930m, memory 7518Mi, 29 pods.

func taintNode(n *corev1.Node, taints ...corev1.Taint) *corev1.Node {
	n.Spec.Taints = taints
	return n
}

func tolerate(tol ...corev1.Toleration) podOpt {
	return func(p *corev1.Pod) { p.Spec.Tolerations = tol }
}

func nodeAffinity(terms ...corev1.NodeSelectorTerm) podOpt {
	return func(p *corev1.Pod) {
		p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: terms},
		}}
	}
}

func expr(key string, op corev1.NodeSelectorOperator, vals ...string) corev1.NodeSelectorTerm {
	return corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: key, Operator: op, Values: vals}}}
}

func labelNode(n *corev1.Node, kv ...string) *corev1.Node {
	for i := 0; i+1 < len(kv); i += 2 {
		n.Labels[kv[i]] = kv[i+1]
	}
	return n
}

// TestFitsSingleNode covers the node-local predicates: one node "n", pods
// already on it, and the pod under test.
func TestFitsSingleNode(t *testing.T) {
	noSched := corev1.Taint{Key: "dedicated", Value: "gpu", Effect: corev1.TaintEffectNoSchedule}
	noExec := corev1.Taint{Key: "dedicated", Value: "gpu", Effect: corev1.TaintEffectNoExecute}
	prefer := corev1.Taint{Key: "dedicated", Value: "gpu", Effect: corev1.TaintEffectPreferNoSchedule}
	m5 := func() *corev1.Node { return catalogNode(t, "n", "m5.large", "us-east-1a") }
	tests := []struct {
		name     string
		node     *corev1.Node
		existing []*corev1.Pod
		pod      *corev1.Pod
		info     func(*PodInfo)
		want     Reason
	}{
		// Resources.
		{"fits empty node", m5(), nil, mkPod("p", requests("cpu", "1", "memory", "1Gi")), nil, ReasonNone},
		{"cpu exactly allocatable fits", m5(), nil, mkPod("p", requests("cpu", "1930m")), nil, ReasonNone},
		{"cpu one milli over", m5(), nil, mkPod("p", requests("cpu", "1931m")), nil, InsufficientResource("cpu")},
		{"cpu over after existing pods", m5(), []*corev1.Pod{mkPod("a", requests("cpu", "1"))}, mkPod("p", requests("cpu", "1")), nil, InsufficientResource("cpu")},
		{"memory over", m5(), nil, mkPod("p", requests("memory", "7519Mi")), nil, InsufficientResource("memory")},
		{"ephemeral storage over", m5(), nil, mkPod("p", requests("ephemeral-storage", "19Gi")), nil, InsufficientResource("ephemeral-storage")},
		{"gpu on a node without gpus", m5(), nil, mkPod("p", requests("nvidia.com/gpu", "1")), nil, InsufficientResource("nvidia.com/gpu")},
		{"gpu on a gpu node", catalogNode(t, "n", "g4dn.xlarge", "us-east-1a"), nil, mkPod("p", requests("nvidia.com/gpu", "1")), nil, ReasonNone},
		{"second gpu pod on a one-gpu node", catalogNode(t, "n", "g4dn.xlarge", "us-east-1a"), []*corev1.Pod{mkPod("a", requests("nvidia.com/gpu", "1"))}, mkPod("p", requests("nvidia.com/gpu", "1")), nil, InsufficientResource("nvidia.com/gpu")},
		{"init container larger than allocatable", m5(), nil, mkPod("p", requests("cpu", "100m"), func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{{Name: "i", Resources: corev1.ResourceRequirements{Requests: rl("cpu", "2")}}}
		}), nil, InsufficientResource("cpu")},
		{"overhead tips over", m5(), nil, mkPod("p", requests("cpu", "1900m"), func(p *corev1.Pod) { p.Spec.Overhead = rl("cpu", "100m") }), nil, InsufficientResource("cpu")},
		{"zero-request pod still counts against pods", m5(), podsN(29), mkPod("p"), nil, ReasonTooManyPods},
		{"zero-request pod fits at 28 pods", m5(), podsN(28), mkPod("p"), nil, ReasonNone},
		// Taints and tolerations.
		{"NoSchedule taint untolerated", taintNode(m5(), noSched), nil, mkPod("p"), nil, ReasonTaint},
		{"NoExecute taint untolerated", taintNode(m5(), noExec), nil, mkPod("p"), nil, ReasonTaint},
		{"PreferNoSchedule ignored", taintNode(m5(), prefer), nil, mkPod("p"), nil, ReasonNone},
		{"Equal toleration", taintNode(m5(), noSched), nil, mkPod("p", tolerate(corev1.Toleration{Key: "dedicated", Value: "gpu", Effect: corev1.TaintEffectNoSchedule})), nil, ReasonNone},
		{"Equal toleration wrong value", taintNode(m5(), noSched), nil, mkPod("p", tolerate(corev1.Toleration{Key: "dedicated", Value: "cpu"})), nil, ReasonTaint},
		{"Exists toleration any value", taintNode(m5(), noSched, noExec), nil, mkPod("p", tolerate(corev1.Toleration{Key: "dedicated", Operator: corev1.TolerationOpExists})), nil, ReasonNone},
		{"toleration for NoSchedule does not cover NoExecute", taintNode(m5(), noExec), nil, mkPod("p", tolerate(corev1.Toleration{Key: "dedicated", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule})), nil, ReasonTaint},
		{"empty key with Exists tolerates everything", taintNode(m5(), noSched, noExec), nil, mkPod("p", tolerate(corev1.Toleration{Operator: corev1.TolerationOpExists})), nil, ReasonNone},
		{"Gt toleration is off in 1.37 (alpha gate)", taintNode(m5(), corev1.Taint{Key: "level", Value: "3", Effect: corev1.TaintEffectNoSchedule}), nil, mkPod("p", tolerate(corev1.Toleration{Key: "level", Operator: corev1.TolerationOpGt, Value: "1"})), nil, ReasonTaint},
		// Unschedulable.
		{"cordoned node", cordon(m5()), nil, mkPod("p"), nil, ReasonUnschedulable},
		{"cordoned node with the unschedulable toleration", cordon(m5()), nil, mkPod("p", tolerate(corev1.Toleration{Key: corev1.TaintNodeUnschedulable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule})), nil, ReasonNone},
		// Node selector and affinity.
		{"nodeSelector matches", m5(), nil, mkPod("p", func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{LabelZone: "us-east-1a"} }), nil, ReasonNone},
		{"nodeSelector mismatch", m5(), nil, mkPod("p", func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{LabelZone: "us-east-1b"} }), nil, ReasonNodeAffinity},
		{"affinity In", m5(), nil, mkPod("p", nodeAffinity(expr(corev1.LabelInstanceTypeStable, corev1.NodeSelectorOpIn, "m5.large", "c5.large"))), nil, ReasonNone},
		{"affinity NotIn", m5(), nil, mkPod("p", nodeAffinity(expr(corev1.LabelInstanceTypeStable, corev1.NodeSelectorOpNotIn, "m5.large"))), nil, ReasonNodeAffinity},
		{"affinity Exists", m5(), nil, mkPod("p", nodeAffinity(expr("kelp.dev/pool", corev1.NodeSelectorOpExists))), nil, ReasonNone},
		{"affinity DoesNotExist", m5(), nil, mkPod("p", nodeAffinity(expr("kelp.dev/pool", corev1.NodeSelectorOpDoesNotExist))), nil, ReasonNodeAffinity},
		{"affinity Gt true", labelNode(m5(), "cores", "8"), nil, mkPod("p", nodeAffinity(expr("cores", corev1.NodeSelectorOpGt, "4"))), nil, ReasonNone},
		{"affinity Gt false", labelNode(m5(), "cores", "2"), nil, mkPod("p", nodeAffinity(expr("cores", corev1.NodeSelectorOpGt, "4"))), nil, ReasonNodeAffinity},
		{"affinity Lt true", labelNode(m5(), "cores", "2"), nil, mkPod("p", nodeAffinity(expr("cores", corev1.NodeSelectorOpLt, "4"))), nil, ReasonNone},
		{"affinity Lt with non-integer label", labelNode(m5(), "cores", "many"), nil, mkPod("p", nodeAffinity(expr("cores", corev1.NodeSelectorOpLt, "4"))), nil, ReasonNodeAffinity},
		{"terms are ORed", m5(), nil, mkPod("p", nodeAffinity(expr("x", corev1.NodeSelectorOpExists), expr(LabelZone, corev1.NodeSelectorOpIn, "us-east-1a"))), nil, ReasonNone},
		{"invalid term never matches, others still do", m5(), nil, mkPod("p", nodeAffinity(expr("cores", corev1.NodeSelectorOpGt, "x"), expr(LabelZone, corev1.NodeSelectorOpExists))), nil, ReasonNone},
		{"only empty terms match nothing", m5(), nil, mkPod("p", nodeAffinity(corev1.NodeSelectorTerm{})), nil, ReasonNodeAffinity},
		{"matchFields metadata.name", m5(), nil, mkPod("p", nodeAffinity(corev1.NodeSelectorTerm{MatchFields: []corev1.NodeSelectorRequirement{{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{"n"}}}})), nil, ReasonNone},
		{"nodeSelector and affinity both required", m5(), nil, mkPod("p", nodeAffinity(expr(LabelZone, corev1.NodeSelectorOpExists)), func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{"gpu": "true"} }), nil, ReasonNodeAffinity},
		{"spec.nodeName elsewhere", m5(), nil, mkPod("p", func(p *corev1.Pod) { p.Spec.NodeName = "other" }), nil, ReasonNodeName},
		// Host ports.
		{"hostPort 0 never conflicts", m5(), []*corev1.Pod{mkPod("a", hostPortOpt("", "", 0))}, mkPod("p", hostPortOpt("", "", 0)), nil, ReasonNone},
		{"same hostPort TCP conflicts", m5(), []*corev1.Pod{mkPod("a", hostPortOpt("", "", 8080))}, mkPod("p", hostPortOpt("", corev1.ProtocolTCP, 8080)), nil, ReasonHostPorts},
		{"same hostPort other protocol", m5(), []*corev1.Pod{mkPod("a", hostPortOpt("", "", 8080))}, mkPod("p", hostPortOpt("", corev1.ProtocolUDP, 8080)), nil, ReasonNone},
		{"distinct host IPs", m5(), []*corev1.Pod{mkPod("a", hostPortOpt("10.0.0.1", "", 8080))}, mkPod("p", hostPortOpt("10.0.0.2", "", 8080)), nil, ReasonNone},
		{"wildcard vs specific IP", m5(), []*corev1.Pod{mkPod("a", hostPortOpt("10.0.0.1", "", 8080))}, mkPod("p", hostPortOpt("0.0.0.0", "", 8080)), nil, ReasonHostPorts},
		{"specific IP vs wildcard", m5(), []*corev1.Pod{mkPod("a", hostPortOpt("", "", 8080))}, mkPod("p", hostPortOpt("10.0.0.1", "", 8080)), nil, ReasonHostPorts},
		// Volume zones.
		{"volume zone matches", m5(), nil, mkPod("p"), func(i *PodInfo) { i.RequiredZones = []string{"us-east-1a"} }, ReasonNone},
		{"volume zone elsewhere", m5(), nil, mkPod("p"), func(i *PodInfo) { i.RequiredZones = []string{"us-east-1b"} }, ReasonVolumeZone},
		{"unresolved PVC is unsupported", m5(), nil, mkPod("p", withPVC("data")), nil, UnsupportedVolumes},
		{"resolved PVC without zone fits", m5(), nil, mkPod("p", withPVC("data")), func(i *PodInfo) { i.VolumesResolved = true }, ReasonNone},
		// Unsupported.
		{"DRA claims are unsupported", m5(), nil, mkPod("p", func(p *corev1.Pod) { p.Spec.ResourceClaims = []corev1.PodResourceClaim{{Name: "gpu"}} }), nil, UnsupportedResourceClaims},
		{"affinity on a rack key is unsupported", m5(), nil, mkPod("p", podAffinity("rack", "app", "db")), nil, UnsupportedTopologyKey},
		{"preferred-only affinity on any key is fine", m5(), nil, mkPod("p", func(p *corev1.Pod) {
			p.Spec.Affinity = &corev1.Affinity{PodAffinity: &corev1.PodAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{
				Weight: 1, PodAffinityTerm: corev1.PodAffinityTerm{TopologyKey: "rack"}}}}}
		}), nil, ReasonNone},
		{"ScheduleAnyway spread on any key is ignored", m5(), nil, mkPod("p", func(p *corev1.Pod) {
			p.Spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: "rack", WhenUnsatisfiable: corev1.ScheduleAnyway}}
		}), nil, ReasonNone},
		{"invalid label selector is unsupported", m5(), nil, mkPod("p", func(p *corev1.Pod) {
			p.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
				TopologyKey: LabelHostname, LabelSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "a", Operator: "Bogus"}}}}}}}
		}), nil, UnsupportedSelector},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewSnapshot()
			mustAddNode(t, s, tt.node)
			for _, e := range tt.existing {
				mustAddPod(t, s, "n", e)
			}
			info := PodInfo{Pod: tt.pod}
			if tt.info != nil {
				tt.info(&info)
			}
			p := NewPod(info)
			ok, got := Fits(s, p, "n")
			if got != tt.want || ok != (tt.want == ReasonNone) {
				t.Errorf("Fits = %v, %q; want %q", ok, got, tt.want)
			}
			// FitNodes agrees with Fits.
			res := FitNodes(s, p)
			fr := res.Reasons["n"]
			if res.Unsupported != ReasonNone {
				fr = res.Unsupported
			}
			if fr != tt.want {
				t.Errorf("FitNodes reason = %q; want %q", fr, tt.want)
			}
		})
	}
}

func podsN(n int) []*corev1.Pod {
	out := make([]*corev1.Pod, n)
	for i := range out {
		out[i] = mkPod(fmt.Sprintf("e%d", i))
	}
	return out
}

func cordon(n *corev1.Node) *corev1.Node {
	n.Spec.Unschedulable = true
	return n
}

func withPVC(claim string) podOpt {
	return func(p *corev1.Pod) {
		p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: claim, VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim}}})
	}
}

var _ = ptr.To[int32]
