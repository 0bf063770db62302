package autoscaler_test

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kelp-dev/kelp/internal/autoscaler"
	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/simulator"
)

// The scale-down caller's loop: gather, plan with the unneeded times of the
// previous round, keep the plan's Unneeded for the next one, remove, report.
func ExamplePlanScaleDown() {
	// 1. Gather: three m5.large nodes of pool "general", each with one
	// ReplicaSet pod.
	g := pool("general", "m5.large", 10)
	g.TargetSize = 3
	snap := simulator.NewSnapshot()
	groupOf := map[string]string{}
	isController := true
	for i, cpu := range []string{"1200m", "300m", "200m"} {
		name := fmt.Sprintf("node-%d", i)
		it := g.Template.InstanceTypes[0]
		n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{corev1.LabelHostname: name}},
			Spec:   corev1.NodeSpec{ProviderID: "aws:///us-east-1a/i-" + name},
			Status: corev1.NodeStatus{Capacity: it.Capacity, Allocatable: it.Allocatable}}
		must(0, snap.AddNode(n))
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-" + name, Namespace: "default",
			OwnerReferences: []metav1.OwnerReference{{Kind: "ReplicaSet", Name: "web", Controller: &isController}}},
			Spec: corev1.PodSpec{NodeName: name, Containers: []corev1.Container{{Name: "c", Resources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}}}}}}
		must(0, snap.AddPod(name, simulator.NewPod(simulator.PodInfo{Pod: p})))
		g.Instances = append(g.Instances, cloud.Instance{ID: "i-" + name, ProviderID: n.Spec.ProviderID, State: cloud.InstanceStateRunning})
		groupOf[name] = g.ID
	}
	in := autoscaler.ScaleDownInput{Snapshot: snap, NodeGroups: groupOf, Groups: []cloud.NodeGroup{g},
		Options: autoscaler.DefaultScaleDownOptions()}
	start := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

	// 2. Plan twice, ten minutes apart, carrying the unneeded times over.
	var plan autoscaler.ScaleDownPlan
	for _, now := range []time.Time{start, start.Add(10 * time.Minute)} {
		in.Now = now
		plan = autoscaler.PlanScaleDown(in)
		in.UnneededSince = plan.Unneeded
	}

	// 3. Act: drain each removal (package drain), one at a time here.
	for _, r := range plan.Remove {
		fmt.Printf("remove %s (instance %s of %s), evicting %v\n", r.Node, r.InstanceID, r.Group, r.Evict)
	}
	// 4. Report every other node's reason.
	for _, name := range snap.NodeNames() {
		if b, ok := plan.Blocked[name]; ok {
			fmt.Printf("%s stays: %s\n", name, b.Reason)
		}
	}
	// Output:
	// remove node-2 (instance i-node-2 of general), evicting [default/web-node-2]
	// node-0 stays: NotUnderutilized
	// node-1 stays: MaxDrainParallelismReached
}
