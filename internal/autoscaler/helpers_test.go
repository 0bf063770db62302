package autoscaler

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kelp-dev/kelp/internal/catalog"
	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/simulator"
)

const zone = "us-east-1a"

// group returns a group of the catalog's instance types (the first is the
// primary) with on-demand prices, TargetSize 0 and the given MaxSize.
func group(tb testing.TB, id string, maxSize int, types ...string) cloud.NodeGroup {
	tb.Helper()
	t := cloud.NodeTemplate{CapacityType: catalog.CapacityTypeOnDemand, Zones: []string{zone}}
	for _, name := range types {
		it, err := catalog.Lookup(name)
		if err != nil {
			tb.Fatalf("catalog: %v", err)
		}
		t.InstanceTypes = append(t.InstanceTypes, cloud.InstanceType{Name: name, Architecture: it.Architecture.KubernetesArch(),
			Capacity: it.Capacity(), Allocatable: it.Allocatable(), Price: it.OnDemandPrice})
	}
	t.Labels = map[string]string{corev1.LabelTopologyZone: zone, "kelp.dev/pool": id, corev1.LabelOSStable: "linux"}
	if len(t.InstanceTypes) > 0 {
		t.Capacity, t.Allocatable = t.InstanceTypes[0].Capacity, t.InstanceTypes[0].Allocatable
		t.Labels[corev1.LabelInstanceTypeStable] = types[0]
	}
	return cloud.NodeGroup{ID: id, Pool: id, MaxSize: maxSize, Template: t}
}

func tainted(g cloud.NodeGroup, key string) cloud.NodeGroup {
	g.Template.Taints = []corev1.Taint{{Key: key, Value: "true", Effect: corev1.TaintEffectNoSchedule}}
	return g
}

// node returns a real node of the instance type.
func node(tb testing.TB, name, instanceType string) *corev1.Node {
	tb.Helper()
	it, err := catalog.Lookup(instanceType)
	if err != nil {
		tb.Fatalf("catalog: %v", err)
	}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
			corev1.LabelHostname: name, corev1.LabelTopologyZone: zone, corev1.LabelInstanceTypeStable: instanceType,
		}},
		Status: corev1.NodeStatus{Capacity: it.Capacity(), Allocatable: it.Allocatable()},
	}
}

func rl(kv ...string) corev1.ResourceList {
	out := corev1.ResourceList{}
	for i := 0; i+1 < len(kv); i += 2 {
		out[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
	}
	return out
}

// pod returns a pod of app with the requests (resource, quantity pairs).
func pod(name, app string, kv ...string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{"app": app}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c",
			Resources: corev1.ResourceRequirements{Requests: rl(kv...)}}}},
	}
}

// replicas returns n PodInfos named app-0 .. app-(n-1).
func replicas(n int, app string, kv ...string) []simulator.PodInfo {
	out := make([]simulator.PodInfo, n)
	for i := range out {
		out[i] = simulator.PodInfo{Pod: pod(fmt.Sprintf("%s-%d", app, i), app, kv...)}
	}
	return out
}

// cluster returns a snapshot of the nodes, each with the pods given for it.
func cluster(tb testing.TB, nodes []*corev1.Node, pods map[string][]*corev1.Pod) *simulator.Snapshot {
	tb.Helper()
	s := simulator.NewSnapshot()
	for _, n := range nodes {
		if err := s.AddNode(n); err != nil {
			tb.Fatal(err)
		}
		for _, p := range pods[n.Name] {
			if err := s.AddPod(n.Name, simulator.NewPod(simulator.PodInfo{Pod: p})); err != nil {
				tb.Fatal(err)
			}
		}
	}
	return s
}

// deltas renders the plan's increases as "group/type+delta" strings.
func deltas(p Plan) []string {
	var out []string
	for _, inc := range p.Increases {
		out = append(out, fmt.Sprintf("%s/%s+%d", inc.Group, inc.InstanceType, inc.Delta))
	}
	return out
}
