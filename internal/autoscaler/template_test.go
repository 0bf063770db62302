package autoscaler

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kelp-dev/kelp/internal/cloud"
)

func TestTemplateFromNodes(t *testing.T) {
	rl := func(cpu, mem string) corev1.ResourceList {
		return corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(mem)}
	}
	group := func() cloud.NodeGroup {
		return cloud.NodeGroup{ID: "g", Template: cloud.NodeTemplate{
			InstanceTypes: []cloud.InstanceType{
				{Name: "m5.large", Capacity: rl("2", "8Gi"), Allocatable: rl("1930m", "7Gi")},
				{Name: "m5.xlarge", Capacity: rl("4", "16Gi"), Allocatable: rl("3920m", "14Gi")},
			},
			Capacity: rl("2", "8Gi"), Allocatable: rl("1930m", "7Gi"),
			Labels: map[string]string{corev1.LabelTopologyZone: "us-east-1a", "kelp.dev/pool": "g"},
			Taints: []corev1.Taint{{Key: "dedicated", Value: "g", Effect: corev1.TaintEffectNoSchedule}},
		}}
	}
	node := func(name, typ, cpu string, taints ...corev1.Taint) *corev1.Node {
		return &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
				corev1.LabelHostname: name, corev1.LabelTopologyZone: "us-east-1c", corev1.LabelInstanceTypeStable: typ,
				"kelp.dev/pool": "g", "team": "web",
			}},
			Spec:   corev1.NodeSpec{Taints: taints},
			Status: corev1.NodeStatus{Capacity: rl("2", "8Gi"), Allocatable: rl(cpu, "6Gi")},
		}
	}
	notReady := corev1.Taint{Key: "node.kubernetes.io/not-ready", Effect: corev1.TaintEffectNoSchedule}
	deleting := corev1.Taint{Key: ToBeDeletedTaint, Effect: corev1.TaintEffectNoSchedule}
	for _, tc := range []struct {
		name       string
		nodes      []*corev1.Node
		wantAlloc  map[string]string // type → cpu
		wantLabel  string            // value of "team", "" when absent
		wantTaints int
	}{
		{"no nodes: cloud template", nil, map[string]string{"m5.large": "1930m", "m5.xlarge": "3920m"}, "", 1},
		{"a node of the primary type refines it", []*corev1.Node{node("n1", "m5.large", "1800m", notReady, deleting)},
			map[string]string{"m5.large": "1800m", "m5.xlarge": "3920m"}, "web", 0},
		{"first node by name per type", []*corev1.Node{node("n2", "m5.large", "1700m"), node("n1", "m5.large", "1800m")},
			map[string]string{"m5.large": "1800m", "m5.xlarge": "3920m"}, "web", 0},
		{"node of a type the group does not launch is ignored", []*corev1.Node{node("n1", "c5.large", "1000m")},
			map[string]string{"m5.large": "1930m", "m5.xlarge": "3920m"}, "", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := group()
			out := TemplateFromNodes(in, tc.nodes)
			for _, it := range out.Template.InstanceTypes {
				if got := it.Allocatable.Cpu().String(); got != tc.wantAlloc[it.Name] {
					t.Errorf("%s allocatable cpu %s, want %s", it.Name, got, tc.wantAlloc[it.Name])
				}
			}
			if got := out.Template.Allocatable.Cpu().String(); got != tc.wantAlloc["m5.large"] {
				t.Errorf("primary allocatable cpu %s, want %s", got, tc.wantAlloc["m5.large"])
			}
			if got := out.Template.Labels["team"]; got != tc.wantLabel {
				t.Errorf("label team %q, want %q", got, tc.wantLabel)
			}
			if z := out.Template.Labels[corev1.LabelTopologyZone]; z != "us-east-1a" {
				t.Errorf("zone label %q: a node's own zone must not replace the template's", z)
			}
			if _, ok := out.Template.Labels[corev1.LabelHostname]; ok {
				t.Error("hostname label copied into the template")
			}
			if len(out.Template.Taints) != tc.wantTaints {
				t.Errorf("taints %v, want %d", out.Template.Taints, tc.wantTaints)
			}
			if in.Template.InstanceTypes[0].Allocatable.Cpu().String() != "1930m" || len(in.Template.Taints) != 1 {
				t.Error("input group modified")
			}
		})
	}
}
