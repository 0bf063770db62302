package simulator

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func daemonSet(name string, opts ...podOpt) *appsv1.DaemonSet {
	p := mkPod(name, opts...)
	return &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "kube-system"},
		Spec:       appsv1.DaemonSetSpec{Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: p.Labels}, Spec: p.Spec}},
	}
}

func TestDaemonSetOverhead(t *testing.T) {
	gpuTaint := corev1.Taint{Key: "nvidia.com/gpu", Effect: corev1.TaintEffectNoSchedule}
	sets := []*appsv1.DaemonSet{
		daemonSet("kube-proxy", requests("cpu", "100m", "memory", "64Mi")),
		daemonSet("aws-node", requests("cpu", "25m")),
		daemonSet("gpu-plugin", requests("cpu", "50m"), tolerate(corev1.Toleration{Key: "nvidia.com/gpu", Operator: corev1.TolerationOpExists}),
			func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{"gpu": "true"} }),
		daemonSet("arm-only", requests("cpu", "10m"), nodeAffinity(expr(corev1.LabelArchStable, corev1.NodeSelectorOpIn, "arm64"))),
		nil,
	}
	tests := []struct {
		name     string
		node     *corev1.Node
		wantCPU  int64
		wantPods int64
	}{
		{"plain amd64 node runs the untainted daemonsets", catalogNode(t, "t", "m5.large", "us-east-1a"), 125, 2},
		{"arm node adds the arm-only daemonset", catalogNode(t, "t", "m6g.large", "us-east-1a"), 135, 3},
		{"tainted gpu node runs only tolerating daemonsets",
			taintNode(labelNode(catalogNode(t, "t", "g4dn.xlarge", "us-east-1a"), "gpu", "true"), gpuTaint), 50, 1},
		{"cordoned template still gets daemon pods", cordon(catalogNode(t, "t", "m5.large", "us-east-1a")), 125, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := DaemonSetOverhead(tt.node, sets)
			if got.MilliCPU != tt.wantCPU || got.Pods != tt.wantPods {
				t.Errorf("overhead cpu %dm pods %d, want %dm %d", got.MilliCPU, got.Pods, tt.wantCPU, tt.wantPods)
			}
		})
	}
}

func TestEquivalenceKey(t *testing.T) {
	ctrl := true
	owned := func(name string, opts ...podOpt) *corev1.Pod {
		vol := func(p *corev1.Pod) { p.Spec.Volumes = []corev1.Volume{{Name: "kube-api-access-" + name}} }
		p := mkPod(name, append([]podOpt{requests("cpu", "1"), vol}, opts...)...)
		p.OwnerReferences = []metav1.OwnerReference{{Kind: "ReplicaSet", Name: "web-abc", UID: "u1", Controller: &ctrl}}
		return p
	}
	base := EquivalenceKey(owned("a"))
	if base != EquivalenceKey(owned("b")) {
		t.Error("replicas of one owner differ")
	}
	for name, p := range map[string]*corev1.Pod{
		"requests":    owned("c", requests("cpu", "2")),
		"labels":      owned("c", withLabels("app", "db")),
		"tolerations": owned("c", tolerate(corev1.Toleration{Operator: corev1.TolerationOpExists})),
		"anti":        owned("c", antiAffinity(LabelHostname, "app", "web")),
		"spread":      owned("c", spread(LabelZone, 1, nil, "app", "web")),
		"ports":       owned("c", hostPortOpt("", "", 80)),
		"pvc":         owned("c", withPVC("data-c")),
		"namespace":   withNS(owned("c"), "other"),
	} {
		if EquivalenceKey(p) == base {
			t.Errorf("%s does not change the key", name)
		}
	}
}
