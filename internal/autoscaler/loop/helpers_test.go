package loop

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/record"
	testclock "k8s.io/utils/clock/testing"

	"github.com/kelp-dev/kelp/internal/cachetrim"
	"github.com/kelp-dev/kelp/internal/catalog"
	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/testenv"
)

const testZone = "us-east-1a"

// fakeCloud is an in-memory cloud: groups whose target sizes the
// autoscaler sets, with injectable refusals.
type fakeCloud struct {
	mu       sync.Mutex
	groups   []cloud.NodeGroup
	sets     []string // "group=n"
	deleted  []string
	refuse   map[string]error // SetTargetSize errors by group
	launches []cloud.GroupError
}

func (f *fakeCloud) Refresh(context.Context) error { return nil }

// NodeGroups reports every failed launch in launches on every call, as
// the cloud.NodeGroup.Errors contract says (level-triggered).
func (f *fakeCloud) NodeGroups(context.Context) ([]cloud.NodeGroup, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]cloud.NodeGroup, len(f.groups))
	for i, g := range f.groups {
		out[i] = g.Clone()
		for _, e := range f.launches {
			if e.Group == g.ID {
				out[i].Errors = append(out[i].Errors, e)
			}
		}
	}
	return out, nil
}

func (f *fakeCloud) SetTargetSize(_ context.Context, group string, n int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.refuse[group]; err != nil {
		return err
	}
	i := slices.IndexFunc(f.groups, func(g cloud.NodeGroup) bool { return g.ID == group })
	if i < 0 {
		return fmt.Errorf("group %s: %w", group, cloud.ErrNotFound)
	}
	if n < f.groups[i].MinSize || n > f.groups[i].MaxSize {
		return fmt.Errorf("group %s to %d: %w", group, n, cloud.ErrOutOfRange)
	}
	f.groups[i].TargetSize = n
	f.sets = append(f.sets, fmt.Sprintf("%s=%d", group, n))
	return nil
}

func (f *fakeCloud) DeleteInstances(_ context.Context, group string, ids []string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	i := slices.IndexFunc(f.groups, func(g cloud.NodeGroup) bool { return g.ID == group })
	if i < 0 {
		return fmt.Errorf("group %s: %w", group, cloud.ErrNotFound)
	}
	g := &f.groups[i]
	g.Instances = slices.DeleteFunc(g.Instances, func(inst cloud.Instance) bool { return slices.Contains(ids, inst.ID) })
	g.TargetSize -= len(ids)
	f.deleted = append(f.deleted, ids...)
	return nil
}

func (f *fakeCloud) setCalls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.sets)
}

func (f *fakeCloud) group(id string) cloud.NodeGroup {
	f.mu.Lock()
	defer f.mu.Unlock()
	i := slices.IndexFunc(f.groups, func(g cloud.NodeGroup) bool { return g.ID == id })
	return f.groups[i].Clone()
}

// testGroup is a pool of one instance type, from the catalog.
func testGroup(t testing.TB, id, instanceType string, minSize, maxSize int) cloud.NodeGroup {
	t.Helper()
	it, err := catalog.Lookup(instanceType)
	if err != nil {
		t.Fatal(err)
	}
	typ := cloud.InstanceType{Name: it.Name, Architecture: it.Architecture.KubernetesArch(),
		Capacity: it.Capacity(), Allocatable: it.Allocatable(), Price: it.OnDemandPrice}
	return cloud.NodeGroup{ID: id, Pool: id, MinSize: minSize, MaxSize: maxSize, TargetSize: minSize, Template: cloud.NodeTemplate{
		InstanceTypes: []cloud.InstanceType{typ}, CapacityType: catalog.CapacityTypeOnDemand, Zones: []string{testZone},
		Labels: map[string]string{corev1.LabelTopologyZone: testZone, "kelp.dev/pool": id, corev1.LabelOSStable: "linux",
			corev1.LabelInstanceTypeStable: it.Name, corev1.LabelArchStable: typ.Architecture},
		Capacity: typ.Capacity, Allocatable: typ.Allocatable,
	}}
}

// harness runs an Autoscaler against the test control plane and a fake
// cloud, with a fake clock and recorder.
type harness struct {
	t      *testing.T
	env    *testenv.Env
	ns     string
	cloud  *fakeCloud
	clock  *testclock.FakeClock
	events *record.FakeRecorder
	a      *Autoscaler
	lister func() ([]*corev1.Pod, error)
}

func newHarness(t *testing.T, o Options, groups ...cloud.NodeGroup) *harness {
	t.Helper()
	env := testenv.Get(t)
	h := &harness{t: t, env: env, ns: env.Namespace(t), cloud: &fakeCloud{groups: groups, refuse: map[string]error{}},
		clock: testclock.NewFakeClock(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)), events: record.NewFakeRecorder(10000)}
	h.events.IncludeObject = true
	// The controller's transform: the loop works on what its cache keeps.
	factory := informers.NewSharedInformerFactoryWithOptions(env.Client, 0, informers.WithTransform(cachetrim.Transform))
	a, err := New(o, Deps{
		Client: env.Client, Informers: factory, Groups: h.cloud, Scaler: h.cloud,
		Recorder: h.events, Metrics: NewMetrics(prometheus.NewRegistry()), Clock: h.clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	h.a = a
	ctx, cancel := context.WithCancel(context.Background())
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	h.lister = func() ([]*corev1.Pod, error) {
		return corelisters.NewPodLister(a.l.pods).Pods(h.ns).List(labels.Everything())
	}
	t.Cleanup(func() {
		// Pods of this test must not be seen as pending by the next one.
		zero := int64(0)
		_ = env.Client.CoreV1().Pods(h.ns).DeleteCollection(context.Background(), metav1.DeleteOptions{GracePeriodSeconds: &zero}, metav1.ListOptions{})
		_ = wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
			l, err := env.Client.CoreV1().Pods(h.ns).List(ctx, metav1.ListOptions{})
			return err == nil && len(l.Items) == 0, nil
		})
		cancel()
		factory.Shutdown()
	})
	return h
}

// pods creates n pods named prefix-i requesting cpu (and, in kv, more
// resource name/quantity pairs), optionally with a node selector.
func (h *harness) pods(prefix string, n int, cpu string, selector map[string]string, kv ...string) {
	h.t.Helper()
	req := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}
	for i := 0; i+1 < len(kv); i += 2 {
		req[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
	}
	for i := range n {
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%d", prefix, i), Labels: map[string]string{"app": prefix}},
			Spec: corev1.PodSpec{NodeSelector: selector, Containers: []corev1.Container{{
				Name: "c", Image: "registry.k8s.io/pause:3.10", Resources: corev1.ResourceRequirements{Requests: req, Limits: limitsFor(req)},
			}}},
		}
		if _, err := h.env.Client.CoreV1().Pods(h.ns).Create(context.Background(), p, metav1.CreateOptions{}); err != nil {
			h.t.Fatalf("create pod: %v", err)
		}
	}
}

// limitsFor sets limits for extended resources, which require them.
func limitsFor(req corev1.ResourceList) corev1.ResourceList {
	out := corev1.ResourceList{}
	for k, v := range req {
		if strings.Contains(string(k), "/") {
			out[k] = v
		}
	}
	return out
}

// waitUnschedulable waits until the informer shows n of this test's pods
// marked Unschedulable by the real scheduler.
func (h *harness) waitUnschedulable(n int) {
	h.t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
		pods, err := h.lister()
		if err != nil {
			return false, nil
		}
		c := 0
		for _, p := range pods {
			if Unschedulable(p) {
				c++
			}
		}
		return c == n, nil
	})
	if err != nil {
		h.t.Fatalf("%d pods never all unschedulable: %v", n, err)
	}
}

func (h *harness) runOnce() Cycle {
	h.t.Helper()
	c, err := h.a.RunOnce(context.Background())
	if err != nil {
		h.t.Fatal(err)
	}
	return c
}

// drainEvents drains the recorder.
func (h *harness) drainEvents() []string { return testenv.RecordedEvents(h.events) }

func matching(events []string, substr ...string) []string {
	var out []string
	for _, e := range events {
		ok := true
		for _, s := range substr {
			ok = ok && strings.Contains(e, s)
		}
		if ok {
			out = append(out, e)
		}
	}
	return out
}
