package drain

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/record"

	"github.com/kelp-dev/kelp/internal/autoscaler"
	"github.com/kelp-dev/kelp/internal/termination"
	"github.com/kelp-dev/kelp/internal/testenv"
)

// fakeTerminator records DeleteInstances calls and returns err.
type fakeTerminator struct {
	mu    sync.Mutex
	calls []string // "group:id,id"
	err   error
}

func (f *fakeTerminator) DeleteInstances(_ context.Context, group string, ids []string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, group+":"+strings.Join(ids, ","))
	return f.err
}

func (f *fakeTerminator) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

type fixture struct {
	client   kubernetes.Interface
	ns       string
	term     *fakeTerminator
	recorder *record.FakeRecorder
	metrics  *Metrics
	drainer  *Drainer
}

// newFixture returns a Drainer on the test control plane with short
// timeouts: evictions are retried for 2s. Its API calls go through fault
// (nil: none), which can stop a removal at a step.
func newFixture(t *testing.T, fault fault) *fixture {
	env := testenv.Get(t)
	f := &fixture{client: env.Client, ns: env.Namespace(t), term: &fakeTerminator{},
		recorder: record.NewFakeRecorder(1000), metrics: NewMetrics(prometheus.NewRegistry())}
	opts := Options{MaxGracefulTermination: 2 * time.Second, PodDeletionHeadroom: 3 * time.Second,
		RetryInterval: 100 * time.Millisecond, PollInterval: 100 * time.Millisecond}
	d, err := New(Deps{Client: faultyClient(t, env, fault), Terminator: f.term, Recorder: f.recorder, Metrics: f.metrics,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, opts)
	if err != nil {
		t.Fatal(err)
	}
	f.drainer = d
	return f
}

// node creates a Node named after the test's namespace; its instance is
// i-<name>.
func (f *fixture) node(t *testing.T, suffix string, taints ...corev1.Taint) *corev1.Node {
	t.Helper()
	name := f.ns + "-" + suffix
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.NodeSpec{ProviderID: "aws:///us-east-1a/i-" + name, Taints: taints}}
	n, err := f.client.CoreV1().Nodes().Create(context.Background(), n, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.client.CoreV1().Nodes().Delete(context.Background(), name, metav1.DeleteOptions{}) })
	return n
}

func (f *fixture) request(n *corev1.Node) Request {
	return Request{Node: n.Name, Group: "pool-a", InstanceID: "i-" + n.Name}
}

// pod creates a pod bound to node with the grace period; running makes it
// Running and Ready (a Pending pod is evicted regardless of PDBs).
func (f *fixture) pod(t *testing.T, node, name string, grace int64, running bool, modify ...func(*corev1.Pod)) *corev1.Pod {
	t.Helper()
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: f.ns, Labels: map[string]string{"app": name}},
		Spec: corev1.PodSpec{NodeName: node, TerminationGracePeriodSeconds: &grace,
			Containers: []corev1.Container{{Name: "c", Image: "registry.k8s.io/pause:3.10"}}}}
	for _, m := range modify {
		m(p)
	}
	ctx := context.Background()
	p, err := f.client.CoreV1().Pods(f.ns).Create(ctx, p, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if running {
		p.Status.Phase = corev1.PodRunning
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
		if p, err = f.client.CoreV1().Pods(f.ns).UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// fakeKubelet force-deletes the node's Terminating pods, as a kubelet
// confirms a pod's end, until the test ends. It counts the pods it saw
// Terminating.
func (f *fixture) fakeKubelet(t *testing.T, node string) *atomic.Int32 {
	var seen atomic.Int32
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go wait.UntilWithContext(ctx, func(ctx context.Context) {
		list, err := f.client.CoreV1().Pods(metav1.NamespaceAll).List(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("spec.nodeName", node).String()})
		if err != nil {
			return
		}
		for _, p := range list.Items {
			if p.DeletionTimestamp != nil {
				seen.Add(1)
				_ = f.client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: new(int64)})
			}
		}
	}, 100*time.Millisecond)
	return &seen
}

// taintKeys returns the node's taint keys but node.kubernetes.io/ ones.
func (f *fixture) taintKeys(t *testing.T, name string) []string {
	t.Helper()
	n, err := f.client.CoreV1().Nodes().Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, taint := range n.Spec.Taints {
		if strings.HasPrefix(taint.Key, "node.kubernetes.io/") {
			continue // the node lifecycle controller's (no kubelet: not-ready)
		}
		keys = append(keys, taint.Key)
	}
	return keys
}

func (f *fixture) events() string {
	return strings.Join(testenv.RecordedEvents(f.recorder), "\n")
}

func (f *fixture) podExists(t *testing.T, name string) bool {
	t.Helper()
	p, err := f.client.CoreV1().Pods(f.ns).Get(context.Background(), name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	return p.DeletionTimestamp == nil
}

func TestRemoveSuccess(t *testing.T) {
	f := newFixture(t, nil)
	n := f.node(t, "n")
	f.pod(t, n.Name, "quick", 0, true)
	f.pod(t, n.Name, "slow", 30, true) // stays Terminating until the fake kubelet deletes it
	f.pod(t, n.Name, "static", 30, true, func(p *corev1.Pod) {
		p.Annotations = map[string]string{autoscaler.AnnotationMirrorPod: "x"}
	})
	seen := f.fakeKubelet(t, n.Name)

	if err := f.drainer.Remove(context.Background(), f.request(n)); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if got, want := f.term.Calls(), []string{"pool-a:i-" + n.Name}; !slices.Equal(got, want) {
		t.Errorf("terminator calls %v, want %v", got, want)
	}
	if _, err := f.client.CoreV1().Nodes().Get(context.Background(), n.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("node still there (err %v), want it deleted", err)
	}
	if f.podExists(t, "quick") || f.podExists(t, "slow") {
		t.Errorf("evicted pods still exist")
	}
	if !f.podExists(t, "static") {
		t.Errorf("mirror pod was evicted")
	}
	// Without a kubelet a pod with a grace period stays Terminating: the
	// fake kubelet had to finish it.
	if seen.Load() == 0 {
		t.Errorf("the fake kubelet saw no Terminating pod: grace-30 pods are deleted at once?")
	}
	if got := counterValue(t, f.metrics.Evictions.WithLabelValues("evicted")); got != 2 {
		t.Errorf("evictions = %v, want 2", got)
	}
	if got := counterValue(t, f.metrics.Removals.WithLabelValues("pool-a")); got != 1 {
		t.Errorf("removals = %v, want 1", got)
	}
	if ev := f.events(); !strings.Contains(ev, "Normal ScaleDown kelp removed the node") {
		t.Errorf("events %q: want a ScaleDown event", ev)
	}
}

func TestRemoveGraceZeroNeedsNoKubelet(t *testing.T) {
	f := newFixture(t, nil)
	n := f.node(t, "n")
	f.pod(t, n.Name, "a", 0, true)
	f.pod(t, n.Name, "b", 0, false)
	if err := f.drainer.Remove(context.Background(), f.request(n)); err != nil {
		t.Fatalf("Remove: %v (a bound pod with grace period 0 should be deleted at once)", err)
	}
}

func TestRemovePDBBlocksUntilDeadline(t *testing.T) {
	f := newFixture(t, nil)
	n := f.node(t, "n")
	f.pod(t, n.Name, "guarded", 0, true)
	zero := intstr.FromInt32(0)
	_, err := f.client.PolicyV1().PodDisruptionBudgets(f.ns).Create(context.Background(), &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: "guard"},
		Spec: policyv1.PodDisruptionBudgetSpec{MaxUnavailable: &zero,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "guarded"}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	err = f.drainer.Remove(context.Background(), f.request(n))
	var e *Error
	if !errors.As(err, &e) || e.Step != StepEvict || !errors.Is(err, ErrEvictionBlocked) || !e.Untainted {
		t.Fatalf("Remove = %#v, want an untainted Evict failure wrapping ErrEvictionBlocked", err)
	}
	if keys := f.taintKeys(t, n.Name); len(keys) != 0 {
		t.Errorf("taints %v left, want none", keys)
	}
	if !f.podExists(t, "guarded") {
		t.Errorf("guarded pod evicted")
	}
	if calls := f.term.Calls(); len(calls) != 0 {
		t.Errorf("terminator called: %v", calls)
	}
	if got := counterValue(t, f.metrics.Evictions.WithLabelValues("refused")); got < 2 {
		t.Errorf("refused evictions = %v, want retries", got)
	}
	if ev := f.events(); !strings.Contains(ev, "Warning ScaleDownFailed") {
		t.Errorf("events %q: want ScaleDownFailed", ev)
	}
}

func TestRemoveFailureAtEachStep(t *testing.T) {
	for _, tc := range []struct {
		step           Step
		terminatorErr  error
		wantUntainted  bool
		wantTerminated bool
	}{
		{step: StepTaint, wantUntainted: true},
		{step: StepEvict, wantUntainted: true},
		{step: StepWaitForPods, wantUntainted: true},
		{step: StepTerminate, wantUntainted: true},
		{step: StepTerminate, terminatorErr: errors.New("cloud says no"), wantUntainted: true, wantTerminated: true},
		{step: StepDeleteNode, wantTerminated: true}, // the instance is gone: the taint stays
	} {
		name := string(tc.step)
		if tc.terminatorErr != nil {
			name += "/terminator error"
		}
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			f := newFixture(t, func(c call) error {
				if tc.terminatorErr != nil {
					return nil
				}
				switch {
				case tc.step == StepTaint && c.kind == callUpdateNode && c.n == 1,
					tc.step == StepEvict && c.kind == callEvict,
					tc.step == StepTerminate && c.kind == callListPods && c.drained,
					tc.step == StepDeleteNode && c.kind == callDeleteNode:
					return errInjected
				case tc.step == StepWaitForPods && c.kind == callListPods && c.n == 2:
					cancel() // WaitForPods retries failed lists: stop it instead
					return errInjected
				}
				return nil
			})
			f.term.err = tc.terminatorErr
			n := f.node(t, "n")
			f.pod(t, n.Name, "p", 0, true)
			err := f.drainer.Remove(ctx, f.request(n))
			var e *Error
			if !errors.As(err, &e) || e.Step != tc.step || e.Untainted != tc.wantUntainted {
				t.Fatalf("Remove = %v, want a failure at %s with untainted %t", err, tc.step, tc.wantUntainted)
			}
			keys := f.taintKeys(t, n.Name)
			if tainted := slices.Contains(keys, TaintToBeDeleted) && slices.Contains(keys, TaintCAToBeDeleted); tainted == tc.wantUntainted {
				t.Errorf("taints %v, want untainted %t", keys, tc.wantUntainted)
			}
			if got := len(f.term.Calls()) > 0; got != tc.wantTerminated {
				t.Errorf("terminator called %t, want %t", got, tc.wantTerminated)
			}
			if got := counterValue(t, f.metrics.Failures.WithLabelValues(string(tc.step))); got != 1 {
				t.Errorf("failures{step=%s} = %v, want 1", tc.step, got)
			}
			if len(f.drainer.Active()) != 0 {
				t.Errorf("still active: %v", f.drainer.Active())
			}
		})
	}
}

// TestRemoveNeverTerminatesWithPodsLeft binds a new pod to the node after
// the evictions: the instance must not be terminated.
func TestRemoveNeverTerminatesWithPodsLeft(t *testing.T) {
	var f *fixture
	var n *corev1.Node
	var once sync.Once
	f = newFixture(t, func(c call) error {
		if c.kind == callListPods && c.drained { // evicted pods gone: Terminate lists next
			once.Do(func() {
				f.pod(t, n.Name, "latecomer", 0, true, func(p *corev1.Pod) {
					p.Spec.Tolerations = []corev1.Toleration{{Operator: corev1.TolerationOpExists}}
				})
			})
		}
		return nil
	})
	n = f.node(t, "n")
	f.pod(t, n.Name, "p", 0, true)
	err := f.drainer.Remove(context.Background(), f.request(n))
	var e *Error
	if !errors.As(err, &e) || e.Step != StepTerminate || !errors.Is(err, ErrPodsRemain) || !strings.Contains(err.Error(), "latecomer") {
		t.Fatalf("Remove = %v, want ErrPodsRemain naming the latecomer at Terminate", err)
	}
	if calls := f.term.Calls(); len(calls) != 0 {
		t.Errorf("terminator called with a pod left: %v", calls)
	}
	if keys := f.taintKeys(t, n.Name); len(keys) != 0 {
		t.Errorf("taints %v left", keys)
	}
}

func TestRemoveRefusesAnotherInstance(t *testing.T) {
	f := newFixture(t, nil)
	n := f.node(t, "n")
	req := f.request(n)
	req.InstanceID = "i-someone-else"
	err := f.drainer.Remove(context.Background(), req)
	if !errors.Is(err, ErrInstanceMismatch) {
		t.Fatalf("Remove = %v, want ErrInstanceMismatch", err)
	}
	if keys := f.taintKeys(t, n.Name); len(keys) != 0 || len(f.term.Calls()) != 0 {
		t.Errorf("taints %v, terminator calls %v: want nothing done", keys, f.term.Calls())
	}
}

func TestRecover(t *testing.T) {
	release := make(chan struct{})
	reached := make(chan struct{})
	var busyName string
	f := newFixture(t, func(c call) error {
		if c.kind == callListPods && c.node == busyName && c.n == 1 { // tainted, about to evict
			close(reached)
			<-release
		}
		return nil
	})
	other := corev1.Taint{Key: "dedicated", Value: "x", Effect: corev1.TaintEffectNoSchedule}
	stale := f.node(t, "stale",
		corev1.Taint{Key: TaintToBeDeleted, Value: "1", Effect: corev1.TaintEffectNoSchedule},
		corev1.Taint{Key: TaintCAToBeDeleted, Value: "1", Effect: corev1.TaintEffectNoSchedule}, other)
	busyName = f.ns + "-busy"
	busy := f.node(t, "busy")
	// A node the drain controller drains before its instance goes.
	leaving := f.node(t, "leaving", corev1.Taint{Key: TaintToBeDeleted, Value: "1", Effect: corev1.TaintEffectNoSchedule})
	patch := `{"metadata":{"annotations":{"` + termination.AnnotationDrainStarted + `":"2026-12-06T12:00:00Z"}}}`
	if _, err := f.client.CoreV1().Nodes().Patch(context.Background(), leaving.Name, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- f.drainer.Remove(context.Background(), f.request(busy)) }()
	select {
	case <-reached:
	case err := <-done:
		t.Fatalf("Remove ended before evicting: %v", err)
	}

	if err := f.drainer.Recover(context.Background()); err != nil {
		t.Fatalf("Recover: %v", err)
	}
	if keys := f.taintKeys(t, stale.Name); !slices.Equal(keys, []string{"dedicated"}) {
		t.Errorf("stale node taints %v, want only [dedicated]", keys)
	}
	if keys := f.taintKeys(t, busy.Name); !slices.Contains(keys, TaintToBeDeleted) {
		t.Errorf("node being removed lost its taint: %v", keys)
	}
	if keys := f.taintKeys(t, leaving.Name); !slices.Contains(keys, TaintToBeDeleted) {
		t.Errorf("node drained before its instance goes lost its taint: %v", keys)
	}
	if got := counterValue(t, f.metrics.Recovered); got != 1 {
		t.Errorf("recovered = %v, want 1", got)
	}
	close(release)
	if err := <-done; err != nil {
		t.Errorf("Remove: %v", err)
	}
}

// counterValue reads a counter.
func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

func TestNewNamesEveryProblem(t *testing.T) {
	_, err := New(Deps{}, Options{PodDeletionHeadroom: -1})
	for _, want := range []string{"client", "Terminator", "recorder", "metrics", "max graceful termination", "retry interval", "poll interval", "headroom"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("New = %v, want it to name %q", err, want)
		}
	}
	if err := DefaultOptions().Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
}
