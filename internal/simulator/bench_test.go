package simulator

import (
	"fmt"
	"math/rand/v2"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// benchCluster builds n nodes of mixed catalog types over three zones with
// a few system pods each (seeded, reproducible).
func benchCluster(b *testing.B, n int) *Snapshot {
	b.Helper()
	rng := rand.New(rand.NewPCG(42, 1))
	types := []string{"m5.xlarge", "m5.2xlarge", "c5.xlarge", "r5.xlarge", "m6i.xlarge"}
	zones := []string{"us-east-1a", "us-east-1b", "us-east-1c"}
	s := NewSnapshot()
	for i := range n {
		name := fmt.Sprintf("ip-10-%d-%d", i/250, i%250)
		mustAddNode(b, s, catalogNode(b, name, types[rng.IntN(len(types))], zones[i%3]))
		for j := range 3 {
			mustAddPod(b, s, name, mkPod(fmt.Sprintf("sys-%d-%d", i, j), withLabels("app", "system"), requests("cpu", "100m", "memory", "128Mi")))
		}
	}
	return s
}

func BenchmarkFitNodes5000(b *testing.B) {
	s := benchCluster(b, 5000)
	p := compiled(mkPod("p", requests("cpu", "500m", "memory", "1Gi")))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if res := FitNodes(s, p); len(res.Fit) == 0 {
			b.Fatal("nothing fits")
		}
	}
}

func BenchmarkFitNodes5000ZoneSpread(b *testing.B) {
	s := benchCluster(b, 5000)
	p := compiled(mkPod("p", withLabels("app", "system"), requests("cpu", "500m"), spread(LabelZone, 1, nil, "app", "system")))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		FitNodes(s, p)
	}
}

// placeAll places 10,000 pods first-fit on a fork of a 5,000-node cluster,
// one Placer per equivalence class.
func placeAll(b *testing.B, s *Snapshot, pods []*corev1.Pod) {
	f := s.Fork()
	placers := map[string]*Placer{}
	classes := map[string]*Pod{}
	placed := 0
	for _, pod := range pods {
		key := EquivalenceKey(pod)
		c, ok := classes[key]
		if !ok {
			c = compiled(pod)
			classes[key] = c
			placers[key] = NewPlacer(f, c)
		}
		if _, ok, err := placers[key].PlaceFirstFit(c.Replica(pod)); err != nil {
			b.Fatal(err)
		} else if ok {
			placed++
		}
	}
	b.ReportMetric(float64(placed), "placed")
}

func BenchmarkPlace10000Uniform(b *testing.B) {
	s := benchCluster(b, 5000)
	pods := make([]*corev1.Pod, 10000)
	for i := range pods {
		pods[i] = mkPod(fmt.Sprintf("web-%d", i), requests("cpu", "250m", "memory", "512Mi"))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		placeAll(b, s, pods)
	}
}

// BenchmarkPlace10000Mixed: four deployments of mixed sizes, one with
// hostname anti-affinity, one with zone spread, interleaved.
func BenchmarkPlace10000Mixed(b *testing.B) {
	s := benchCluster(b, 5000)
	kinds := []func(int) *corev1.Pod{
		func(i int) *corev1.Pod {
			return mkPod(fmt.Sprintf("small-%d", i), withLabels("app", "small"), requests("cpu", "100m", "memory", "128Mi"))
		},
		func(i int) *corev1.Pod {
			return mkPod(fmt.Sprintf("big-%d", i), withLabels("app", "big"), requests("cpu", "1500m", "memory", "4Gi"))
		},
		func(i int) *corev1.Pod {
			return mkPod(fmt.Sprintf("anti-%d", i), withLabels("app", "anti"), requests("cpu", "500m", "memory", "1Gi"),
				antiAffinity(LabelHostname, "app", "anti"))
		},
		func(i int) *corev1.Pod {
			return mkPod(fmt.Sprintf("spread-%d", i), withLabels("app", "spread"), requests("cpu", "250m", "memory", "512Mi"),
				spread(LabelZone, 1, nil, "app", "spread"))
		},
	}
	pods := make([]*corev1.Pod, 10000)
	for i := range pods {
		pods[i] = kinds[i%len(kinds)](i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		placeAll(b, s, pods)
	}
}

func BenchmarkFork5000(b *testing.B) {
	s := benchCluster(b, 5000)
	p := compiled(mkPod("p", requests("cpu", "100m")))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		f := s.Fork()
		if err := f.AddPod("ip-10-0-0", p); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStaticFit5000 evaluates the static predicates (taints with a
// toleration, nodeSelector, required node affinity) of one compiled pod
// against 5,000 tainted nodes, uncached: the cost of a class's first
// FitNodes or Placer on a cluster.
func BenchmarkStaticFit5000(b *testing.B) {
	s := benchCluster(b, 5000)
	var nodes []*corev1.Node
	for _, name := range s.NodeNames() {
		info, _ := s.Node(name)
		n := info.Node.DeepCopy()
		n.Spec.Taints = []corev1.Taint{{Key: "dedicated", Value: "batch", Effect: corev1.TaintEffectNoSchedule},
			{Key: "soft", Effect: corev1.TaintEffectPreferNoSchedule}}
		nodes = append(nodes, n)
	}
	pod := mkPod("p", requests("cpu", "500m"), nodeAffinity(corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{
		{Key: LabelZone, Operator: corev1.NodeSelectorOpIn, Values: []string{"us-east-1a", "us-east-1b"}},
	}}))
	pod.Spec.NodeSelector = map[string]string{corev1.LabelArchStable: "amd64"}
	pod.Spec.Tolerations = []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "batch", Effect: corev1.TaintEffectNoSchedule}}
	p := compiled(pod)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		fit := 0
		for _, n := range nodes {
			if p.staticFit(n) == ReasonNone {
				fit++
			}
		}
		if fit == 0 {
			b.Fatal("nothing fits")
		}
	}
}

// BenchmarkNewPod compiles a pod with init containers, sidecars, node
// affinity and tolerations: the cost per equivalence class.
func BenchmarkNewPod(b *testing.B) {
	pod := mkPod("p", requests("cpu", "500m", "memory", "1Gi"), nodeAffinity(corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{
		{Key: LabelZone, Operator: corev1.NodeSelectorOpIn, Values: []string{"us-east-1a", "us-east-1b"}},
	}}))
	always := corev1.ContainerRestartPolicyAlways
	pod.Spec.InitContainers = []corev1.Container{
		{Name: "init", Resources: corev1.ResourceRequirements{Requests: pod.Spec.Containers[0].Resources.Requests}},
		{Name: "sidecar", RestartPolicy: &always, Resources: corev1.ResourceRequirements{Requests: pod.Spec.Containers[0].Resources.Requests}},
	}
	pod.Spec.Tolerations = []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpExists}}
	b.ReportAllocs()
	for b.Loop() {
		NewPod(PodInfo{Pod: pod})
	}
}
