package terminationctl

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	corelisters "k8s.io/client-go/listers/core/v1"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/kelp-dev/kelp/internal/autoscaler"
	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/cloud/cloudtest"
	"github.com/kelp-dev/kelp/internal/pool"
	"github.com/kelp-dev/kelp/internal/termination"
	"github.com/kelp-dev/kelp/internal/testenv"
)

var t0 = time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)

const providerID = "aws:///us-east-1a/i-0001"

// scaleInCause is the local cloud's activity cause for a lower desired
// count.
const scaleInCause = "At 2026-12-06T11:59:59Z a user request explicitly set group desired capacity changing the desired capacity from 2 to 1.  " +
	"At 2026-12-06T12:00:00Z an instance was taken out of service in response to a difference between desired and actual capacity, " +
	"shrinking the capacity from 2 to 1.  At 2026-12-06T12:00:00Z instance i-0001 was selected for termination."

// fixture is a group "g" with kelp's hook holding instance i-0001 in
// Terminating:Wait, its Node "n1", and pods on it.
type fixture struct {
	t        *testing.T
	client   *fake.Clientset
	indexer  cache.Indexer
	clouds   *cloudtest.Provider
	clock    *clocktesting.FakePassiveClock
	recorder *record.FakeRecorder
	metrics  *Metrics
	c        *Controller

	mu      sync.Mutex
	evicted map[string]int64 // pod name -> grace seconds
	refuse  bool             // evictions answer 429, as a PDB does
}

func newFixture(t *testing.T, node *corev1.Node, pods ...*corev1.Pod) *fixture {
	f := &fixture{t: t, clock: clocktesting.NewFakePassiveClock(t0), recorder: record.NewFakeRecorder(100), evicted: map[string]int64{}}
	var objs []runtime.Object
	if node != nil {
		objs = append(objs, node)
	}
	for _, p := range pods {
		objs = append(objs, p)
	}
	f.client = fake.NewClientset(objs...)
	f.client.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "eviction" {
			return false, nil, nil
		}
		ev := a.(k8stesting.CreateAction).GetObject().(*policyv1.Eviction)
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.refuse {
			return true, nil, apierrors.NewTooManyRequests("Cannot evict pod as it would violate the pod's disruption budget.", 0)
		}
		f.evicted[ev.Name] = *ev.DeleteOptions.GracePeriodSeconds
		err := f.client.Tracker().Delete(schema.GroupVersionResource{Version: "v1", Resource: "pods"}, ev.Namespace, ev.Name)
		return true, nil, err
	})
	f.indexer = cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	inst := cloud.Instance{ID: "i-0001", ProviderID: providerID, GroupName: "g",
		State: cloud.InstanceStateTerminating, CloudState: cloud.LifecycleTerminatingWait, LeaveCause: scaleInCause}
	f.clouds = cloudtest.New(cloud.NodeGroup{ID: "g", Instances: []cloud.Instance{inst}})
	f.clouds.SetHooks("g", pool.DrainHookName)
	f.metrics = NewMetrics(prometheus.NewRegistry())
	f.c = f.controller()
	return f
}

// controller is a new Controller on the fixture, as after a restart.
func (f *fixture) controller() *Controller {
	return &Controller{Client: f.client, Nodes: corelisters.NewNodeLister(f.indexer), Cloud: f.clouds, Recorder: f.recorder,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: f.metrics, Clock: f.clock,
		Options: termination.Options{MaxGracefulTermination: 3 * time.Minute}}
}

// round syncs the Node lister from the API and runs one round at t0+at.
func (f *fixture) round(at time.Duration) {
	f.t.Helper()
	f.clock.SetTime(t0.Add(at))
	f.sync()
	if err := f.c.Refresh(context.Background()); err != nil {
		f.t.Fatalf("round at %s: %v", at, err)
	}
}

// sync fills the Node lister from the API.
func (f *fixture) sync() {
	f.t.Helper()
	for _, o := range f.indexer.List() {
		_ = f.indexer.Delete(o)
	}
	nodes, err := f.client.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	for i := range nodes.Items {
		_ = f.indexer.Add(&nodes.Items[i])
	}
}

func (f *fixture) node() *corev1.Node {
	n, err := f.client.CoreV1().Nodes().Get(context.Background(), "n1", metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		f.t.Fatal(err)
	}
	return n
}

func (f *fixture) events() string {
	return strings.Join(testenv.RecordedEvents(f.recorder), "\n")
}

func testNode(annotations map[string]string) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1", UID: "uid-n1", Annotations: annotations},
		Spec: corev1.NodeSpec{ProviderID: providerID}}
}

func testPod(name string, grace int64, owner string) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name)},
		Spec: corev1.PodSpec{NodeName: "n1", TerminationGracePeriodSeconds: &grace}, Status: corev1.PodStatus{Phase: corev1.PodRunning}}
	if owner != "" {
		yes := true
		p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: owner, Name: "x", UID: "uid-x", Controller: &yes}}
	}
	return p
}

func TestDrainThenComplete(t *testing.T) {
	f := newFixture(t, testNode(nil), testPod("web", 30, "ReplicaSet"), testPod("slow", 3600, ""), testPod("logs", 30, "DaemonSet"))
	f.round(0)
	n := f.node()
	if !cordoned(n) || drainStarted(n) != t0 {
		t.Fatalf("after the first round: unschedulable %v taints %v annotations %v", n.Spec.Unschedulable, n.Spec.Taints, n.Annotations)
	}
	if f.evicted["web"] != 30 || f.evicted["slow"] != 180 || len(f.evicted) != 2 {
		t.Errorf("evicted (grace seconds) = %v, want web 30, slow capped at 180, no DaemonSet pod", f.evicted)
	}
	if len(f.clouds.Completed()) != 0 {
		t.Fatal("completed before the node was drained")
	}
	if got := testutil.ToFloat64(f.metrics.InProgress); got != 1 {
		t.Errorf("in progress = %v, want 1", got)
	}
	f.round(5 * time.Second)
	done := f.clouds.Completed()
	if len(done) != 1 || done[0].InstanceID != "i-0001" || done[0].Hook != pool.DrainHookName || done[0].Result != cloud.LifecycleContinue {
		t.Fatalf("completed = %+v, want i-0001 with CONTINUE", done)
	}
	if f.node() != nil {
		t.Error("the Node was not deleted")
	}
	ev := f.events()
	for _, want := range []string{"Normal Draining instance i-0001 is being terminated by its group g: scale-in", "Normal Drained"} {
		if !strings.Contains(ev, want) {
			t.Errorf("events %q lack %q", ev, want)
		}
	}
	if got := testutil.ToFloat64(f.metrics.Drains.WithLabelValues("scale-in", termination.ReasonDrained)); got != 1 {
		t.Errorf("drains{scale-in,Drained} = %v, want 1", got)
	}
	if got := testutil.ToFloat64(f.metrics.InProgress); got != 0 {
		t.Errorf("in progress = %v, want 0", got)
	}
}

// TestEveryLeavingNodeIsCordonedBeforeAnyEviction: two instances leave at
// once; both Nodes are cordoned before the first pod is evicted, so a
// replacement pod cannot land on the other leaving node.
func TestEveryLeavingNodeIsCordonedBeforeAnyEviction(t *testing.T) {
	f := newFixture(t, testNode(nil), testPod("web", 30, "ReplicaSet"))
	n2 := testNode(nil)
	n2.Name, n2.UID, n2.Spec.ProviderID = "n2", "uid-n2", "aws:///us-east-1a/i-0002"
	web2 := testPod("web2", 30, "ReplicaSet")
	web2.Spec.NodeName = "n2"
	for _, o := range []runtime.Object{n2, web2} {
		if err := f.client.Tracker().Add(o); err != nil {
			t.Fatal(err)
		}
	}
	leaving := func(id, providerID string) cloud.Instance {
		return cloud.Instance{ID: id, ProviderID: providerID, GroupName: "g",
			State: cloud.InstanceStateTerminating, CloudState: cloud.LifecycleTerminatingWait, LeaveCause: scaleInCause}
	}
	f.clouds.SetGroups(cloud.NodeGroup{ID: "g", Instances: []cloud.Instance{leaving("i-0001", providerID), leaving("i-0002", n2.Spec.ProviderID)}})
	f.client.ClearActions()
	f.round(0)
	var order []string
	for _, a := range f.client.Actions() {
		switch {
		case a.GetVerb() == "update" && a.GetResource().Resource == "nodes":
			order = append(order, "cordon "+a.(k8stesting.UpdateAction).GetObject().(*corev1.Node).Name)
		case a.GetVerb() == "create" && a.GetSubresource() == "eviction":
			order = append(order, "evict "+a.(k8stesting.CreateAction).GetObject().(*policyv1.Eviction).Name)
		}
	}
	firstEviction := slices.IndexFunc(order, func(s string) bool { return strings.HasPrefix(s, "evict") })
	if firstEviction < 0 || !slices.Contains(order[:firstEviction], "cordon n1") || !slices.Contains(order[:firstEviction], "cordon n2") {
		t.Errorf("round's writes %v: want both Nodes cordoned before the first eviction", order)
	}
	if len(f.evicted) != 2 {
		t.Errorf("evicted %v, want web and web2", f.evicted)
	}
}

// TestBlockedDrainHeartbeatsThenGivesUp: a PDB refuses every eviction; the
// held action gets a heartbeat every interval, then the drain ends at its
// bound with CONTINUE and a Warning.
func TestBlockedDrainHeartbeatsThenGivesUp(t *testing.T) {
	f := newFixture(t, testNode(nil), testPod("web", 30, "ReplicaSet"))
	f.refuse = true
	for _, at := range []time.Duration{0, 30 * time.Second, 59 * time.Second} {
		f.round(at)
	}
	if n := len(f.clouds.Heartbeats()); n != 0 {
		t.Fatalf("heartbeats before the interval = %d", n)
	}
	f.round(61 * time.Second)
	f.round(90 * time.Second)
	if n := len(f.clouds.Heartbeats()); n != 1 {
		t.Fatalf("heartbeats after 90s = %d, want 1", n)
	}
	f.round(122 * time.Second)
	if n := len(f.clouds.Heartbeats()); n != 2 {
		t.Fatalf("heartbeats after 122s = %d, want 2", n)
	}
	if len(f.clouds.Completed()) != 0 || f.node() == nil {
		t.Fatal("let go before the bound")
	}
	f.round(3 * time.Minute)
	if done := f.clouds.Completed(); len(done) != 1 || done[0].Result != cloud.LifecycleContinue {
		t.Fatalf("completed = %+v, want CONTINUE at the bound", done)
	}
	if f.node() != nil {
		t.Error("the Node was not deleted")
	}
	if ev := f.events(); !strings.Contains(ev, "Warning DrainTimedOut") || !strings.Contains(ev, "1 pods still on the node") {
		t.Errorf("events %q lack the Warning", ev)
	}
	if got := testutil.ToFloat64(f.metrics.Drains.WithLabelValues("scale-in", termination.ReasonDrainTimedOut)); got != 1 {
		t.Errorf("drains{scale-in,DrainTimedOut} = %v, want 1", got)
	}
}

// TestRestartResumesFromTheAnnotation: a new controller counts the bound
// from the Node's drain-started annotation, not from when it noticed.
func TestRestartResumesFromTheAnnotation(t *testing.T) {
	started := t0.Add(-3 * time.Minute).Format(time.RFC3339)
	n := testNode(map[string]string{AnnotationDrainStarted: started})
	n.Spec.Unschedulable = true
	n.Spec.Taints = []corev1.Taint{{Key: autoscaler.ToBeDeletedTaint, Effect: corev1.TaintEffectNoSchedule}}
	f := newFixture(t, n, testPod("web", 30, "ReplicaSet"))
	f.refuse = true
	f.round(0)
	if done := f.clouds.Completed(); len(done) != 1 {
		t.Fatalf("completed = %+v, want the resumed drain ended at its bound", done)
	}
	if f.node() != nil {
		t.Error("the Node was not deleted")
	}
}

func TestNoNodeCompletesAtOnce(t *testing.T) {
	f := newFixture(t, nil)
	f.round(0)
	if done := f.clouds.Completed(); len(done) != 1 || done[0].InstanceID != "i-0001" {
		t.Fatalf("completed = %+v, want i-0001", done)
	}
	if got := testutil.ToFloat64(f.metrics.Drains.WithLabelValues("scale-in", termination.ReasonNoNode)); got != 1 {
		t.Errorf("drains{scale-in,NoNode} = %v, want 1", got)
	}
	f.round(5 * time.Second) // Terminating:Proceed now: nothing more
	if n := len(f.clouds.Completed()); n != 1 {
		t.Errorf("completed %d times", n)
	}
}

// TestGroupWithoutTheHook: an instance waiting on another hook only is
// drained; completing kelp's absent hook is not an error.
func TestGroupWithoutTheHook(t *testing.T) {
	f := newFixture(t, nil)
	f.clouds.SetHooks("g", "someone-elses")
	f.round(0)
	if n := len(f.clouds.Completed()); n != 0 {
		t.Errorf("completed %d actions of another hook", n)
	}
}

// TestFailedCompletionIsRetried: a cloud that fails is not a finished
// drain; the next round completes.
func TestFailedCompletionIsRetried(t *testing.T) {
	f := newFixture(t, nil)
	if err := f.clouds.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.clouds.SetErr(errors.New("throttled"))
	f.c.Cloud = failingRefresh{f.clouds}
	if err := f.c.Refresh(context.Background()); err == nil || !strings.Contains(err.Error(), "throttled") {
		t.Fatalf("round error = %v, want the failed completion", err)
	}
	f.c.Cloud = f.clouds
	if got := testutil.ToFloat64(f.metrics.Drains.WithLabelValues("scale-in", termination.ReasonNoNode)); got != 0 {
		t.Errorf("drains{scale-in,NoNode} = %v before it completed", got)
	}
	f.clouds.SetErr(nil)
	f.round(5 * time.Second)
	if done := f.clouds.Completed(); len(done) != 1 {
		t.Fatalf("completed = %+v, want the retry to complete", done)
	}
	if got := testutil.ToFloat64(f.metrics.Drains.WithLabelValues("scale-in", termination.ReasonNoNode)); got != 1 {
		t.Errorf("drains{scale-in,NoNode} = %v, want 1", got)
	}
}

// failingRefresh refreshes and lists despite the fake's error, so only
// the lifecycle actions fail.
type failingRefresh struct{ *cloudtest.Provider }

func (failingRefresh) Refresh(context.Context) error { return nil }
