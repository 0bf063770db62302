package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	"github.com/kelp-dev/kelp/internal/autoscaler"
	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/termination"
	"github.com/kelp-dev/kelp/internal/terminationctl"
	"github.com/kelp-dev/kelp/internal/testenv"
)

// departureWatch records, from watches started before a departure, what
// happened to a Node and its pods.
type departureWatch struct {
	mu sync.Mutex
	// cordoned is when the Node was first seen unschedulable with kelp's
	// to-be-deleted taint; cause and deadline its last departure-cause
	// and departure-deadline annotations.
	cordoned        time.Time
	cause, deadline string
	// evicted are the pods seen with the Eviction API's DisruptionTarget
	// condition, with the instance's EC2 state at that moment.
	evicted map[types.UID]string
}

// watchDeparture watches the Node and the pods matching selector until
// ctx ends; state reads the Node's instance's EC2 state.
func watchDeparture(t *testing.T, ctx context.Context, client kubernetes.Interface, node, selector string,
	state func(context.Context) string) *departureWatch {
	t.Helper()
	w := &departureWatch{evicted: map[types.UID]string{}}
	nodes, err := client.CoreV1().Nodes().Watch(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", node).String()})
	if err != nil {
		t.Fatal(err)
	}
	pods, err := client.CoreV1().Pods("default").Watch(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		nodes.Stop()
		t.Fatal(err)
	}
	t.Cleanup(func() { nodes.Stop(); pods.Stop() })
	go func() {
		for ev := range nodes.ResultChan() {
			if n, ok := ev.Object.(*corev1.Node); ok && ev.Type != watch.Deleted {
				w.node(n)
			}
		}
	}()
	go func() {
		for ev := range pods.ResultChan() {
			if p, ok := ev.Object.(*corev1.Pod); ok && evictedByAPI(p) && !w.seen(p.UID) {
				s := state(ctx)
				w.mu.Lock()
				w.evicted[p.UID] = s
				w.mu.Unlock()
			}
		}
	}()
	return w
}

func (w *departureWatch) node(n *corev1.Node) {
	w.mu.Lock()
	defer w.mu.Unlock()
	tainted := slices.ContainsFunc(n.Spec.Taints, func(t corev1.Taint) bool { return t.Key == autoscaler.ToBeDeletedTaint })
	if n.Spec.Unschedulable && tainted && w.cordoned.IsZero() {
		w.cordoned = time.Now()
	}
	if c := n.Annotations[terminationctl.AnnotationWarningCause]; c != "" {
		w.cause, w.deadline = c, n.Annotations[terminationctl.AnnotationWarningDeadline]
	}
}

func (w *departureWatch) seen(uid types.UID) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	_, ok := w.evicted[uid]
	return ok
}

// check fails unless the Node was cordoned and tainted with the warning
// of cause kept on it, its deadline within a second of deadline (events
// count whole seconds), and every one of pods was evicted through the
// Eviction API while its instance was running.
func (w *departureWatch) check(t *testing.T, pods []corev1.Pod, cause termination.Cause, deadline time.Time) {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.cordoned.IsZero() {
		t.Errorf("the Node was never seen unschedulable with the %s taint", autoscaler.ToBeDeletedTaint)
	}
	if w.cause != string(cause) {
		t.Errorf("the Node's %s was %q, want %q: the interruption queue's warning did not reach it",
			terminationctl.AnnotationWarningCause, w.cause, cause)
	}
	if got, err := time.Parse(time.RFC3339, w.deadline); err != nil || got.Sub(deadline).Abs() > time.Second {
		t.Errorf("the Node's %s was %q, want the cloud's deadline %s", terminationctl.AnnotationWarningDeadline,
			w.deadline, deadline.UTC().Format(time.RFC3339))
	}
	for _, p := range pods {
		state, ok := w.evicted[p.UID]
		switch {
		case !ok:
			t.Errorf("pod %s left its Node without being evicted through the Eviction API", p.Name)
		case state != "running":
			t.Errorf("pod %s was evicted when its instance was %q, want running", p.Name, state)
		}
	}
}

// cordonedAfter is how long after since the Node was seen cordoned.
func (w *departureWatch) cordonedAfter(since time.Time) time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.cordoned.Sub(since)
}

func evictedByAPI(p *corev1.Pod) bool {
	return slices.ContainsFunc(p.Status.Conditions, func(c corev1.PodCondition) bool {
		return c.Type == corev1.DisruptionTarget && c.Status == corev1.ConditionTrue && c.Reason == evictionByAPI
	})
}

// onePoolNode waits for the pool's one Ready Node and returns it.
func onePoolNode(t *testing.T, ctx context.Context, client kubernetes.Interface, poolName string) corev1.Node {
	t.Helper()
	var ready []string
	testenv.EventuallyTrue(t, 3*time.Minute, "1 Ready node in pool "+poolName, func() bool {
		r, notReady, err := readyNodesOf(ctx, client, poolName)
		ready = r
		return err == nil && len(r) == 1 && len(notReady) == 0
	})
	n, err := client.CoreV1().Nodes().Get(ctx, ready[0], metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return *n
}

func setUnschedulable(t *testing.T, ctx context.Context, client kubernetes.Interface, node string, on bool) {
	t.Helper()
	patch := fmt.Sprintf(`{"spec":{"unschedulable":%t}}`, on)
	if _, err := client.CoreV1().Nodes().Patch(ctx, node, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatalf("set node %s unschedulable %t: %v", node, on, err)
	}
}

// readyPodsOn lists the Running, Ready pods matching selector that are
// not being deleted, on node, or on any other node when node is "!name".
func readyPodsOn(ctx context.Context, client kubernetes.Interface, selector, node string) []corev1.Pod {
	var out []corev1.Pod
	for _, p := range podsMatchingOn(ctx, client, selector, node) {
		ready := slices.ContainsFunc(p.Status.Conditions, func(c corev1.PodCondition) bool {
			return c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue
		})
		if ready && p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil {
			out = append(out, p)
		}
	}
	return out
}

// podsMatchingOn lists the pods matching selector on node, or on any other node
// when node is "!name"; nil when the list fails.
func podsMatchingOn(ctx context.Context, client kubernetes.Interface, selector, node string) []corev1.Pod {
	field := fields.OneTermEqualSelector("spec.nodeName", node)
	if other, ok := strings.CutPrefix(node, "!"); ok {
		field = fields.AndSelectors(fields.OneTermNotEqualSelector("spec.nodeName", other), fields.OneTermNotEqualSelector("spec.nodeName", ""))
	}
	pods, err := client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: selector, FieldSelector: field.String()})
	if err != nil {
		return nil
	}
	return pods.Items
}

func instanceIDOf(t *testing.T, node corev1.Node) string {
	t.Helper()
	_, id, err := cloud.ParseProviderID(node.Spec.ProviderID)
	if err != nil {
		t.Fatalf("node %s: %v", node.Name, err)
	}
	return id
}

// instanceState is the instance's EC2 state name, "" when it cannot be read.
func instanceState(ctx context.Context, client *ec2.Client, id string) string {
	out, err := client.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	if err != nil || len(out.Reservations) != 1 || len(out.Reservations[0].Instances) != 1 {
		return ""
	}
	return string(out.Reservations[0].Instances[0].State.Name)
}

// freeAddr returns a local address nothing listens on now.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// scrape returns the controller's metrics served on addr.
func scrape(t *testing.T, ctx context.Context, addr string) string {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("scrape the controller's metrics: %v", err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape the controller's metrics: %s: %v", resp.Status, err)
	}
	return string(body)
}

// metricValue is the value of series (name{labels}) in the text
// exposition format, 0 when absent.
func metricValue(text, series string) float64 {
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err == nil {
				return f
			}
		}
	}
	return 0
}

// metricLines are the sample lines of text whose names start with prefix.
func metricLines(text, prefix string) string {
	var out []string
	for line := range strings.Lines(text) {
		if strings.HasPrefix(line, prefix) {
			out = append(out, strings.TrimSpace(line))
		}
	}
	return strings.Join(out, "\n")
}
