package scenario

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kelp-dev/kelp/internal/autoscaler"
	"github.com/kelp-dev/kelp/internal/catalog"
	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/simulator"
)

// Workload is the kind of pending pods a scenario holds.
type Workload string

// Workloads. Each is a set of classes (deployments) whose shapes and
// constraints are drawn as docs/benchmarks.md describes.
const (
	// UniformSmall is one class of identical small pods, each at most 1/8 of
	// the allocatable cpu and memory of every instance type its pools use.
	UniformSmall Workload = "uniform-small"
	// Mixed is classes of mixed sizes, no constraints.
	Mixed Workload = "mixed"
	// GPU is classes of which half (on average) request one GPU.
	GPU Workload = "gpu"
	// AntiAffinity is mixed classes of which half (on average) have
	// required hostname anti-affinity against their own replicas.
	AntiAffinity Workload = "anti-affinity"
	// ZoneSpread is mixed classes of which half (on average) spread over
	// zones with maxSkew 1 (DoNotSchedule).
	ZoneSpread Workload = "zone-spread"
	// MixedAll combines them: GPU, anti-affinity and zone spread classes
	// among mixed ones.
	MixedAll Workload = "mixed-all"
)

// Workloads lists every workload, in a stable order.
var Workloads = []Workload{UniformSmall, Mixed, GPU, AntiAffinity, ZoneSpread, MixedAll}

// Limits of a Spec.
const (
	MaxPools         = 100
	MaxExistingNodes = 5000
	MaxPendingPods   = 100000
)

// Zones are the zones pools are spread over, round-robin.
var Zones = []string{"us-east-1a", "us-east-1b", "us-east-1c"}

// Namespace is the namespace of the pending pods.
const Namespace = "bench"

// Spec describes a scenario. The same Spec always generates the same input.
type Spec struct {
	Seed     uint64
	Workload Workload
	// Pods is the number of pending pods (1..MaxPendingPods).
	Pods int
	// Pools is the number of node groups (1..MaxPools).
	Pools int
	// Nodes is the number of existing nodes (0..MaxExistingNodes).
	Nodes int
}

// String names the spec, e.g. "mixed/pods=100/pools=10/nodes=0/seed=1".
func (s Spec) String() string {
	return fmt.Sprintf("%s/pods=%d/pools=%d/nodes=%d/seed=%d", s.Workload, s.Pods, s.Pools, s.Nodes, s.Seed)
}

// Validate reports every problem of the spec at once.
func (s Spec) Validate() error {
	var errs []error
	if !slices.Contains(Workloads, s.Workload) {
		errs = append(errs, fmt.Errorf("workload %q: unknown (want one of %v)", s.Workload, Workloads))
	}
	if s.Pods < 1 || s.Pods > MaxPendingPods {
		errs = append(errs, fmt.Errorf("pods %d: want 1..%d", s.Pods, MaxPendingPods))
	}
	if s.Pools < 1 || s.Pools > MaxPools {
		errs = append(errs, fmt.Errorf("pools %d: want 1..%d", s.Pools, MaxPools))
	}
	if s.Nodes < 0 || s.Nodes > MaxExistingNodes {
		errs = append(errs, fmt.Errorf("nodes %d: want 0..%d", s.Nodes, MaxExistingNodes))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("scenario spec %s: %w", s, err)
	}
	return nil
}

// Generate builds the scenario's input: pending pods, pools, existing
// nodes with their pods, and one DaemonSet. Expanders, limits, backoffs
// and upcoming instances are left zero for the caller to set. Now is the
// zero time.
func Generate(s Spec) (autoscaler.Input, error) {
	if err := s.Validate(); err != nil {
		return autoscaler.Input{}, err
	}
	r := rand.New(rand.NewPCG(s.Seed, 0x6b656c70)) // "kelp"
	classes := drawClasses(r, s)
	in := autoscaler.Input{Snapshot: simulator.NewSnapshot(), DaemonSets: []*appsv1.DaemonSet{nodeAgent()}}
	for _, c := range classes {
		in.Pending = append(in.Pending, c.pods()...)
	}
	types := drawPoolTypes(r, s, classes)
	for i, ts := range types {
		g, err := newGroup(fmt.Sprintf("pool-%03d", i), Zones[i%len(Zones)], ts)
		if err != nil {
			return autoscaler.Input{}, fmt.Errorf("generate %s: %w", s, err)
		}
		g.MaxSize = s.Pods + s.Nodes // room for every pod on its own node
		in.Groups = append(in.Groups, g)
	}
	if err := addExisting(r, s, &in); err != nil {
		return autoscaler.Input{}, fmt.Errorf("generate %s: %w", s, err)
	}
	return in, nil
}

// classSpec is one drawn class of pending pods.
type classSpec struct {
	app                   string
	replicas              int
	milliCPU, memMiB, gpu int64
	anti, spread          bool
}

func (c classSpec) pods() []simulator.PodInfo {
	out := make([]simulator.PodInfo, c.replicas)
	for i := range out {
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%d", c.app, i), Namespace: Namespace,
				Labels: map[string]string{"app": c.app}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Resources: corev1.ResourceRequirements{
				Requests: c.requests()}}}},
		}
		sel := &metav1.LabelSelector{MatchLabels: map[string]string{"app": c.app}}
		if c.anti {
			p.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
				RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
					LabelSelector: sel, TopologyKey: corev1.LabelHostname}}}}
		}
		if c.spread {
			p.Spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{MaxSkew: 1,
				TopologyKey: corev1.LabelTopologyZone, WhenUnsatisfiable: corev1.DoNotSchedule, LabelSelector: sel}}
		}
		out[i] = simulator.PodInfo{Pod: p}
	}
	return out
}

func (c classSpec) requests() corev1.ResourceList {
	rl := corev1.ResourceList{
		corev1.ResourceCPU:    *resource.NewMilliQuantity(c.milliCPU, resource.DecimalSI),
		corev1.ResourceMemory: *resource.NewQuantity(c.memMiB<<20, resource.BinarySI),
	}
	if c.gpu > 0 {
		rl[catalog.ResourceNVIDIAGPU] = *resource.NewQuantity(c.gpu, resource.DecimalSI)
	}
	return rl
}

// Shapes the classes draw from (see docs/benchmarks.md).
var (
	smallMilliCPU = []int64{50, 100, 150, 200}
	smallMemMiB   = []int64{64, 128, 192, 256, 320, 384}
	mixedMilliCPU = []int64{100, 250, 500, 1000, 2000, 4000}
	mixedGiBCore  = []int64{1, 2, 4, 8} // memory per core
	gpuMilliCPU   = []int64{1000, 2000, 3000}
	gpuMemGiB     = []int64{4, 8, 12}
)

// constraintOdds are, per workload, the probabilities that a class
// requests a GPU, has hostname anti-affinity, spreads over zones.
var constraintOdds = map[Workload][3]float64{
	Mixed:        {0, 0, 0},
	GPU:          {0.5, 0, 0},
	AntiAffinity: {0, 0.5, 0},
	ZoneSpread:   {0, 0, 0.5},
	MixedAll:     {0.125, 0.25, 0.25},
}

// classCount is the number of classes: 1 for UniformSmall, else
// ⌈√pods / 2⌉ capped at pods.
func classCount(s Spec) int {
	if s.Workload == UniformSmall {
		return 1
	}
	return min(s.Pods, max(1, int(math.Ceil(math.Sqrt(float64(s.Pods))/2))))
}

func drawClasses(r *rand.Rand, s Spec) []classSpec {
	k := classCount(s)
	out := make([]classSpec, k)
	odds := constraintOdds[s.Workload]
	for i := range out {
		c := classSpec{app: fmt.Sprintf("app%02d", i), replicas: s.Pods / k}
		if i < s.Pods%k {
			c.replicas++
		}
		switch {
		case s.Workload == UniformSmall:
			c.milliCPU, c.memMiB = pick(r, smallMilliCPU), pick(r, smallMemMiB)
		case r.Float64() < odds[0]:
			c.milliCPU, c.memMiB, c.gpu = pick(r, gpuMilliCPU), pick(r, gpuMemGiB)<<10, 1
		default:
			c.milliCPU = pick(r, mixedMilliCPU)
			c.memMiB = max(128, c.milliCPU*pick(r, mixedGiBCore)*1024/1000)
		}
		c.anti = r.Float64() < odds[1]
		c.spread = r.Float64() < odds[2]
		out[i] = c
	}
	return out
}

func pick[T any](r *rand.Rand, s []T) T { return s[r.IntN(len(s))] }

// drawPoolTypes draws each pool's instance types, the primary first.
// Pools 0, 4, 8, ... draw from the GPU types when the workload has GPU
// classes; the others draw from the non-GPU types (for UniformSmall, only
// those its pods are at most 1/8 of). One pool in five (on average) is
// mixed-instance: two more types from the same list, duplicates dropped.
func drawPoolTypes(r *rand.Rand, s Spec, classes []classSpec) [][]string {
	var gpuTypes, general []string
	hasGPU := slices.ContainsFunc(classes, func(c classSpec) bool { return c.gpu > 0 })
	for _, it := range catalog.All() {
		switch {
		case it.GPU.Count > 0:
			gpuTypes = append(gpuTypes, it.Name)
		case s.Workload != UniformSmall || smallEnough(classes[0], it):
			general = append(general, it.Name)
		}
	}
	out := make([][]string, s.Pools)
	for i := range out {
		from := general
		if len(from) == 0 || hasGPU && i%4 == 0 {
			from = gpuTypes
		}
		ts := []string{pick(r, from)}
		if r.IntN(5) == 0 {
			ts = append(ts, pick(r, from), pick(r, from))
		}
		out[i] = dedupe(ts)
	}
	return out
}

// smallEnough reports whether a pod of c is at most 1/8 of the type's
// allocatable cpu and memory, and the type holds at least 8 pods besides
// the DaemonSet's.
func smallEnough(c classSpec, it catalog.InstanceType) bool {
	a := simulator.ResourcesFromList(it.Allocatable())
	return 8*c.milliCPU <= a.MilliCPU && 8*(c.memMiB<<20) <= a.Memory && a.Pods >= 9
}

func dedupe(s []string) []string {
	var out []string
	for _, v := range s {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// newGroup builds a group of the catalog's instance types in one zone, as
// the autoscaler's test helpers do: on-demand prices, the primary type's
// capacity and labels, no taints.
func newGroup(id, zone string, types []string) (cloud.NodeGroup, error) {
	t := cloud.NodeTemplate{CapacityType: catalog.CapacityTypeOnDemand, Zones: []string{zone}}
	for _, name := range types {
		it, err := catalog.Lookup(name)
		if err != nil {
			return cloud.NodeGroup{}, fmt.Errorf("group %s: %w", id, err)
		}
		t.InstanceTypes = append(t.InstanceTypes, cloud.InstanceType{Name: name, Architecture: it.Architecture.KubernetesArch(),
			Capacity: it.Capacity(), Allocatable: it.Allocatable(), Price: it.OnDemandPrice})
	}
	t.Labels = map[string]string{corev1.LabelTopologyZone: zone, "kelp.dev/pool": id, corev1.LabelOSStable: "linux",
		corev1.LabelInstanceTypeStable: types[0], corev1.LabelArchStable: t.InstanceTypes[0].Architecture}
	t.Capacity, t.Allocatable = t.InstanceTypes[0].Capacity, t.InstanceTypes[0].Allocatable
	return cloud.NodeGroup{ID: id, Pool: id, Template: t}, nil
}

// nodeAgent is the scenario's DaemonSet: 100m cpu and 128Mi on every node.
func nodeAgent() *appsv1.DaemonSet {
	return &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "node-agent", Namespace: "kube-system"},
		Spec: appsv1.DaemonSetSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "agent", Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
				corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")}}}}}}}}
}

// addExisting adds the existing nodes: node j belongs to pool j mod
// pools, has one of the pool's types (uniformly), the node agent's pod and
// a fill pod taking a fraction U[0.5, 1) of the cpu and, independently, of
// the memory left, and every GPU.
func addExisting(r *rand.Rand, s Spec, in *autoscaler.Input) error {
	for j := range s.Nodes {
		g := &in.Groups[j%len(in.Groups)]
		g.TargetSize++
		it := pick(r, g.Template.InstanceTypes)
		t, _ := g.Template.ForInstanceType(it.Name)
		name := fmt.Sprintf("node-%05d", j)
		n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: t.Labels},
			Status: corev1.NodeStatus{Capacity: t.Capacity, Allocatable: t.Allocatable}}
		n.Labels[corev1.LabelHostname] = name
		if err := in.Snapshot.AddNode(n); err != nil {
			return err
		}
		free := simulator.ResourcesFromList(t.Allocatable)
		for _, p := range simulator.DaemonSetPods(n, in.DaemonSets) {
			if err := in.Snapshot.AddPod(name, p); err != nil {
				return err
			}
			free.Sub(p.Requests())
		}
		fill := classSpec{app: "fill", replicas: 1,
			milliCPU: int64(float64(free.MilliCPU) * (0.5 + r.Float64()/2)),
			memMiB:   int64(float64(free.Memory>>20) * (0.5 + r.Float64()/2)),
			gpu:      free.Scalar[catalog.ResourceNVIDIAGPU]}
		p := fill.pods()[0].Pod
		p.Name, p.Namespace = "fill-"+name, "existing"
		if err := in.Snapshot.AddPod(name, simulator.NewPod(simulator.PodInfo{Pod: p})); err != nil {
			return err
		}
	}
	return nil
}
