package simulator_test

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kelp-dev/kelp/internal/catalog"
	"github.com/kelp-dev/kelp/internal/simulator"
)

func node(name, instanceType, zone string) *corev1.Node {
	it, _ := catalog.Lookup(instanceType)
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
			corev1.LabelHostname: name, corev1.LabelTopologyZone: zone,
		}},
		Status: corev1.NodeStatus{Allocatable: it.Allocatable()},
	}
}

func pod(name, cpu string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}}}}},
	}
}

// The caller's loop: build a snapshot, place pending replicas on existing
// nodes, then try a new node of a pool in a fork.
func Example() {
	// 1. Snapshot from the informer caches.
	s := simulator.NewSnapshot()
	_ = s.AddNode(node("ip-10-0-1-1", "m5.large", "us-east-1a"))
	_ = s.AddPod("ip-10-0-1-1", simulator.NewPod(simulator.PodInfo{Pod: pod("running", "1")}))

	// 2. One representative per equivalence class.
	pending := []*corev1.Pod{pod("web-0", "500m"), pod("web-1", "500m"), pod("web-2", "500m")}
	class := simulator.NewPod(simulator.PodInfo{Pod: pending[0]})
	if r := class.Unsupported(); r != simulator.ReasonNone {
		fmt.Println("cannot plan:", r)
		return
	}

	// 3. Place replicas first-fit on existing nodes.
	placer := simulator.NewPlacer(s, class)
	var left []*simulator.Pod
	for _, p := range pending {
		replica := class.Replica(p)
		if n, ok, err := placer.PlaceFirstFit(replica); err == nil && ok {
			fmt.Println(p.Name, "->", n)
		} else {
			fmt.Println(p.Name, "-> no existing node")
			left = append(left, replica)
		}
	}
	res := simulator.FitNodes(s, left[0])
	fmt.Println(left[0].Key(), "does not fit:", res.Reasons["ip-10-0-1-1"])

	// 4. Try a new node from the pool's template in a fork, with its
	// DaemonSet pods.
	template := node("pool-c5-template", "c5.large", "us-east-1b")
	ds := []*appsv1.DaemonSet{{ObjectMeta: metav1.ObjectMeta{Name: "kube-proxy", Namespace: "kube-system"},
		Spec: appsv1.DaemonSetSpec{Template: corev1.PodTemplateSpec{Spec: pod("", "100m").Spec}}}}
	try := s.Fork()
	_ = try.AddTemplateNode(template, "new-c5-1", simulator.DaemonSetPods(template, ds))
	ok, _ := simulator.Fits(try, left[0], "new-c5-1")
	overhead := simulator.DaemonSetOverhead(template, ds)
	fmt.Printf("fits a new c5.large: %v (daemonset overhead %dm cpu)\n", ok, overhead.MilliCPU)
	_, inParent := s.Node("new-c5-1")
	fmt.Println("parent unchanged:", !inParent)
	// Output:
	// web-0 -> ip-10-0-1-1
	// web-1 -> no existing node
	// web-2 -> no existing node
	// default/web-1 does not fit: Insufficient cpu
	// fits a new c5.large: true (daemonset overhead 100m cpu)
	// parent unchanged: true
}
