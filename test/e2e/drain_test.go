package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	"github.com/kelp-dev/kelp/internal/localcloud"
	"github.com/kelp-dev/kelp/internal/localup"
	"github.com/kelp-dev/kelp/internal/pool"
	"github.com/kelp-dev/kelp/internal/testenv"
)

// TestScaleInDrainsFirst is issue 14's first proof: three small pods of a
// Deployment with a PDB (maxUnavailable 1), one per node of three; the
// group's desired capacity set to 1 with the AWS CLI. kelp's drain
// controller evicts every pod of a leaving node before its instance
// terminates, the PDB holds (never fewer than two pods ready), and the
// pods end up on the node that stays.
func TestScaleInDrainsFirst(t *testing.T) {
	release, err := testenv.AcquireSlot()
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	cluster, client := startLocal(t, e2eConfig(filepath.Join(t.TempDir(), "e2e")))
	defer func() { _ = cluster.Stop(context.Background()) }()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	awsCfg, err := cluster.AWSConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ec2c := ec2.NewFromConfig(awsCfg)
	group := pool.GroupName("e2e", e2ePool)

	awsCLI(t, cluster, "autoscaling", "set-desired-capacity", "--auto-scaling-group-name", group, "--desired-capacity", "3")
	testenv.EventuallyTrue(t, 3*time.Minute, "3 Ready nodes", func() bool {
		ready, _, err := readyNodes(ctx, client)
		return err == nil && len(ready) == 3
	})
	// One pod per node: a hard spread over the nodes that take pods (a
	// cordoned, tainted node is no domain), so the evicted pods may all
	// land on the node that stays.
	honor := corev1.NodeInclusionPolicyHonor
	spread := []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: corev1.LabelHostname,
		WhenUnsatisfiable: corev1.DoNotSchedule, NodeTaintsPolicy: &honor,
		LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "spread"}}}}
	createDeploymentWith(t, ctx, client, "spread", 3, "100m", func(s *corev1.PodTemplateSpec) { s.Spec.TopologySpreadConstraints = spread })
	one := intstr.FromInt32(1)
	if _, err := client.PolicyV1().PodDisruptionBudgets("default").Create(ctx, &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: "spread"},
		Spec: policyv1.PodDisruptionBudgetSpec{MaxUnavailable: &one,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "spread"}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.EventuallyTrue(t, 2*time.Minute, "3 pods ready, one per node", func() bool {
		ready, nodes := readyPods(ctx, client, "app=spread")
		return ready == 3 && len(nodes) == 3
	})
	instanceOf := nodeInstances(t, ctx, client)

	w := watchDrain(ctx, client, ec2c, instanceOf)
	start := time.Now()
	awsCLI(t, cluster, "autoscaling", "set-desired-capacity", "--auto-scaling-group-name", group, "--desired-capacity", "1")
	testenv.EventuallyTrue(t, 3*time.Minute, "2 instances terminated, 3 pods ready on the node that stays", func() bool {
		terminated := 0
		for _, s := range instanceStates(ctx, t, ec2c) {
			if s == ec2types.InstanceStateNameTerminated {
				terminated++
			}
		}
		ready, nodes := readyPods(ctx, client, "app=spread")
		return terminated == 2 && ready == 3 && len(nodes) == 1
	})
	t.Logf("desired 3 -> 1: 2 nodes drained and their instances terminated, pods running elsewhere after %s", time.Since(start).Round(time.Millisecond))
	testenv.EventuallyTrue(t, time.Minute, "a Drained Event on each of the 2 leaving Nodes", func() bool {
		evs, err := client.CoreV1().Events(metav1.NamespaceDefault).List(ctx, metav1.ListOptions{FieldSelector: "reason=Drained"})
		if err != nil {
			return false
		}
		nodes := map[string]bool{}
		for _, e := range evs.Items {
			if e.InvolvedObject.Kind == "Node" && strings.Contains(e.Message, "is being terminated by its group "+group+": scale-in") {
				nodes[e.InvolvedObject.Name] = true
			}
		}
		return len(nodes) == 2
	})
	minReady, violations := w.stop()
	if minReady < 2 {
		t.Errorf("the Deployment had %d pods ready at one point: the PDB (maxUnavailable 1) did not hold", minReady)
	}
	for _, v := range violations {
		t.Error(v)
	}
}

// drainWatch samples, until stopped, the fewest ready pods and every
// instance seen shutting down or terminated while a pod was still on its
// Node.
type drainWatch struct {
	mu         sync.Mutex
	minReady   int
	violations []string
	done       chan struct{}
	wg         sync.WaitGroup
}

func watchDrain(ctx context.Context, client kubernetes.Interface, ec2c *ec2.Client, instanceOf map[string]string) *drainWatch {
	w := &drainWatch{minReady: 3, done: make(chan struct{})}
	w.wg.Go(func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			// Instance states first: a pod seen after its instance left
			// was on the node when it did.
			states, serr := poolInstanceStates(ctx, ec2c)
			pods, err := client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=spread"})
			if err == nil && serr == nil {
				ready, _ := countReady(pods.Items)
				w.mu.Lock()
				w.minReady = min(w.minReady, ready)
				for _, p := range pods.Items {
					id := instanceOf[p.Spec.NodeName]
					if s := states[id]; id != "" && s != ec2types.InstanceStateNameRunning && s != ec2types.InstanceStateNamePending {
						w.violations = append(w.violations, "pod "+p.Name+" still on node "+p.Spec.NodeName+" with its instance "+id+" "+string(s))
					}
				}
				w.mu.Unlock()
			}
			select {
			case <-w.done:
				return
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	})
	return w
}

func (w *drainWatch) stop() (int, []string) {
	close(w.done)
	w.wg.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.minReady, w.violations
}

// poolInstanceStates is instanceStates without failing the test (it runs
// outside the test's goroutine).
func poolInstanceStates(ctx context.Context, client *ec2.Client) (map[string]ec2types.InstanceStateName, error) {
	out, err := client.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{
		{Name: aws.String("tag:" + pool.PoolTag), Values: []string{e2ePool}}}})
	if err != nil {
		return nil, err
	}
	states := map[string]ec2types.InstanceStateName{}
	for _, r := range out.Reservations {
		for _, i := range r.Instances {
			states[aws.ToString(i.InstanceId)] = i.State.Name
		}
	}
	return states, nil
}

// readyPods counts the ready pods matching selector and the nodes they run on.
func readyPods(ctx context.Context, client kubernetes.Interface, selector string) (int, map[string]bool) {
	pods, err := client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return -1, nil
	}
	return countReady(pods.Items)
}

func countReady(pods []corev1.Pod) (int, map[string]bool) {
	n, nodes := 0, map[string]bool{}
	for _, p := range pods {
		if p.DeletionTimestamp != nil {
			continue
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				n++
				nodes[p.Spec.NodeName] = true
			}
		}
	}
	return n, nodes
}

// nodeInstances maps the pool's Node names to their instance IDs.
func nodeInstances(t *testing.T, ctx context.Context, client kubernetes.Interface) map[string]string {
	t.Helper()
	nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: pool.PoolTag + "=" + e2ePool})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, n := range nodes.Items {
		out[n.Name] = n.Spec.ProviderID[strings.LastIndex(n.Spec.ProviderID, "/")+1:]
	}
	return out
}

// awsCLI runs the AWS CLI against the local cloud.
func awsCLI(t *testing.T, cluster *localup.Cluster, args ...string) string {
	t.Helper()
	path, err := exec.LookPath("aws")
	if err != nil {
		t.Fatalf("the AWS CLI (aws) is not on PATH: install awscli to run this test: %v", err)
	}
	home := t.TempDir()
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	env = append(env, "AWS_ACCESS_KEY_ID="+localcloud.AccessKeyID, "AWS_SECRET_ACCESS_KEY="+localcloud.SecretAccessKey,
		"AWS_DEFAULT_REGION="+cluster.Cloud.Region(), "AWS_PAGER=",
		"AWS_CONFIG_FILE="+filepath.Join(home, "config"), "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(home, "credentials"))
	cmd := exec.Command(path, append(args, "--endpoint-url", cluster.CloudURL(), "--output", "json")...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}
