package autoscaler

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/kelp-dev/kelp/internal/cloud"
)

func sized(name, cpu, mem string, price float64, extra ...string) cloud.InstanceType {
	rl := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(mem),
		corev1.ResourcePods: resource.MustParse("29")}
	for i := 0; i+1 < len(extra); i += 2 {
		rl[corev1.ResourceName(extra[i])] = resource.MustParse(extra[i+1])
	}
	return cloud.InstanceType{Name: name, Capacity: rl.DeepCopy(), Allocatable: rl, Price: price}
}

// TestLaunchableTemplate: a group whose cloud picks among types of
// different sizes is planned as its floor; one of a single size, or whose
// type kelp sets, keeps its types.
func TestLaunchableTemplate(t *testing.T) {
	large, large6 := sized("m5.large", "1930m", "7Gi", 0.035), sized("m6i.large", "1930m", "7Gi", 0.037)
	xlarge := sized("m5.xlarge", "3920m", "14Gi", 0.074)
	memLow := sized("c5.xlarge", "3920m", "6Gi", 0.06)
	gpu := sized("g4dn.xlarge", "3920m", "14Gi", 0.2, "nvidia.com/gpu", "1")
	for _, tc := range []struct {
		name      string
		picks     bool
		types     []cloud.InstanceType
		wantTypes []string
		wantCPU   string
		wantMem   string
		wantGPU   bool
	}{
		{"cloud picks, sizes differ: the smallest", true, []cloud.InstanceType{xlarge, large, large6}, []string{"m5.large"}, "1930m", "7Gi", false},
		{"cloud picks, one size: every type kept", true, []cloud.InstanceType{large, large6}, []string{"m5.large", "m6i.large"}, "1930m", "7Gi", false},
		{"kelp's own choice (no mixed policy): every type kept", false, []cloud.InstanceType{xlarge, large}, []string{"m5.xlarge", "m5.large"}, "3920m", "14Gi", false},
		{"no type dominates: the least of each resource", true, []cloud.InstanceType{memLow, xlarge}, []string{"c5.xlarge"}, "3920m", "6Gi", false},
		{"a resource one type lacks is not counted on", true, []cloud.InstanceType{gpu, xlarge}, []string{"g4dn.xlarge"}, "3920m", "14Gi", false},
		{"a resource every type has is kept", true, []cloud.InstanceType{gpu, sized("g5.xlarge", "3920m", "15Gi", 0.3, "nvidia.com/gpu", "1")},
			[]string{"g4dn.xlarge"}, "3920m", "14Gi", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := cloud.NodeGroup{ID: "g", MaxSize: 10, Template: cloud.NodeTemplate{InstanceTypes: tc.types, CloudPicksType: tc.picks,
				Labels: map[string]string{corev1.LabelInstanceTypeStable: tc.types[0].Name}}}
			g.Template.Capacity, g.Template.Allocatable = tc.types[0].Capacity, tc.types[0].Allocatable
			got := LaunchableTemplate(g)
			var names []string
			for _, it := range got.Template.InstanceTypes {
				names = append(names, it.Name)
			}
			if len(names) != len(tc.wantTypes) {
				t.Fatalf("types %v, want %v", names, tc.wantTypes)
			}
			for i := range names {
				if names[i] != tc.wantTypes[i] {
					t.Fatalf("types %v, want %v", names, tc.wantTypes)
				}
			}
			a := got.Template.Allocatable
			_, hasGPU := a["nvidia.com/gpu"]
			if a.Cpu().Cmp(resource.MustParse(tc.wantCPU)) != 0 || a.Memory().Cmp(resource.MustParse(tc.wantMem)) != 0 || hasGPU != tc.wantGPU {
				t.Fatalf("allocatable %v, want cpu %s memory %s gpu %v", a, tc.wantCPU, tc.wantMem, tc.wantGPU)
			}
			if it := got.Template.InstanceTypes[0]; !sameResources(it.Allocatable, a) || got.Template.Labels[corev1.LabelInstanceTypeStable] != it.Name {
				t.Fatalf("template %v / label %q disagree with its one type %+v", a, got.Template.Labels[corev1.LabelInstanceTypeStable], it)
			}
			if len(g.Template.InstanceTypes) != len(tc.types) || g.Template.Labels[corev1.LabelInstanceTypeStable] != tc.types[0].Name {
				t.Fatal("the group given was modified")
			}
		})
	}
}
