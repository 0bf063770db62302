package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	"github.com/kelp-dev/kelp/internal/autoscaler"
	"github.com/kelp-dev/kelp/internal/catalog"
	"github.com/kelp-dev/kelp/internal/localcloud"
	"github.com/kelp-dev/kelp/internal/localup"
	"github.com/kelp-dev/kelp/internal/pool"
	"github.com/kelp-dev/kelp/internal/termination"
	"github.com/kelp-dev/kelp/internal/testenv"
)

// withoutDrains makes the in-process controller's drain controller look
// for waiting instances once, at start (there are none), and not again
// within a test: the test's own `kelp controller` process drains, or
// nothing does.
func withoutDrains(c *localup.Config) {
	c.Controller.TerminationPeriod = 24 * time.Hour
	c.NoInterruptionQueue = true // no lifecycle action reaches it from the queue either
}

// TestScaleInDrainsFirst is issue 14's first proof: three small pods of a
// Deployment with a PDB (maxUnavailable 1), one per node of three; the
// group's desired capacity set to 1 with the AWS CLI. kelp's drain
// controller evicts (Eviction API) every pod of a leaving node before its
// instance terminates, the PDB holds (never fewer than two pods ready, as
// a pod watch sees it), no instance leaves while a pod is on its Node, and
// the pods end up on the node that stays.
func TestScaleInDrainsFirst(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	s := startDrainCluster(t, ctx, "drain", 3, nil)
	s.spreadDeployment(t, ctx, "spread", 3, 1)
	before := podNodes(t, ctx, s.client, "app=spread")
	instanceOf := nodeInstances(t, ctx, s.client)

	w := watchDrain(t, ctx, s.client, s.ec2c, "app=spread", instanceOf)
	start := time.Now()
	awsCLI(t, s.cluster, "autoscaling", "set-desired-capacity", "--auto-scaling-group-name", s.group, "--desired-capacity", "1")
	testenv.EventuallyTrue(t, 3*time.Minute, "2 instances terminated, 3 pods ready on the node that stays", func() bool {
		ready, nodes := readyPods(ctx, s.client, "app=spread")
		return len(terminated(ctx, s.ec2c)) == 2 && ready == 3 && len(nodes) == 1
	})
	t.Logf("desired 3 -> 1: 2 nodes drained and their instances terminated, pods running elsewhere after %s", time.Since(start).Round(time.Millisecond))
	r := w.stop()
	if r.minReady < 2 {
		t.Errorf("the Deployment had %d pods ready at one point: the PDB (maxUnavailable 1) did not hold", r.minReady)
	}
	for _, v := range r.violations {
		t.Error(v)
	}
	gone := terminated(ctx, s.ec2c)
	for pod, node := range before {
		id := instanceOf[node]
		if !gone[id] {
			continue
		}
		evicted, ok := r.evicted[pod]
		switch {
		case !ok:
			t.Errorf("pod %s on leaving node %s (instance %s) was not evicted through the Eviction API", pod, node, id)
		case !evicted.Before(r.gone[id]):
			t.Errorf("pod %s evicted at %s, after its instance %s was seen leaving at %s", pod, evicted.Format(time.StampMilli), id, r.gone[id].Format(time.StampMilli))
		}
	}
	testenv.EventuallyTrue(t, time.Minute, "a Drained Event on each of the 2 leaving Nodes", func() bool {
		return len(drainedNodes(ctx, s.client, "is being terminated by its group "+s.group+": scale-in")) == 2
	})
}

// TestDrainResumesAfterControllerRestart kills (SIGKILL) a `kelp
// controller` process in the middle of a drain that a PDB blocks
// (maxUnavailable 0); with the PDB relaxed, a new controller finishes it:
// the same drain (its start stamp on the Node kept), the Node emptied and
// deleted, the lifecycle action completed long before the hook's 300 s
// heartbeat timeout, the instance terminated.
func TestDrainResumesAfterControllerRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	s := startDrainCluster(t, ctx, "resume", 2, withoutDrains)
	s.spreadDeployment(t, ctx, "held", 2, 0)
	args := []string{"controller", "--cluster-name", "resume", "--kubeconfig", s.cluster.ControlPlane.AdminKubeconfigPath(),
		"--leader-elect=false", "--probe-addr=", "--approve=manual", "--autoscaler=none", "--termination-period=1s"}
	first := startKelp(t, s.cluster, args...)

	start := time.Now()
	awsCLI(t, s.cluster, "autoscaling", "set-desired-capacity", "--auto-scaling-group-name", s.group, "--desired-capacity", "1")
	var leaving, started string
	testenv.EventuallyTrue(t, 2*time.Minute, "the first controller draining a Node, its pod held by the PDB", func() bool {
		for _, name := range drainingNodes(ctx, s.client) {
			if len(nodeEvents(ctx, s.client, name, termination.ReasonDraining)) > 0 {
				leaving = name
				return true
			}
		}
		return false
	})
	node, err := s.client.CoreV1().Nodes().Get(ctx, leaving, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	started = node.Annotations[termination.AnnotationDrainStarted]
	id := instanceID(node)
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.cmd.Wait()
	if state := lifecycleState(t, s.cluster, id); state != "Terminating:Wait" {
		t.Fatalf("instance %s is %s after the controller died, want Terminating:Wait", id, state)
	}
	if pods := podsOn(ctx, t, s.client, leaving); len(pods) != 1 {
		t.Fatalf("pods %v on the leaving node %s, want the one the PDB keeps", pods, leaving)
	}

	setMaxUnavailable(t, ctx, s.client, "held", 1)
	startKelp(t, s.cluster, args...)
	testenv.EventuallyTrue(t, 3*time.Minute, "the restarted controller finishing the drain: Node deleted, instance terminated, 2 pods ready", func() bool {
		n, err := s.client.CoreV1().Nodes().Get(ctx, leaving, metav1.GetOptions{})
		if err == nil && n.Annotations[termination.AnnotationDrainStarted] != started {
			t.Fatalf("the drain of %s started again at %s (was %s): not resumed", leaving, n.Annotations[termination.AnnotationDrainStarted], started)
		}
		ready, _ := readyPods(ctx, s.client, "app=held")
		return apierrors.IsNotFound(err) && terminated(ctx, s.ec2c)[id] && ready == 2
	})
	t.Logf("drain killed and resumed: instance %s gone %s after the scale-in", id, time.Since(start).Round(time.Millisecond))
	if got := drainedNodes(ctx, s.client, "is being terminated by its group "+s.group+": scale-in"); !got[leaving] {
		t.Fatalf("no Drained Event on %s from the restarted controller (Drained on %v)", leaving, got)
	}
}

// TestNoControllerDefaultResult scales a group in with no drain
// controller running and the drain hook's heartbeat timeout at AWS's
// minimum, 30 s: the instance waits in Terminating:Wait, its Node
// untouched, and goes once the timeout's default result, CONTINUE, lets
// it.
func TestNoControllerDefaultResult(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	s := startDrainCluster(t, ctx, "nodrain", 1, func(c *localup.Config) {
		withoutDrains(c)
		c.Pools.Pools[0].DrainHeartbeatTimeout = &metav1.Duration{Duration: pool.MinDrainHeartbeatTimeout}
	})
	hooks := awsCLI(t, s.cluster, "autoscaling", "describe-lifecycle-hooks", "--auto-scaling-group-name", s.group)
	if !strings.Contains(hooks, `"HeartbeatTimeout": 30`) || !strings.Contains(hooks, `"DefaultResult": "CONTINUE"`) {
		t.Fatalf("the drain hook is not 30 s / CONTINUE:\n%s", hooks)
	}
	var id, node string
	for n, i := range nodeInstances(t, ctx, s.client) {
		node, id = n, i
	}

	start := time.Now()
	awsCLI(t, s.cluster, "autoscaling", "set-desired-capacity", "--auto-scaling-group-name", s.group, "--desired-capacity", "0")
	testenv.EventuallyTrue(t, 20*time.Second, "the instance in Terminating:Wait", func() bool {
		return lifecycleState(t, s.cluster, id) == "Terminating:Wait"
	})
	waiting := time.Since(start)
	testenv.EventuallyTrue(t, 2*time.Minute, "the instance terminated by the hook's default result", func() bool {
		if n, err := s.client.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{}); err == nil && (n.Spec.Unschedulable || n.Annotations[termination.AnnotationDrainStarted] != "") {
			t.Fatalf("node %s cordoned with no drain controller running", node)
		}
		return terminated(ctx, s.ec2c)[id]
	})
	took := time.Since(start)
	t.Logf("Terminating:Wait seen after %s; instance terminated %s after the scale-in (heartbeat timeout 30 s)", waiting.Round(time.Millisecond), took.Round(time.Millisecond))
	if took < pool.MinDrainHeartbeatTimeout {
		t.Fatalf("instance %s terminated %s after the scale-in, before the hook's 30 s heartbeat timeout", id, took)
	}
}

// TestSpotInterruptionDrainedBeforeDeadline interrupts one of two spot
// instances with a 40 s notice (the local cloud's InterruptSpotInstance):
// its group holds it in Terminating:Wait on kelp's hook, and kelp's drain
// controller, polling the groups, evicts its pod (the PDB holding) and
// lets it go well before the interruption's deadline; the pod runs
// elsewhere.
func TestSpotInterruptionDrainedBeforeDeadline(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	const notice = 40 * time.Second
	s := startDrainCluster(t, ctx, "spot", 2, func(c *localup.Config) {
		c.Pools.Pools[0].CapacityType, c.Pools.Pools[0].MaxSize = catalog.CapacityTypeSpot, 3 // room for a replacement
		c.Faults.SpotInterruption.Notice = localcloud.Duration{Duration: notice}
	})
	s.spreadDeployment(t, ctx, "spot", 2, 1)
	before := podNodes(t, ctx, s.client, "app=spot")
	instanceOf := nodeInstances(t, ctx, s.client)
	var node string
	for n := range instanceOf {
		node = max(node, n)
	}
	id := instanceOf[node]

	w := watchDrain(t, ctx, s.client, s.ec2c, "app=spot", instanceOf)
	start := time.Now()
	if err := s.cluster.Cloud.InterruptSpotInstance(id); err != nil {
		t.Fatal(err)
	}
	testenv.EventuallyTrue(t, notice, "the interrupted instance let go and 2 pods ready elsewhere, before the deadline", func() bool {
		ready, nodes := readyPods(ctx, s.client, "app=spot")
		return terminated(ctx, s.ec2c)[id] && ready == 2 && !nodes[node]
	})
	t.Logf("spot instance %s drained and gone %s after its interruption notice (%s)", id, time.Since(start).Round(time.Millisecond), notice)
	r := w.stop()
	if r.minReady < 1 {
		t.Errorf("the Deployment had %d pods ready at one point: the PDB (maxUnavailable 1) did not hold", r.minReady)
	}
	for _, v := range r.violations {
		t.Error(v)
	}
	for pod, on := range before {
		if evicted, ok := r.evicted[pod]; on == node && (!ok || !evicted.Before(r.gone[id])) {
			t.Errorf("pod %s on the interrupted node %s not evicted through the Eviction API before its instance left", pod, node)
		}
	}
	if got := drainedNodes(ctx, s.client, "instance "+id); !got[node] {
		t.Errorf("no Drained Event on %s", node)
	}
}

// drainCluster is a local cluster with one pool (e2ePool) whose nodes
// were Ready and untainted at start.
type drainCluster struct {
	cluster *localup.Cluster
	client  kubernetes.Interface
	ec2c    *ec2.Client
	group   string
}

// startDrainCluster holds a control-plane slot for the rest of tb, starts
// a local cluster named name with one pool of up to nodes m5.large (edit
// changes the configuration; its one pool is Pools.Pools[0]), scales its
// group to nodes with the AWS CLI and waits for that many Ready nodes with
// no taint but scale-down's soft one: a Node's not-ready taint outlives its Ready condition for a
// moment, and a spread that honours taints would stack pods meanwhile.
func startDrainCluster(tb testing.TB, ctx context.Context, name string, nodes int, edit func(*localup.Config)) *drainCluster {
	tb.Helper()
	release, err := testenv.AcquireSlot()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(release)
	spec := pool.Spec{Name: e2ePool, InstanceTypes: []string{"m5.large"}, MinSize: 0, MaxSize: int32(nodes)}
	cfg := localup.Config{Dir: filepath.Join(tb.TempDir(), name), Name: name, Pools: &pool.Config{Pools: []pool.Spec{spec}}}
	if edit != nil {
		edit(&cfg)
	}
	cluster, client := startLocal(tb, cfg)
	tb.Cleanup(func() { _ = cluster.Stop(context.Background()) })
	awsCfg, err := cluster.AWSConfig(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	s := &drainCluster{cluster: cluster, client: client, ec2c: ec2.NewFromConfig(awsCfg), group: pool.GroupName(name, e2ePool)}
	awsCLI(tb, cluster, "autoscaling", "set-desired-capacity", "--auto-scaling-group-name", s.group, "--desired-capacity", itoa(nodes))
	testenv.EventuallyTrue(tb, 3*time.Minute, itoa(nodes)+" Ready nodes with no taint", func() bool {
		list, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: pool.PoolTag + "=" + e2ePool})
		if err != nil {
			return false
		}
		n := 0
		for _, node := range list.Items {
			// The soft taint scale-down puts on unneeded nodes
			// (PreferNoSchedule) does not keep pods off.
			hard := slices.ContainsFunc(node.Spec.Taints, func(t corev1.Taint) bool { return t.Effect != corev1.TaintEffectPreferNoSchedule })
			if !hard && !node.Spec.Unschedulable && nodeReady(&node) {
				n++
			}
		}
		return n == nodes
	})
	return s
}

// spreadDeployment creates a Deployment of replicas 100m pods labelled
// app=name, one per node, with a PDB of maxUnavailable, and waits for them
// ready. The spread is hard but over untainted nodes only (a cordoned,
// tainted node is no domain), so evicted pods may stack on the nodes that
// stay.
func (s *drainCluster) spreadDeployment(tb testing.TB, ctx context.Context, name string, replicas, maxUnavailable int32) {
	tb.Helper()
	honor := corev1.NodeInclusionPolicyHonor
	spread := []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: corev1.LabelHostname,
		WhenUnsatisfiable: corev1.DoNotSchedule, NodeTaintsPolicy: &honor,
		LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}}}}
	createDeploymentWith(tb, ctx, s.client, name, replicas, "100m", func(p *corev1.PodTemplateSpec) { p.Spec.TopologySpreadConstraints = spread })
	most := intstr.FromInt32(maxUnavailable)
	if _, err := s.client.PolicyV1().PodDisruptionBudgets("default").Create(ctx, &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: policyv1.PodDisruptionBudgetSpec{MaxUnavailable: &most,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}}},
	}, metav1.CreateOptions{}); err != nil {
		tb.Fatal(err)
	}
	testenv.EventuallyTrue(tb, 2*time.Minute, itoa(int(replicas))+" "+name+" pods ready, one per node", func() bool {
		ready, nodes := readyPods(ctx, s.client, "app="+name)
		return ready == int(replicas) && len(nodes) == int(replicas)
	})
}

func setMaxUnavailable(t *testing.T, ctx context.Context, client kubernetes.Interface, name string, n int32) {
	t.Helper()
	most := intstr.FromInt32(n)
	patch, _ := json.Marshal(map[string]any{"spec": map[string]any{"maxUnavailable": most}})
	if _, err := client.PolicyV1().PodDisruptionBudgets("default").Patch(ctx, name, "application/merge-patch+json", patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// drainingNodes are the Nodes cordoned and tainted by a drain, with its
// start stamp.
func drainingNodes(ctx context.Context, client kubernetes.Interface) []string {
	list, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil
	}
	var out []string
	for _, n := range list.Items {
		tainted := slices.ContainsFunc(n.Spec.Taints, func(t corev1.Taint) bool { return t.Key == autoscaler.ToBeDeletedTaint })
		if n.Spec.Unschedulable && tainted && n.Annotations[termination.AnnotationDrainStarted] != "" {
			out = append(out, n.Name)
		}
	}
	return out
}

// nodeEvents are the messages of the Events with reason on Node name.
func nodeEvents(ctx context.Context, client kubernetes.Interface, name, reason string) []string {
	evs, err := client.CoreV1().Events(metav1.NamespaceDefault).List(ctx, metav1.ListOptions{FieldSelector: "reason=" + reason + ",involvedObject.name=" + name})
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range evs.Items {
		if e.InvolvedObject.Kind == "Node" {
			out = append(out, e.Message)
		}
	}
	return out
}

// drainedNodes are the Nodes with a Drained Event whose message says why.
func drainedNodes(ctx context.Context, client kubernetes.Interface, why string) map[string]bool {
	evs, err := client.CoreV1().Events(metav1.NamespaceDefault).List(ctx, metav1.ListOptions{FieldSelector: "reason=" + termination.ReasonDrained})
	if err != nil {
		return nil
	}
	nodes := map[string]bool{}
	for _, e := range evs.Items {
		if e.InvolvedObject.Kind == "Node" && strings.Contains(e.Message, why) {
			nodes[e.InvolvedObject.Name] = true
		}
	}
	return nodes
}

// lifecycleState is the instance's LifecycleState as
// `aws autoscaling describe-auto-scaling-instances` reports it, "" when
// the group no longer lists it.
func lifecycleState(t *testing.T, cluster *localup.Cluster, id string) string {
	t.Helper()
	var out struct {
		AutoScalingInstances []struct{ LifecycleState string }
	}
	raw := awsCLI(t, cluster, "autoscaling", "describe-auto-scaling-instances", "--instance-ids", id)
	if err := json.Unmarshal([]byte(raw), &out); err != nil {
		t.Fatalf("describe-auto-scaling-instances: %v\n%s", err, raw)
	}
	if len(out.AutoScalingInstances) == 0 {
		return ""
	}
	return out.AutoScalingInstances[0].LifecycleState
}

// terminated is the set of the pool's terminated instances.
func terminated(ctx context.Context, client *ec2.Client) map[string]bool {
	states, err := poolInstanceStates(ctx, client)
	if err != nil {
		return nil
	}
	out := map[string]bool{}
	for id, s := range states {
		if s == ec2types.InstanceStateNameTerminated {
			out[id] = true
		}
	}
	return out
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

// readyPods counts the ready pods matching selector (not being deleted)
// and the nodes they run on.
func readyPods(ctx context.Context, client kubernetes.Interface, selector string) (int, map[string]bool) {
	pods, err := client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return -1, nil
	}
	n, nodes := 0, map[string]bool{}
	for i := range pods.Items {
		if p := &pods.Items[i]; p.DeletionTimestamp == nil && podReady(p) {
			n++
			nodes[p.Spec.NodeName] = true
		}
	}
	return n, nodes
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// podNodes maps the pods matching selector to their nodes.
func podNodes(t *testing.T, ctx context.Context, client kubernetes.Interface, selector string) map[string]string {
	t.Helper()
	pods, err := client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, p := range pods.Items {
		out[p.Name] = p.Spec.NodeName
	}
	return out
}

// podsOn names the pods of every namespace on node.
func podsOn(ctx context.Context, t *testing.T, client kubernetes.Interface, node string) []string {
	t.Helper()
	pods, err := client.CoreV1().Pods(metav1.NamespaceAll).List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=" + node})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range pods.Items {
		out = append(out, p.Namespace+"/"+p.Name)
	}
	return out
}

// nodeInstances maps the pool's Node names to their instance IDs.
func nodeInstances(tb testing.TB, ctx context.Context, client kubernetes.Interface) map[string]string {
	tb.Helper()
	nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: pool.PoolTag + "=" + e2ePool})
	if err != nil {
		tb.Fatal(err)
	}
	out := map[string]string{}
	for i := range nodes.Items {
		out[nodes.Items[i].Name] = instanceID(&nodes.Items[i])
	}
	return out
}

func instanceID(n *corev1.Node) string {
	return n.Spec.ProviderID[strings.LastIndex(n.Spec.ProviderID, "/")+1:]
}

// awsCLI runs the AWS CLI against the local cloud and returns its output.
func awsCLI(tb testing.TB, cluster *localup.Cluster, args ...string) string {
	tb.Helper()
	path, err := exec.LookPath("aws")
	if err != nil {
		tb.Fatalf("the AWS CLI (aws) is not on PATH: install awscli to run this test: %v", err)
	}
	home := tb.TempDir()
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
		tb.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}
