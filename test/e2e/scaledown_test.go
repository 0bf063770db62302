package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	"github.com/kelp-dev/kelp/internal/autoscaler"
	"github.com/kelp-dev/kelp/internal/autoscaler/loop"
	"github.com/kelp-dev/kelp/internal/controller"
	"github.com/kelp-dev/kelp/internal/localcloud"
	"github.com/kelp-dev/kelp/internal/localup"
	"github.com/kelp-dev/kelp/internal/pool"
	"github.com/kelp-dev/kelp/internal/testenv"
)

// fastScaleDown are scale-down settings for tests: nodes go after 10 s
// unneeded, no delays.
func fastScaleDown() autoscaler.ScaleDownOptions {
	sd := autoscaler.DefaultScaleDownOptions()
	sd.UnneededTime, sd.DelayAfterAdd, sd.DelayAfterDelete, sd.DelayAfterFailure = 10*time.Second, 0, 0, 0
	return sd
}

// TestAutoscalerScaleDown shrinks a local cluster with kelp's autoscaler:
// 40 replicas scaled to 4 are consolidated and the surplus nodes removed;
// scaled to 0 the pool returns to its min; a pod guarded by a PDB with
// maxUnavailable 0 and a pod annotated safe-to-evict "false" keep their
// nodes.
func TestAutoscalerScaleDown(t *testing.T) {
	release, err := testenv.AcquireSlot()
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	cfg := localup.Config{
		Dir: filepath.Join(t.TempDir(), "sd"), Name: "sd",
		Pools: &pool.Config{Pools: []pool.Spec{{Name: "general", InstanceTypes: []string{"m5.large"}, MinSize: 1, MaxSize: 20}}},
		Controller: controller.Options{Autoscaler: &loop.Options{
			ScanInterval: 2 * time.Second, ScaleDownEnabled: true, ScaleDown: fastScaleDown(),
		}},
	}
	cluster, client := startLocal(t, cfg)
	defer func() { _ = cluster.Stop(context.Background()) }()
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	desired := desiredOf(t, ctx, cluster, "sd")
	onGeneral := map[string]string{pool.PoolTag: "general"}

	createDeployment(t, ctx, client, "web", 40, "500m", onGeneral, nil)
	testenv.EventuallyTrue(t, 5*time.Minute, "40 web pods Running", func() bool { return runningPods(ctx, client, "app=web") == 40 })
	peak := desired("general")

	t.Run("4 replicas are consolidated", func(t *testing.T) {
		scaleDeployment(t, ctx, client, "web", 4)
		start := time.Now()
		// 4 × 500m fit on 2 m5.large (3 each).
		testenv.EventuallyTrue(t, 5*time.Minute, "the pool down to 2 nodes with 4 web pods Running", func() bool {
			ready, notReady, err := readyNodesOf(ctx, client, "general")
			return err == nil && len(ready) == 2 && len(notReady) == 0 && desired("general") == 2 &&
				runningPods(ctx, client, "app=web") == 4
		})
		t.Logf("%d -> 2 nodes in %s after scaling to 4 replicas", peak, time.Since(start).Round(time.Second))
	})

	t.Run("scaled to 0 the pool returns to its min", func(t *testing.T) {
		scaleDeployment(t, ctx, client, "web", 0)
		start := time.Now()
		testenv.EventuallyTrue(t, 3*time.Minute, "the pool back at min size 1", func() bool {
			ready, notReady, err := readyNodesOf(ctx, client, "general")
			return err == nil && len(ready) == 1 && len(notReady) == 0 && desired("general") == 1
		})
		t.Logf("2 -> 1 node (min) in %s after scaling to 0 (unneeded time 10s)", time.Since(start).Round(time.Second))
	})

	t.Run("PDB and safe-to-evict keep their nodes", func(t *testing.T) {
		// Two small pods that must not share a node: both nodes are nearly
		// empty, and either could go were it not for its pod.
		apart := &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
			LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kept": "yes"}}, TopologyKey: corev1.LabelHostname,
		}}}}
		createDeploymentWith(t, ctx, client, "guarded", 1, "100m", func(s *corev1.PodTemplateSpec) {
			s.Labels["kept"] = "yes"
			s.Spec.Affinity, s.Spec.NodeSelector = apart, onGeneral
		})
		createDeploymentWith(t, ctx, client, "pinned", 1, "100m", func(s *corev1.PodTemplateSpec) {
			s.Labels["kept"] = "yes"
			s.Annotations = map[string]string{autoscaler.AnnotationSafeToEvict: "false"}
			s.Spec.Affinity, s.Spec.NodeSelector = apart, onGeneral
		})
		zero := intstr.FromInt32(0)
		_, err := client.PolicyV1().PodDisruptionBudgets("default").Create(ctx, &policyv1.PodDisruptionBudget{
			ObjectMeta: metav1.ObjectMeta{Name: "guarded"},
			Spec: policyv1.PodDisruptionBudgetSpec{MaxUnavailable: &zero,
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "guarded"}}},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		testenv.EventuallyTrue(t, 3*time.Minute, "guarded and pinned Running on 2 nodes", func() bool {
			return runningPods(ctx, client, "kept=yes") == 2 && desired("general") == 2
		})
		var status string
		testenv.EventuallyTrue(t, time.Minute, "both nodes reported blocked in kelp-status", func() bool {
			cm, err := client.CoreV1().ConfigMaps("kube-system").Get(ctx, loop.StatusConfigMap, metav1.GetOptions{})
			if err != nil {
				return false
			}
			status = cm.Data["status"]
			return strings.Contains(status, string(autoscaler.BlockedPDB)) && strings.Contains(status, string(autoscaler.BlockedNotSafeToEvict))
		})
		testenv.HoldsFor(t, 30*time.Second, "both nodes kept", func(ctx context.Context) error {
			if d := desired("general"); d != 2 {
				return fmt.Errorf("desired %d, want 2; status:\n%s", d, status)
			}
			return nil
		})
	})
}

// TestScaleDownCrashLeavesNoNodeTainted kills a separate controller
// process (SIGKILL) while it removes a node, paused before terminating the
// instance (the test binary re-run as a controller whose cloud scaler
// blocks in DeleteInstances); a new `kelp controller` untaints the node,
// and no pod is lost.
func TestScaleDownCrashLeavesNoNodeTainted(t *testing.T) {
	release, err := testenv.AcquireSlot()
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	// The in-process controller approves nodes but runs no autoscaler; the
	// separate process does.
	cfg := localup.Config{
		Dir: filepath.Join(t.TempDir(), "crash"), Name: "crash",
		Pools: &pool.Config{Pools: []pool.Spec{{Name: "general", InstanceTypes: []string{"m5.large"}, MinSize: 0, MaxSize: 5, DesiredCapacity: aws.Int32(2)}}},
	}
	cluster, client := startLocal(t, cfg)
	defer func() { _ = cluster.Stop(context.Background()) }()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	testenv.EventuallyTrue(t, 3*time.Minute, "2 Ready nodes", func() bool {
		ready, _, err := readyNodesOf(ctx, client, "general")
		return err == nil && len(ready) == 2
	})
	// Preferred anti-affinity spreads the two pods over the two nodes, yet
	// lets them share one: either node can be drained.
	createDeploymentWith(t, ctx, client, "app", 2, "100m", func(s *corev1.PodTemplateSpec) {
		s.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{
			Weight: 100, PodAffinityTerm: corev1.PodAffinityTerm{LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "app"}}, TopologyKey: corev1.LabelHostname},
		}}}}
	})
	testenv.EventuallyTrue(t, 2*time.Minute, "2 app pods Running", func() bool { return runningPods(ctx, client, "app=app") == 2 })

	args := []string{"controller", "--cluster-name", "crash", "--kubeconfig", cluster.ControlPlane.AdminKubeconfigPath(),
		"--leader-elect=false", "--probe-addr=", "--approve=manual", "--scan-interval=1s",
		"--scale-down-unneeded-time=2s", "--scale-down-delay-after-add=0s", "--scale-down-delay-after-delete=0s",
		"--scale-down-delay-after-failure=0s"}
	first := startProcess(t, cluster, runPausingControllerEnv, cluster.ControlPlane.AdminKubeconfigPath(), "crash")
	testenv.EventuallyTrue(t, 3*time.Minute, "the controller paused in a removal, before terminating", func() bool {
		return strings.Contains(first.output(), pausedMessage)
	})
	tainted := taintedNodes(ctx, t, client)
	if len(tainted) != 1 {
		t.Fatalf("tainted nodes %v, want the one being removed", tainted)
	}
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.cmd.Wait()
	if got := taintedNodes(ctx, t, client); len(got) != 1 {
		t.Fatalf("after SIGKILL tainted nodes %v, want the one left mid-removal", got)
	}

	startKelp(t, cluster, args...)
	testenv.EventuallyTrue(t, 3*time.Minute, "no node tainted and both app pods Running", func() bool {
		nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return false
		}
		for _, n := range nodes.Items {
			for _, taint := range n.Spec.Taints {
				if taint.Key == autoscaler.ToBeDeletedTaint {
					return false
				}
			}
		}
		return runningPods(ctx, client, "app=app") == 2
	})
}

// kelpProcess is `kelp` run as a separate process.
type kelpProcess struct {
	cmd *exec.Cmd
	mu  sync.Mutex
	out bytes.Buffer
}

func (p *kelpProcess) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.Write(b)
}

func (p *kelpProcess) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// startKelp runs the test binary as `kelp args...` with the local cloud's
// AWS settings; the process is killed when the test ends.
func startKelp(t *testing.T, cluster *localup.Cluster, args ...string) *kelpProcess {
	t.Helper()
	return startProcess(t, cluster, runAsKelpEnv, args...)
}

// startProcess runs the test binary with mode (an environment variable
// TestMain switches on) set to 1, args and the local cloud's AWS settings;
// the process is killed when the test ends.
func startProcess(t *testing.T, cluster *localup.Cluster, mode string, args ...string) *kelpProcess {
	t.Helper()
	p := &kelpProcess{cmd: exec.Command(os.Args[0], args...)}
	env := append(os.Environ(), mode+"=1",
		"AWS_ENDPOINT_URL="+cluster.CloudURL(), "AWS_REGION="+cluster.Cloud.Region(),
		"AWS_ACCESS_KEY_ID="+localcloud.AccessKeyID, "AWS_SECRET_ACCESS_KEY="+localcloud.SecretAccessKey)
	p.cmd.Env, p.cmd.Stdout, p.cmd.Stderr = env, p, p
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		_ = p.cmd.Wait()
		if t.Failed() {
			t.Logf("kelp %s output:\n%s", strings.Join(args, " "), p.output())
		}
	})
	return p
}

func taintedNodes(ctx context.Context, t *testing.T, client kubernetes.Interface) []string {
	t.Helper()
	nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, n := range nodes.Items {
		for _, taint := range n.Spec.Taints {
			if taint.Key == autoscaler.ToBeDeletedTaint {
				out = append(out, n.Name)
			}
		}
	}
	return out
}

// desiredOf returns a function reading a pool's desired capacity.
func desiredOf(t *testing.T, ctx context.Context, cluster *localup.Cluster, clusterName string) func(string) int32 {
	awsCfg, err := cluster.AWSConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	as := autoscaling.NewFromConfig(awsCfg)
	return func(poolName string) int32 {
		out, err := as.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{pool.GroupName(clusterName, poolName)}})
		if err != nil || len(out.AutoScalingGroups) != 1 {
			t.Fatalf("describe pool %s: %v", poolName, err)
		}
		return aws.ToInt32(out.AutoScalingGroups[0].DesiredCapacity)
	}
}

func scaleDeployment(t *testing.T, ctx context.Context, client kubernetes.Interface, name string, replicas int32) {
	t.Helper()
	s, err := client.AppsV1().Deployments("default").GetScale(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s.Spec.Replicas = replicas
	if _, err := client.AppsV1().Deployments("default").UpdateScale(ctx, name, s, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}
