package loop

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/kelp-dev/kelp/internal/simulator"
)

// TestGatherReusesCompiledPods checks the compiled-pod cache: an unchanged
// pod is compiled once, a pod the informer replaced (changed) or deleted
// is seen as it is now, and the cache forgets the pods gone.
func TestGatherReusesCompiledPods(t *testing.T) {
	c := newBenchCluster(t, clusterSpec{nodes: 1, podsPerNode: 2, deployments: 2})
	pods := c.f.Core().V1().Pods().Informer().GetIndexer()
	gather := func() simulator.NodeInfo {
		t.Helper()
		f, err := c.a.l.gatherCluster(c.a.pods, *c.a.o.Pending, c.a.d.Clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		names := f.snapshot.NodeNames()
		if len(names) != 1 {
			t.Fatalf("nodes %v: want one", names)
		}
		info, _ := f.snapshot.Node(names[0])
		return info
	}
	first := gather()
	if len(first.Pods) != 2 || first.Requested.MilliCPU != 50+100 {
		t.Fatalf("first cycle: %d pods requesting %dm cpu, want 2 pods, 150m", len(first.Pods), first.Requested.MilliCPU)
	}
	second := gather()
	for i := range second.Pods {
		if second.Pods[i] != first.Pods[i] {
			t.Errorf("pod %s compiled again though unchanged", second.Pods[i].Key())
		}
	}

	// The informer replaces a changed pod with a new object.
	changed := first.Pods[1].Object().DeepCopy()
	changed.Spec.Containers[0].Resources.Requests[corev1.ResourceCPU] = resource.MustParse("1")
	if err := pods.Update(changed); err != nil {
		t.Fatal(err)
	}
	third := gather()
	if third.Requested.MilliCPU != 50+1000 {
		t.Errorf("after the pod changed: %dm cpu requested, want 1050m", third.Requested.MilliCPU)
	}
	if third.Pods[0] != first.Pods[0] || third.Pods[1] == first.Pods[1] {
		t.Errorf("after one pod changed: want the other reused and it compiled again")
	}

	if err := pods.Delete(changed); err != nil {
		t.Fatal(err)
	}
	fourth := gather()
	if len(fourth.Pods) != 1 || fourth.Requested.MilliCPU != 50 {
		t.Errorf("after the pod was deleted: %d pods, %dm cpu, want 1 pod, 50m", len(fourth.Pods), fourth.Requested.MilliCPU)
	}
	if n := len(c.a.pods.prev); n != 1 {
		t.Errorf("cache holds %d pods after the delete, want 1", n)
	}
}
