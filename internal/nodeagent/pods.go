package nodeagent

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
)

// podRunner "runs" the pods bound to one node: a single pod watch with the
// field selector spec.nodeName=<node> feeds a work queue of pod keys, and
// one worker syncs each key. Only the worker touches ips and killing.
type podRunner struct {
	node   string
	hostIP netip.Addr
	client kubernetes.Interface
	clock  clock.WithTicker
	log    *slog.Logger

	store   cache.Store
	ctrl    cache.Controller
	queue   workqueue.TypedRateLimitingInterface[string]
	ips     *podIPs
	killing map[string]killing
	started map[string]bool // pods reported running
	running atomic.Int32    // len(started), for Status
}

// killing remembers when the agent saw a pod's deletion, to wait out its
// grace period.
type killing struct {
	uid   types.UID
	since time.Time
}

func newPodRunner(a *Agent, client kubernetes.Interface, podCIDR netip.Prefix) *podRunner {
	r := &podRunner{
		node:    a.facts.name(),
		hostIP:  a.facts.ID.addr(),
		client:  client,
		clock:   a.clock,
		log:     a.log,
		ips:     newPodIPs(podCIDR),
		killing: map[string]killing{},
		started: map[string]bool{},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Clock: a.clock}),
	}
	lw := cache.NewListWatchFromClient(client.CoreV1().RESTClient(), "pods", metav1.NamespaceAll,
		fields.OneTermEqualSelector("spec.nodeName", r.node))
	logger := logr.FromSlogHandler(a.log.Handler())
	r.store, r.ctrl = cache.NewInformerWithOptions(cache.InformerOptions{
		Logger:        &logger,
		ListerWatcher: lw,
		ObjectType:    &corev1.Pod{},
		Handler: cache.ResourceEventHandlerFuncs{
			AddFunc:    r.enqueue,
			UpdateFunc: func(_, obj any) { r.enqueue(obj) },
			DeleteFunc: r.enqueue,
		},
		Transform: dropManagedFields,
	})
	return r
}

// dropManagedFields keeps the pod cache small.
func dropManagedFields(obj any) (any, error) {
	if m, ok := obj.(metav1.Object); ok {
		m.SetManagedFields(nil)
	}
	return obj, nil
}

func (r *podRunner) enqueue(obj any) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		r.log.Warn("pod event without key", "err", err)
		return
	}
	r.queue.Add(key)
}

// run watches and syncs pods until ctx ends; it returns once its
// goroutines are done.
func (r *podRunner) run(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	defer r.queue.ShutDown() // runs before wg.Wait: it releases the worker
	wg.Go(func() { r.ctrl.RunWithContext(ctx) })
	if !cache.WaitForCacheSync(ctx.Done(), r.ctrl.HasSynced) {
		return
	}
	wg.Go(func() {
		for r.processNext(ctx) {
		}
	})
	<-ctx.Done()
}

func (r *podRunner) processNext(ctx context.Context) bool {
	key, quit := r.queue.Get()
	if quit {
		return false
	}
	defer r.queue.Done(key)
	if err := r.sync(ctx, key); err != nil {
		if ctx.Err() == nil {
			r.log.Warn("sync pod failed; requeued", "pod", key, "err", err)
		}
		r.queue.AddRateLimited(key)
		return true
	}
	r.queue.Forget(key)
	return true
}

// sync brings one pod to what a kubelet would report. It is idempotent:
// a pod that already reads as wanted is not written.
func (r *podRunner) sync(ctx context.Context, key string) error {
	obj, exists, err := r.store.GetByKey(key)
	if err != nil {
		return fmt.Errorf("get pod %s from cache: %w", key, err)
	}
	pod, ok := obj.(*corev1.Pod)
	if !exists || !ok || pod.Spec.NodeName != r.node {
		r.forget(key)
		return nil
	}
	switch {
	case pod.DeletionTimestamp != nil:
		return r.kill(ctx, key, pod)
	case isTerminal(pod):
		r.forget(key)
		return nil
	default:
		return r.start(ctx, key, pod)
	}
}

// forget drops what the agent remembers about a pod that is gone or done.
func (r *podRunner) forget(key string) {
	r.ips.release(key)
	delete(r.killing, key)
	delete(r.started, key)
	r.running.Store(int32(len(r.started)))
}

// markStarted counts the pod as running.
func (r *podRunner) markStarted(key string) {
	r.started[key] = true
	r.running.Store(int32(len(r.started)))
}

// start reports the pod Running and Ready with a pod IP, keeping the IP an
// adopted pod already has when it is in the node's range.
func (r *podRunner) start(ctx context.Context, key string, pod *corev1.Pod) error {
	ip, err := r.podIP(key, pod)
	if err != nil {
		return fmt.Errorf("start pod %s: %w", key, err)
	}
	want := runningStatus(pod, ip, r.hostIP, r.clock.Now())
	if statusCurrent(pod.Status, want) {
		r.markStarted(key)
		return nil
	}
	next := pod.DeepCopy()
	next.Status = want
	_, err = r.client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, next, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("update pod %s status: %w", key, err)
	}
	r.markStarted(key)
	r.log.Debug("pod running", "pod", key, "podIP", ip)
	return nil
}

// podIP returns the IP the pod runs with: the node's for host-network
// pods, else the one it already has or the next free one.
func (r *podRunner) podIP(key string, pod *corev1.Pod) (netip.Addr, error) {
	if pod.Spec.HostNetwork {
		return r.hostIP, nil
	}
	if ip, ok := r.ips.assigned(key); ok {
		return ip, nil
	}
	if have, err := netip.ParseAddr(pod.Status.PodIP); err == nil && r.ips.reserve(key, have) {
		return have, nil
	}
	return r.ips.allocate(key)
}

// kill waits out the pod's deletion grace period on the agent's clock,
// counted from when the agent first saw the deletion, then reports the
// containers exited and deletes the pod with grace 0 and its UID as
// precondition, as the kubelet's status manager does.
func (r *podRunner) kill(ctx context.Context, key string, pod *corev1.Pod) error {
	now := r.clock.Now()
	k, seen := r.killing[key]
	if !seen || k.uid != pod.UID {
		k = killing{uid: pod.UID, since: now}
		r.killing[key] = k
	}
	grace := time.Duration(ptr.Deref(pod.DeletionGracePeriodSeconds, 0)) * time.Second
	if left := k.since.Add(grace).Sub(now); left > 0 {
		r.queue.AddAfter(key, left)
		return nil
	}
	pods := r.client.CoreV1().Pods(pod.Namespace)
	if !isTerminal(pod) {
		next := pod.DeepCopy()
		next.Status = terminatedStatus(pod, now)
		if _, err := pods.UpdateStatus(ctx, next, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("update pod %s status to %s: %w", key, next.Status.Phase, err)
		}
	}
	err := pods.Delete(ctx, pod.Name, metav1.DeleteOptions{
		GracePeriodSeconds: ptr.To[int64](0),
		Preconditions:      metav1.NewUIDPreconditions(string(pod.UID)),
	})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("delete pod %s: %w", key, err)
	}
	r.log.Debug("pod deleted", "pod", key, "uid", pod.UID)
	return nil
}
