package simulator

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kelp-dev/kelp/internal/catalog"
)

// catalogNode returns a node of the instance type with the catalog's
// allocatable and the usual well-known labels.
func catalogNode(tb testing.TB, name, instanceType, zone string) *corev1.Node {
	tb.Helper()
	it, err := catalog.Lookup(instanceType)
	if err != nil {
		tb.Fatalf("catalog: %v", err)
	}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
			LabelHostname:                  name,
			LabelZone:                      zone,
			corev1.LabelInstanceTypeStable: instanceType,
			corev1.LabelArchStable:         it.Architecture.KubernetesArch(),
			"kelp.dev/pool":                "pool-" + instanceType,
		}},
		Status: corev1.NodeStatus{Capacity: it.Capacity(), Allocatable: it.Allocatable()},
	}
}

type podOpt func(*corev1.Pod)

func mkPod(name string, opts ...podOpt) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{"app": "web"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c"}}},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func rl(kv ...string) corev1.ResourceList {
	out := corev1.ResourceList{}
	for i := 0; i+1 < len(kv); i += 2 {
		out[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
	}
	return out
}

func requests(kv ...string) podOpt {
	return func(p *corev1.Pod) { p.Spec.Containers[0].Resources.Requests = rl(kv...) }
}

func withLabels(kv ...string) podOpt {
	return func(p *corev1.Pod) {
		p.Labels = map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			p.Labels[kv[i]] = kv[i+1]
		}
	}
}

func compiled(p *corev1.Pod) *Pod { return NewPod(PodInfo{Pod: p}) }

func mustAddNode(tb testing.TB, s *Snapshot, n *corev1.Node) {
	tb.Helper()
	if err := s.AddNode(n); err != nil {
		tb.Fatal(err)
	}
}

func mustAddPod(tb testing.TB, s *Snapshot, node string, p *corev1.Pod) {
	tb.Helper()
	if err := s.AddPod(node, compiled(p)); err != nil {
		tb.Fatal(err)
	}
}

func antiAffinity(key string, kv ...string) podOpt {
	return func(p *corev1.Pod) {
		if p.Spec.Affinity == nil {
			p.Spec.Affinity = &corev1.Affinity{}
		}
		p.Spec.Affinity.PodAntiAffinity = &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
			TopologyKey: key, LabelSelector: &metav1.LabelSelector{MatchLabels: pairs(kv...)},
		}}}
	}
}

func podAffinity(key string, kv ...string) podOpt {
	return func(p *corev1.Pod) {
		if p.Spec.Affinity == nil {
			p.Spec.Affinity = &corev1.Affinity{}
		}
		p.Spec.Affinity.PodAffinity = &corev1.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
			TopologyKey: key, LabelSelector: &metav1.LabelSelector{MatchLabels: pairs(kv...)},
		}}}
	}
}

func spread(key string, maxSkew int32, minDomains *int32, kv ...string) podOpt {
	return func(p *corev1.Pod) {
		p.Spec.TopologySpreadConstraints = append(p.Spec.TopologySpreadConstraints, corev1.TopologySpreadConstraint{
			MaxSkew: maxSkew, TopologyKey: key, WhenUnsatisfiable: corev1.DoNotSchedule, MinDomains: minDomains,
			LabelSelector: &metav1.LabelSelector{MatchLabels: pairs(kv...)},
		})
	}
}

func pairs(kv ...string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

func hostPortOpt(ip string, proto corev1.Protocol, port int32) podOpt {
	return func(p *corev1.Pod) {
		p.Spec.Containers[0].Ports = append(p.Spec.Containers[0].Ports,
			corev1.ContainerPort{ContainerPort: 80, HostPort: port, HostIP: ip, Protocol: proto})
	}
}
