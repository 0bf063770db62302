package simulator

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// TestStaticVerdictsPerTemplate checks that nodes made from one template,
// in a snapshot and its forks, share one cached static verdict per pod
// spec, while pods whose predicates read the node's name still tell the
// nodes apart.
func TestStaticVerdictsPerTemplate(t *testing.T) {
	tmpl := catalogNode(t, "tmpl", "m5.large", "us-east-1a")
	tmpl.Spec.Taints = []corev1.Taint{{Key: "dedicated", Value: "batch", Effect: corev1.TaintEffectNoSchedule}}
	s := NewSnapshot()
	if err := s.AddTemplateNode(tmpl, "new-1", nil); err != nil {
		t.Fatal(err)
	}
	forks := []*Snapshot{s.Fork(), s.Fork()}
	for i, f := range forks {
		for _, name := range []string{"new-2", "new-3"}[:i+1] {
			if err := f.AddTemplateNode(tmpl, name, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	tolerate := func(p *corev1.Pod) {
		p.Spec.Tolerations = []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpExists}}
	}
	onHost := func(name string) podOpt {
		return func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{LabelHostname: name} }
	}
	byField := func(p *corev1.Pod) {
		p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
				MatchFields: []corev1.NodeSelectorRequirement{{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{"new-3"}}},
			}}}}}
	}
	for _, tc := range []struct {
		name string
		pod  *corev1.Pod
		want []string // nodes of forks[1] the pod fits
	}{
		{"untolerated", mkPod("p", requests("cpu", "100m")), nil},
		{"tolerated", mkPod("p", requests("cpu", "100m"), tolerate), []string{"new-1", "new-2", "new-3"}},
		{"hostname selector", mkPod("p", tolerate, onHost("new-2")), []string{"new-2"}},
		{"metadata.name field", mkPod("p", tolerate, byField), []string{"new-3"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := compiled(tc.pod)
			FitNodes(forks[0], p) // fills the cache from another fork first
			if got := FitNodes(forks[1], p).Fit; !slices.Equal(got, tc.want) {
				t.Errorf("fits %v, want %v", got, tc.want)
			}
			node, ok, err := NewPlacer(forks[1], p).PlaceFirstFit(p)
			if err != nil {
				t.Fatal(err)
			}
			if want := len(tc.want) > 0; ok != want || ok && node != tc.want[0] {
				t.Errorf("placer placed on %q (%v), want %v", node, ok, tc.want)
			}
		})
	}
	if n := len(s.fam.keyNodes); n != 1 {
		t.Errorf("%d static keys for one template, want 1", n)
	}
}
