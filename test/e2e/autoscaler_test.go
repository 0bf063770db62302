package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"

	"github.com/kelp-dev/kelp/internal/autoscaler/loop"
	"github.com/kelp-dev/kelp/internal/catalog"
	"github.com/kelp-dev/kelp/internal/controller"
	"github.com/kelp-dev/kelp/internal/localcloud"
	"github.com/kelp-dev/kelp/internal/localup"
	"github.com/kelp-dev/kelp/internal/pool"
	"github.com/kelp-dev/kelp/internal/testenv"
)

// TestAutoscalerScaleUp runs kelp's autoscaler on a local cluster with four
// pools, with no human in the loop:
//   - a Deployment of 40 replicas × 500m on the pool of 2-vCPU nodes ends
//     with all 40 Running, placed by the real kube-scheduler, on no more
//     nodes than the packing bound (3 such pods per m5.large);
//   - a GPU pod grows only the GPU pool;
//   - a pod that fits no pool gets a NotTriggerScaleUp event naming why,
//     and no node is added;
//   - a pool whose launches all fail is backed off and its pods land on
//     the next pool.
func TestAutoscalerScaleUp(t *testing.T) {
	release, err := testenv.AcquireSlot()
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	cfg := localup.Config{
		Dir: filepath.Join(t.TempDir(), "as"), Name: "as",
		Pools: &pool.Config{Pools: []pool.Spec{
			{Name: "general", InstanceTypes: []string{"m5.large"}, MinSize: 0, MaxSize: 20},
			{Name: "gpu", InstanceTypes: []string{"g4dn.xlarge"}, MinSize: 0, MaxSize: 2},
			{Name: "flaky", InstanceTypes: []string{"c5.large"}, MinSize: 0, MaxSize: 5, Labels: map[string]string{"kelp.dev/workload": "failover"}},
			{Name: "steady", InstanceTypes: []string{"m6i.large"}, MinSize: 0, MaxSize: 5, Labels: map[string]string{"kelp.dev/workload": "failover"}},
		}},
		Faults: localcloud.Faults{LaunchFailures: []localcloud.LaunchFailure{{InstanceType: "c5.large", Rate: 1}}},
		Controller: controller.Options{Autoscaler: &loop.Options{
			Expanders: "priority,least-waste", ScanInterval: 2 * time.Second,
		}},
	}
	cluster, client := startLocal(t, cfg)
	defer func() { _ = cluster.Stop(context.Background()) }()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	desired := desiredOf(t, ctx, cluster, "as")
	// What `kelp up` writes for the upstream cluster-autoscaler points both
	// of its AWS clients at the local cloud.
	caConfig := cluster.ClusterAutoscalerCloudConfig()
	for _, want := range []string{"[Global]", "[ServiceOverride \"1\"]\nService = autoscaling\nRegion = us-east-1\nURL = " + cluster.CloudURL(),
		"[ServiceOverride \"2\"]\nService = ec2\nRegion = us-east-1\nURL = " + cluster.CloudURL()} {
		if !strings.Contains(caConfig, want) {
			t.Fatalf("cluster-autoscaler cloud config lacks %q:\n%s", want, caConfig)
		}
	}
	// The failing pool is preferred, so that its failure is what moves the
	// pods.
	_, err = client.CoreV1().ConfigMaps("kube-system").Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "kelp-priority-expander"},
		Data:       map[string]string{loop.PriorityKey: "10:\n  - flaky\n5:\n  - steady\n"},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("40 replicas on 2-vCPU nodes", func(t *testing.T) {
		start := time.Now()
		createDeployment(t, ctx, client, "web", 40, "500m", map[string]string{pool.PoolTag: "general"}, nil)
		testenv.EventuallyTrue(t, 5*time.Minute, "40 web pods Running", func() bool { return runningPods(ctx, client, "app=web") == 40 })
		took := time.Since(start)
		ready, _, err := readyNodesOf(ctx, client, "general")
		if err != nil {
			t.Fatal(err)
		}
		m5, _ := catalog.Lookup("m5.large")
		alloc := m5.Allocatable()
		perNode := alloc.Cpu().MilliValue() / 500
		bound := int((40 + perNode - 1) / perNode)
		t.Logf("kubectl apply -> 40/40 Running in %s on %d m5.large nodes (bound %d: %d pods per node)", took.Round(time.Millisecond), len(ready), bound, perNode)
		if len(ready) > bound || int(desired("general")) > bound {
			t.Fatalf("%d nodes (desired %d), more than the bound %d", len(ready), desired("general"), bound)
		}
	})

	t.Run("GPU pod grows only the GPU pool", func(t *testing.T) {
		before := desired("general")
		createDeployment(t, ctx, client, "train", 1, "1", nil, corev1.ResourceList{"nvidia.com/gpu": resource.MustParse("1")})
		testenv.EventuallyTrue(t, 3*time.Minute, "the GPU pod Running", func() bool { return runningPods(ctx, client, "app=train") == 1 })
		if g, d := desired("gpu"), desired("general"); g != 1 || d != before {
			t.Fatalf("desired gpu %d (want 1), general %d (want %d unchanged)", g, d, before)
		}
	})

	t.Run("pod that fits no pool", func(t *testing.T) {
		before := map[string]int32{}
		for _, p := range []string{"general", "gpu", "flaky", "steady"} {
			before[p] = desired(p)
		}
		createDeployment(t, ctx, client, "huge", 1, "64", nil, nil)
		var msg string
		testenv.EventuallyTrue(t, 2*time.Minute, "a NotTriggerScaleUp event on the huge pod", func() bool {
			msg = podEvent(ctx, client, "app=huge", loop.ReasonNotTriggerScaleUp)
			return msg != ""
		})
		if !strings.Contains(msg, "general: Insufficient cpu") || !strings.Contains(msg, "gpu: Insufficient cpu") {
			t.Fatalf("event %q does not say why per pool", msg)
		}
		for p, d := range before {
			if got := desired(p); got != d {
				t.Fatalf("pool %s desired %d -> %d for a pod that fits no pool", p, d, got)
			}
		}
	})

	t.Run("failing pool backs off, pods land on the next", func(t *testing.T) {
		createDeployment(t, ctx, client, "batch", 2, "500m", map[string]string{"kelp.dev/workload": "failover"}, nil)
		testenv.EventuallyTrue(t, 4*time.Minute, "2 batch pods Running", func() bool { return runningPods(ctx, client, "app=batch") == 2 })
		ready, _, err := readyNodesOf(ctx, client, "steady")
		if err != nil || len(ready) != 1 {
			t.Fatalf("steady pool nodes %v (%v), want 1", ready, err)
		}
		if d := desired("flaky"); d != 0 {
			t.Fatalf("flaky pool desired %d, want 0 after its failure", d)
		}
		cm, err := client.CoreV1().ConfigMaps("kube-system").Get(ctx, loop.StatusConfigMap, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if st := cm.Data["status"]; !strings.Contains(st, "insufficient capacity") {
			t.Fatalf("status does not show the flaky pool's backoff:\n%s", st)
		}
	})
}

func createDeployment(t *testing.T, ctx context.Context, client kubernetes.Interface, name string, replicas int32, cpu string,
	selector map[string]string, extra corev1.ResourceList) {
	t.Helper()
	createDeploymentWith(t, ctx, client, name, replicas, cpu, func(s *corev1.PodTemplateSpec) {
		s.Spec.NodeSelector = selector
		for k, v := range extra {
			s.Spec.Containers[0].Resources.Requests[k] = v
		}
		s.Spec.Containers[0].Resources.Limits = extra
	})
}

// createDeploymentWith creates a Deployment of pods labelled app=name
// requesting cpu, with a 1 s grace period; edit changes the pod template.
func createDeploymentWith(t testing.TB, ctx context.Context, client kubernetes.Interface, name string, replicas int32, cpu string,
	edit func(*corev1.PodTemplateSpec)) {
	t.Helper()
	grace := int64(1)
	tmpl := corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
		Spec: corev1.PodSpec{TerminationGracePeriodSeconds: &grace, Containers: []corev1.Container{{
			Name: "app", Image: "registry.k8s.io/pause:3.10",
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}},
		}}},
	}
	if edit != nil {
		edit(&tmpl)
	}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: tmpl,
		},
	}
	if _, err := client.AppsV1().Deployments("default").Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create deployment %s: %v", name, err)
	}
}

func runningPods(ctx context.Context, client kubernetes.Interface, selector string) int {
	pods, err := client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return -1
	}
	n := 0
	for _, p := range pods.Items {
		if p.Status.Phase == corev1.PodRunning && p.Spec.NodeName != "" {
			n++
		}
	}
	return n
}

// podEvent returns the message of the newest event with reason on a pod
// matching selector, "" when there is none.
func podEvent(ctx context.Context, client kubernetes.Interface, selector, reason string) string {
	pods, err := client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil || len(pods.Items) == 0 {
		return ""
	}
	evs, err := client.CoreV1().Events("default").List(ctx, metav1.ListOptions{FieldSelector: fields.AndSelectors(
		fields.OneTermEqualSelector("involvedObject.name", pods.Items[0].Name),
		fields.OneTermEqualSelector("reason", reason)).String()})
	if err != nil || len(evs.Items) == 0 {
		return ""
	}
	return fmt.Sprint(evs.Items[len(evs.Items)-1].Message)
}
