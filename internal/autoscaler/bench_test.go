package autoscaler

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kelp-dev/kelp/internal/catalog"
	"github.com/kelp-dev/kelp/internal/simulator"
)

// benchZones are the zones of the benchmark's nodes and groups.
var benchZones = []string{"us-east-1a", "us-east-1b", "us-east-1c"}

// benchInput builds the target scenario: existing m5.large nodes
// nearly full, over three zones; groups cycling through the catalog (every
// fifth mixed-instance) and the zones; pending pods of mixed sizes: 16
// plain classes (one of them GPU), three deployments with required
// hostname anti-affinity against their own app label (pods/50 replicas
// each) and two with zone topology spread (DoNotSchedule, maxSkew 1,
// pods/20 replicas each).
func benchInput(b *testing.B, pods, groups, nodes int) Input {
	in := Input{Snapshot: simulator.NewSnapshot()}
	for i := range nodes {
		n := node(b, fmt.Sprintf("existing-%d", i), "m5.large")
		n.Labels[corev1.LabelTopologyZone] = benchZones[i%len(benchZones)]
		if err := in.Snapshot.AddNode(n); err != nil {
			b.Fatal(err)
		}
		fill := simulator.NewPod(simulator.PodInfo{Pod: pod(fmt.Sprintf("fill-%d", i), "fill", "cpu", "1800m")})
		if err := in.Snapshot.AddPod(n.Name, fill); err != nil {
			b.Fatal(err)
		}
	}
	types := catalog.Names()
	for i := range groups {
		ts := []string{types[i%len(types)]}
		if i%5 == 0 {
			ts = append(ts, types[(i+7)%len(types)], types[(i+13)%len(types)])
		}
		g := group(b, fmt.Sprintf("g%03d", i), 100000, dedupe(ts)...)
		z := benchZones[i%len(benchZones)]
		g.Template.Zones = []string{z}
		g.Template.Labels[corev1.LabelTopologyZone] = z
		in.Groups = append(in.Groups, g)
	}
	const anti, spread = 3, 2
	antiN, spreadN := pods/50, pods/20
	const plain = 16
	plainN := (pods - anti*antiN - spread*spreadN) / plain
	for c := range plain {
		kv := []string{"cpu", fmt.Sprintf("%dm", 250*(1+c%8)), "memory", fmt.Sprintf("%dMi", 256*(1+c%16))}
		if c == plain-1 {
			kv = append(kv, "nvidia.com/gpu", "1")
		}
		n := plainN
		if c == 0 { // the total stays pods
			n = pods - anti*antiN - spread*spreadN - (plain-1)*plainN
		}
		in.Pending = append(in.Pending, replicas(n, fmt.Sprintf("app%d", c), kv...)...)
	}
	for c := range anti {
		app := fmt.Sprintf("anti%d", c)
		for _, p := range replicas(antiN, app, "cpu", fmt.Sprintf("%dm", 500*(1+c)), "memory", "1Gi") {
			p.Pod.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
				RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
					TopologyKey:   corev1.LabelHostname,
					LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}},
				}},
			}}
			in.Pending = append(in.Pending, p)
		}
	}
	for c := range spread {
		app := fmt.Sprintf("spread%d", c)
		for _, p := range replicas(spreadN, app, "cpu", fmt.Sprintf("%dm", 250*(1+c)), "memory", "512Mi") {
			p.Pod.Spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{
				MaxSkew: 1, TopologyKey: corev1.LabelTopologyZone, WhenUnsatisfiable: corev1.DoNotSchedule,
				LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}},
			}}
			in.Pending = append(in.Pending, p)
		}
	}
	return in
}

var benchSizes = []struct{ pods, groups, nodes int }{
	{100, 10, 100},
	{1000, 10, 500},
	{10000, 100, 5000},
}

func BenchmarkPlanScaleUp(b *testing.B) {
	for _, sz := range benchSizes {
		b.Run(fmt.Sprintf("pods=%d/groups=%d/nodes=%d", sz.pods, sz.groups, sz.nodes), func(b *testing.B) {
			benchPlan(b, benchInput(b, sz.pods, sz.groups, sz.nodes), false)
		})
	}
}

// BenchmarkPlanScaleUpReference plans the same inputs pod by pod, without
// the Packer: the figures the fast path is compared with (same plans). The
// 10,000-pod size is left out: pod by pod it takes about 16 minutes.
func BenchmarkPlanScaleUpReference(b *testing.B) {
	for _, sz := range benchSizes[:2] {
		b.Run(fmt.Sprintf("pods=%d/groups=%d/nodes=%d", sz.pods, sz.groups, sz.nodes), func(b *testing.B) {
			benchPlan(b, benchInput(b, sz.pods, sz.groups, sz.nodes), true)
		})
	}
}

func benchPlan(b *testing.B, in Input, reference bool) {
	var p Plan
	var pl *planner
	start := cpuTime(b)
	for b.Loop() {
		pl = newPlanner(in)
		pl.reference = reference
		p, _ = pl.run()
	}
	// CPU time (all threads, GC included) is steadier than wall time on a
	// shared machine.
	b.ReportMetric((cpuTime(b)-start).Seconds()/float64(b.N), "cpu-s/op")
	b.ReportMetric(float64(pl.rounds), "rounds")
	b.ReportMetric(float64(p.Totals.Nodes), "nodes")
	b.ReportMetric(p.Totals.Cost, "$/h")
	b.ReportMetric(float64(len(p.Unschedulable)), "unschedulable")
	b.ReportMetric(float64(len(p.Increases)), "increases")
}

// cpuTime returns the process's user and system CPU time.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
