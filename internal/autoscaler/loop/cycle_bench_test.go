package loop

import (
	"context"
	"fmt"
	"runtime/metrics"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"
	testclock "k8s.io/utils/clock/testing"

	"github.com/kelp-dev/kelp/internal/cachetrim"
	"github.com/kelp-dev/kelp/internal/cloud"
)

// clusterSpec is the shape of a benchmarked cluster: nodes of m5.xlarge
// (58 pods) in one group per zone, each running the daemonSets' pods and
// podsPerNode pods of deployments Deployments (spread over the nodes
// round-robin), except the last idle nodes, which run idlePods each.
// pending pods (1 cpu, 2Gi: they need new nodes) are unschedulable. A
// pdb in every fourth deployment allows one disruption.
type clusterSpec struct {
	nodes, podsPerNode, deployments, daemonSets, idle, idlePods, pending int
}

// scaleSpec is issue 15's scale benchmark at its end: 1,000 nodes, 30,000
// pods (27 of 40 deployments and 3 DaemonSets a node), 2 % more pending.
var scaleSpec = clusterSpec{nodes: 1000, podsPerNode: 27, deployments: 40, daemonSets: 3, idle: 20, idlePods: 4}

var benchZones = []string{"us-east-1a", "us-east-1b", "us-east-1c"}

// benchCluster holds an Autoscaler whose informer caches hold the
// cluster of a clusterSpec (filled directly, no API server), over a fake
// cloud, a fake clientset (the status ConfigMap) and a fake clock.
type benchCluster struct {
	a     *Autoscaler
	cloud *fakeCloud
	clock *testclock.FakeClock
	f     informers.SharedInformerFactory
}

func newBenchCluster(b testing.TB, s clusterSpec) *benchCluster {
	b.Helper()
	clock := testclock.NewFakeClock(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC))
	fc := &fakeCloud{refuse: map[string]error{}}
	for _, z := range benchZones {
		g := testGroup(b, "general-"+z[len(z)-1:], "m5.xlarge", 0, 2000)
		g.Template.Zones = []string{z}
		g.Template.Labels[corev1.LabelTopologyZone] = z
		fc.groups = append(fc.groups, g)
	}
	client := fake.NewClientset()
	f := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithTransform(cachetrim.Transform))
	a, err := New(Options{ScaleDownEnabled: true}, Deps{
		Client: client, Informers: f, Groups: fc, Scaler: fc, Recorder: &record.FakeRecorder{},
		Metrics: NewMetrics(prometheus.NewRegistry()), Clock: clock,
	})
	if err != nil {
		b.Fatal(err)
	}
	c := &benchCluster{a: a, cloud: fc, clock: clock, f: f}
	c.fill(b, s)
	return c
}

// add puts obj, trimmed as the controller's informers trim it, in the
// informer cache of its type.
func (c *benchCluster) add(b testing.TB, obj any) {
	obj, _ = cachetrim.Transform(obj)
	var err error
	switch o := obj.(type) {
	case *corev1.Node:
		err = c.f.Core().V1().Nodes().Informer().GetIndexer().Add(o)
	case *corev1.Pod:
		err = c.f.Core().V1().Pods().Informer().GetIndexer().Add(o)
	case *corev1.Namespace:
		err = c.f.Core().V1().Namespaces().Informer().GetIndexer().Add(o)
	case *appsv1.DaemonSet:
		err = c.f.Apps().V1().DaemonSets().Informer().GetIndexer().Add(o)
	case *policyv1.PodDisruptionBudget:
		err = c.f.Policy().V1().PodDisruptionBudgets().Informer().GetIndexer().Add(o)
	default:
		err = fmt.Errorf("unexpected %T", obj)
	}
	if err != nil {
		b.Fatal(err)
	}
}

func (c *benchCluster) fill(b testing.TB, s clusterSpec) {
	for _, ns := range []string{"kube-system", "monitoring", "apps"} {
		c.add(b, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{"kubernetes.io/metadata.name": ns}}})
	}
	dsNS := []string{"kube-system", "monitoring", "kube-system"}
	for d := range s.daemonSets {
		ds := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("ds%d", d), Namespace: dsNS[d%3], UID: types.UID(uid("ds", d))}}
		ds.Spec.Template.Labels = map[string]string{"app": ds.Name}
		ds.Spec.Template.Spec.Containers = []corev1.Container{container("50m", "64Mi")}
		c.add(b, ds)
	}
	for d := 0; d < s.deployments; d += 4 {
		one := intstr.FromInt32(1)
		c.add(b, &policyv1.PodDisruptionBudget{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("dep%d", d), Namespace: "apps"},
			Spec: policyv1.PodDisruptionBudgetSpec{MaxUnavailable: &one,
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": fmt.Sprintf("dep%d", d)}}},
			Status: policyv1.PodDisruptionBudgetStatus{DisruptionsAllowed: 1},
		})
	}
	seq := 0
	for i := range s.nodes {
		z := benchZones[i%len(benchZones)]
		gi := i % len(benchZones)
		name := fmt.Sprintf("ip-10-%d-%d-%d.ec2.internal", gi, i/250, i%250)
		inst := cloud.Instance{ID: fmt.Sprintf("i-%017x", i), AvailabilityZone: z, InstanceType: "m5.xlarge",
			State: cloud.InstanceStateRunning, PrivateDNSName: name, LaunchTime: c.clock.Now().Add(-time.Hour)}
		inst.ProviderID = "aws:///" + z + "/" + inst.ID
		g := &c.cloud.groups[gi]
		g.Instances = append(g.Instances, inst)
		g.TargetSize++
		c.add(b, benchNode(g, name, inst.ProviderID, c.clock.Now().Add(-time.Hour)))
		for d := range s.daemonSets {
			p := benchPod(fmt.Sprintf("ds%d-%s", d, inst.ID[2:]), dsNS[d%3], fmt.Sprintf("ds%d", d), "DaemonSet", uid("ds", d), "50m", "64Mi")
			p.Spec.NodeName = name
			c.add(b, p)
		}
		n := s.podsPerNode
		if i >= s.nodes-s.idle {
			n = s.idlePods
		}
		for range n {
			c.add(b, deploymentPod(seq, seq%s.deployments, name))
			seq++
		}
	}
	for i := range s.pending {
		p := benchPod(fmt.Sprintf("burst-%d", i), "apps", "burst", "ReplicaSet", uid("rs-burst", 0), "1", "2Gi")
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable}}
		c.add(b, p)
	}
}

// deploymentPod is pod i of deployment d, bound to node: requests cycle
// through 50m–200m cpu and 128Mi–768Mi memory by deployment; every tenth
// deployment spreads over zones, every seventh prefers other hosts.
func deploymentPod(i, d int, node string) *corev1.Pod {
	app := fmt.Sprintf("dep%d", d)
	cpu := fmt.Sprintf("%dm", 50*(1+d%4))
	mem := fmt.Sprintf("%dMi", 128*(1+d%6))
	p := benchPod(fmt.Sprintf("%s-7d9f8c-%05d", app, i), "apps", app, "ReplicaSet", uid("rs", d), cpu, mem)
	p.Spec.NodeName = node
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}}
	if d%10 == 3 {
		p.Spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: corev1.LabelTopologyZone,
			WhenUnsatisfiable: corev1.DoNotSchedule, LabelSelector: sel}}
	}
	if d%7 == 5 {
		p.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{
			Weight: 100, PodAffinityTerm: corev1.PodAffinityTerm{TopologyKey: corev1.LabelHostname, LabelSelector: sel}}}}}
	}
	return p
}

func uid(kind string, i int) string { return fmt.Sprintf("%s-%04d-uid", kind, i) }

func container(cpu, mem string) corev1.Container {
	req := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(mem)}
	return corev1.Container{Name: "main", Image: "registry.example/app:1.0", Resources: corev1.ResourceRequirements{Requests: req}}
}

// benchPod is a Running pod of the controller kind/owner (not bound).
func benchPod(name, ns, app, kind, owner, cpu, mem string) *corev1.Pod {
	yes := true
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, UID: types.UID("uid-" + name), Labels: map[string]string{"app": app, "pod-template-hash": "7d9f8c"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: kind, Name: app, UID: types.UID(owner), Controller: &yes}}},
		Spec:   corev1.PodSpec{Containers: []corev1.Container{container(cpu, mem)}, TerminationGracePeriodSeconds: new(int64)},
		Status: corev1.PodStatus{Phase: corev1.PodRunning},
	}
}

// benchNode is a Ready node of g's template.
func benchNode(g *cloud.NodeGroup, name, providerID string, created time.Time) *corev1.Node {
	labels := map[string]string{corev1.LabelHostname: name}
	for k, v := range g.Template.Labels {
		labels[k] = v
	}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels, UID: types.UID("uid-" + name), CreationTimestamp: metav1.NewTime(created)},
		Spec:       corev1.NodeSpec{ProviderID: providerID},
		Status: corev1.NodeStatus{Capacity: g.Template.Capacity, Allocatable: g.Template.Allocatable,
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}},
	}
}

// BenchmarkCycle runs RunOnce on a cluster of 1,000 nodes and 30,000
// pods, after a first cycle (not timed) that reacts to what there is:
// "idle" has no pending pod, so every cycle evaluates scale-down;
// "pending" has 600 pending pods (2 %) waiting for the nodes the first
// cycle asked for, so every cycle plans them again and skips scale-down;
// "scale-in" has 300 of the nodes underutilized (4 pods each), more than
// scale-down's candidates pool (100 at 1,000 nodes) simulates a cycle.
// It reports cpu-s/op (the process's CPU time, GC included) beside ns/op:
// the machine is shared.
func BenchmarkCycle(b *testing.B) {
	for _, v := range []struct {
		name          string
		pending, idle int
	}{{"idle", 0, scaleSpec.idle}, {"pending", 600, scaleSpec.idle}, {"scale-in", 0, 300}} {
		s := scaleSpec
		s.pending, s.idle = v.pending, v.idle
		b.Run(fmt.Sprintf("nodes=%d/%s", s.nodes, v.name), func(b *testing.B) {
			c := newBenchCluster(b, s)
			ctx := context.Background()
			if _, err := c.a.RunOnce(ctx); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			var cyc Cycle
			start := cpuTime(b)
			for b.Loop() {
				c.clock.Step(10 * time.Second)
				var err error
				if cyc, err = c.a.RunOnce(ctx); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric((cpuTime(b)-start).Seconds()/float64(b.N), "cpu-s/op")
			b.ReportMetric(float64(len(cyc.ScaleDown.Unneeded)), "unneeded")
			b.ReportMetric(float64(len(cyc.Applied)), "applied")
		})
	}
}

// cpuTime returns the process's user and system CPU time.
func cpuTime(b testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkCyclePhases runs the cycles of BenchmarkCycle and reports the
// CPU time and allocations of each phase of RunOnce, per cycle:
// <phase>-cpu-ms and <phase>-allocs (cloud: refresh and list the groups;
// gather: snapshot from the informer caches; failures: failed launches
// and arrivals; scale-up: plan and apply; scale-down: evaluate every node;
// report: status and events).
func BenchmarkCyclePhases(b *testing.B) {
	for _, pending := range []int{0, 600} {
		s := scaleSpec
		s.pending = pending
		b.Run(fmt.Sprintf("nodes=%d/pending=%d", s.nodes, pending), func(b *testing.B) {
			c := newBenchCluster(b, s)
			ctx := context.Background()
			if _, err := c.a.RunOnce(ctx); err != nil {
				b.Fatal(err)
			}
			cpu, allocs := map[string]time.Duration{}, map[string]uint64{}
			var order []string
			var lastCPU time.Duration
			var lastAllocs uint64
			c.a.onPhase = func(name string) {
				t, n := cpuTime(b), heapAllocs()
				if _, ok := cpu[name]; !ok {
					order = append(order, name)
				}
				cpu[name] += t - lastCPU
				allocs[name] += n - lastAllocs
				lastCPU, lastAllocs = cpuTime(b), heapAllocs()
			}
			for b.Loop() {
				c.clock.Step(10 * time.Second)
				lastCPU, lastAllocs = cpuTime(b), heapAllocs()
				if _, err := c.a.RunOnce(ctx); err != nil {
					b.Fatal(err)
				}
			}
			for _, name := range order {
				b.ReportMetric(float64(cpu[name].Microseconds())/1000/float64(b.N), name+"-cpu-ms")
				b.ReportMetric(float64(allocs[name])/float64(b.N), name+"-allocs")
			}
		})
	}
}

// heapAllocs returns the count of heap objects allocated so far.
func heapAllocs() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:objects"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}
