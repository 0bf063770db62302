package e2e

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// drainWatch records a scale-in as it happens. A pod watch gives the
// fewest ready pods at any moment, when each pod was marked for eviction
// through the Eviction API (its DisruptionTarget condition, reason
// EvictionByEvictionAPI) and when the last replacement became ready; a
// 100 ms poll of the instances' states, each followed by a list of the
// pods, gives when each instance was first seen leaving and every pod
// still on a Node whose instance had left.
type drainWatch struct {
	mu        sync.Mutex
	result    drainResult
	ready     map[string]bool // pod → ready, not being deleted
	tracking  bool            // the watch has synced: ready counts are real
	stopWatch context.CancelFunc
	// what sample reads
	ctx        context.Context
	client     kubernetes.Interface
	ec2c       *ec2.Client
	selector   string
	instanceOf map[string]string
	done       chan struct{}
	wg         sync.WaitGroup
}

// drainResult is what a drainWatch saw.
type drainResult struct {
	minReady   int
	evicted    map[string]time.Time // pod → first seen with its DisruptionTarget
	gone       map[string]time.Time // instance → first seen shutting down or terminated
	lastReady  time.Time            // the last time a pod became ready
	violations []string
}

const evictionByAPI = "EvictionByEvictionAPI"

func watchDrain(tb testing.TB, ctx context.Context, client kubernetes.Interface, ec2c *ec2.Client, selector string, instanceOf map[string]string) *drainWatch {
	tb.Helper()
	w := &drainWatch{ready: map[string]bool{}, done: make(chan struct{}),
		result: drainResult{evicted: map[string]time.Time{}, gone: map[string]time.Time{}}}
	wctx, stop := context.WithCancel(ctx)
	w.stopWatch, w.ctx, w.client, w.ec2c, w.selector, w.instanceOf = stop, ctx, client, ec2c, selector, instanceOf
	factory := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithNamespace(metav1.NamespaceDefault),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = selector }))
	reg, err := factory.Core().V1().Pods().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    w.pod,
		UpdateFunc: func(_, o any) { w.pod(o) },
		DeleteFunc: func(o any) {
			if d, ok := o.(cache.DeletedFinalStateUnknown); ok {
				o = d.Obj
			}
			if p, ok := o.(*corev1.Pod); ok {
				w.mu.Lock()
				delete(w.ready, p.Name)
				w.count()
				w.mu.Unlock()
			}
		},
	})
	if err != nil {
		tb.Fatal(err)
	}
	factory.Start(wctx.Done())
	// The handler has seen every pod, not only the informer's store.
	if !cache.WaitForCacheSync(wctx.Done(), reg.HasSynced) {
		tb.Fatal("the pod watch did not sync")
	}
	w.mu.Lock()
	w.tracking, w.result.minReady = true, len(w.ready)
	w.count()
	w.mu.Unlock()
	w.wg.Go(func() { w.poll(wctx) })
	return w
}

// pod records a pod's readiness and its eviction.
func (w *drainWatch) pod(obj any) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.DisruptionTarget && c.Status == corev1.ConditionTrue && c.Reason == evictionByAPI {
			if _, seen := w.result.evicted[p.Name]; !seen {
				w.result.evicted[p.Name] = now
			}
		}
	}
	ready := p.DeletionTimestamp == nil && podReady(p)
	if ready && !w.ready[p.Name] && w.tracking {
		w.result.lastReady = now
	}
	w.ready[p.Name] = ready
	w.count()
}

// count updates the fewest ready pods; w.mu is held.
func (w *drainWatch) count() {
	if !w.tracking {
		return
	}
	n := 0
	for _, r := range w.ready {
		if r {
			n++
		}
	}
	w.result.minReady = min(w.result.minReady, n)
}

// poll samples every 100 ms until stopped.
func (w *drainWatch) poll(ctx context.Context) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		w.sample(ctx)
		select {
		case <-w.done:
			return
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// sample reads the instances' states, then the pods: a pod listed after
// its instance was seen leaving was on its Node when the instance left.
func (w *drainWatch) sample(ctx context.Context) {
	states, serr := poolInstanceStates(ctx, w.ec2c)
	pods, err := w.client.CoreV1().Pods(metav1.NamespaceDefault).List(ctx, metav1.ListOptions{LabelSelector: w.selector})
	if err != nil || serr != nil {
		return
	}
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	for id, s := range states {
		if _, seen := w.result.gone[id]; !seen && s != ec2types.InstanceStateNameRunning && s != ec2types.InstanceStateNamePending {
			w.result.gone[id] = now
		}
	}
	for _, p := range pods.Items {
		id := w.instanceOf[p.Spec.NodeName]
		if s := states[id]; id != "" && s != ec2types.InstanceStateNameRunning && s != ec2types.InstanceStateNamePending {
			w.result.violations = append(w.result.violations, "pod "+p.Name+" still on node "+p.Spec.NodeName+" with its instance "+id+" "+string(s))
		}
	}
}

// stop ends the watch and returns what it saw.
func (w *drainWatch) stop() drainResult {
	close(w.done)
	w.wg.Wait()
	w.sample(w.ctx) // the instances that left since the last sample
	w.stopWatch()
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.result
}

func itoa(n int) string { return strconv.Itoa(n) }
