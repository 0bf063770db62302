package autoscaler_test

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kelp-dev/kelp/internal/autoscaler"
	"github.com/kelp-dev/kelp/internal/catalog"
	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/simulator"
)

func pool(id, instanceType string, maxSize int) cloud.NodeGroup {
	it, _ := catalog.Lookup(instanceType)
	t := cloud.InstanceType{Name: it.Name, Capacity: it.Capacity(), Allocatable: it.Allocatable(), Price: it.OnDemandPrice}
	return cloud.NodeGroup{ID: id, Pool: id, MaxSize: maxSize, Template: cloud.NodeTemplate{
		InstanceTypes: []cloud.InstanceType{t}, Zones: []string{"us-east-1a"},
		Labels: map[string]string{corev1.LabelTopologyZone: "us-east-1a", "kelp.dev/pool": id},
	}}
}

// The caller's loop: gather facts into an Input, plan, act on the
// increases, report the rest from the plan's reasons.
func Example() {
	// 1. Gather (from informers and cloud.GroupLister in the controller).
	chain, err := autoscaler.ParseExpanders("priority,least-waste", autoscaler.ExpanderDeps{
		Priorities: must(autoscaler.ParsePriorities("10:\n  - general\n")),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	var pending []simulator.PodInfo
	for i := range 40 {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("web-%d", i), Namespace: "default"},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Resources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m")}}}}}}
		pending = append(pending, simulator.PodInfo{Pod: p})
	}
	huge := pending[0].Pod.DeepCopy()
	huge.Name = "huge"
	huge.Spec.Containers[0].Resources.Requests[corev1.ResourceCPU] = resource.MustParse("100")
	pending = append(pending, simulator.PodInfo{Pod: huge})

	in := autoscaler.Input{
		Snapshot:  simulator.NewSnapshot(), // Ready nodes and their bound pods
		Pending:   pending,
		Groups:    []cloud.NodeGroup{pool("general", "m5.large", 10), pool("compute", "c5.xlarge", 10)},
		Limits:    autoscaler.Limits{MaxNodesTotal: 100},
		Expanders: chain,
		Now:       time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC),
	}

	// 2. Plan.
	plan := autoscaler.PlanScaleUp(in)

	// 3. Act: SetTargetSize(TargetSize+Delta) per increase (cloud.Scaler).
	for _, inc := range plan.Increases {
		fmt.Printf("grow %s by %d %s for %d pods: %s\n", inc.Group, inc.Delta, inc.InstanceType, len(inc.Pods), inc.Reason)
	}
	// 4. Report: NotTriggerScaleUp events from the reasons.
	for pod, why := range plan.Unschedulable {
		fmt.Printf("%s: general: %s; compute: %s\n", pod, why["general"], why["compute"])
	}
	// Output:
	// grow general by 10 m5.large for 30 pods: 30 pending pod(s) fit 10 new m5.large node(s) (chosen by priority of 2 option(s))
	// grow compute by 2 c5.xlarge for 10 pods: 10 pending pod(s) fit 2 new c5.xlarge node(s) (the only option of 1 option(s))
	// default/huge: general: Insufficient cpu; compute: Insufficient cpu
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
