package drain

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"

	"github.com/kelp-dev/kelp/internal/autoscaler"
)

// removal is the state of one Remove call.
type removal struct {
	*Drainer
	req        Request
	log        *slog.Logger
	step       Step         // the step running (or failed)
	node       *corev1.Node // set once the node is known to be the request's
	pods       []*corev1.Pod
	maxGrace   int64 // longest grace period used, seconds
	evicted    int
	terminated bool
}

// run performs the steps in order and returns the first failure; r.step
// names it.
func (r *removal) run(ctx context.Context) error {
	r.step = StepTaint
	node, err := r.d.Client.CoreV1().Nodes().Get(ctx, r.req.Node, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("get node: %w", err)
	}
	if r.req.InstanceID == "" || !strings.HasSuffix(node.Spec.ProviderID, "/"+r.req.InstanceID) {
		return fmt.Errorf("%w: providerID %q, instance %q", ErrInstanceMismatch, node.Spec.ProviderID, r.req.InstanceID)
	}
	r.node = node
	for _, s := range []struct {
		step Step
		fn   func(context.Context) error
	}{
		{StepTaint, r.taint}, {StepEvict, r.evict}, {StepWaitForPods, r.waitForPods},
		{StepTerminate, r.terminate}, {StepDeleteNode, r.deleteNode},
	} {
		r.step = s.step
		if err := s.fn(ctx); err != nil {
			return err
		}
	}
	return nil
}

func (r *removal) taint(ctx context.Context) error {
	if err := r.setTaints(ctx, r.req.Node, true); err != nil {
		return err
	}
	r.log.Info("node tainted to be deleted")
	return nil
}

// evict evicts every pod of the node but DaemonSet and mirror pods,
// retrying refused evictions until MaxGracefulTermination has passed.
func (r *removal) evict(ctx context.Context) error {
	pods, err := r.listPods(ctx)
	if err != nil {
		return err
	}
	r.pods = pods
	r.d.Recorder.Eventf(r.node, corev1.EventTypeNormal, EventScaleDown, "kelp is removing the node: evicting %d pod(s)", len(pods))
	deadline := r.d.Clock.Now().Add(r.opts.MaxGracefulTermination)
	delay := r.opts.RetryInterval
	pending := pods
	for {
		var refused []*corev1.Pod
		var last error
		for _, p := range pending {
			done, err := r.evictPod(ctx, p)
			switch {
			case done:
				r.evicted++
				r.d.Metrics.Evictions.With(prometheus.Labels{"result": "evicted"}).Inc()
			case err == nil || apierrors.IsTooManyRequests(err) || transient(err):
				refused, last = append(refused, p), err
				r.d.Metrics.Evictions.With(prometheus.Labels{"result": "refused"}).Inc()
			default:
				r.d.Metrics.Evictions.With(prometheus.Labels{"result": "failed"}).Inc()
				return fmt.Errorf("evict pod %s/%s: %w", p.Namespace, p.Name, err)
			}
		}
		if len(refused) == 0 {
			return nil
		}
		left := deadline.Sub(r.d.Clock.Now())
		if left <= 0 {
			err := fmt.Errorf("%d pod(s) not evicted within %s (%s): %w", len(refused), r.opts.MaxGracefulTermination, podNames(refused), last)
			if apierrors.IsTooManyRequests(last) {
				err = fmt.Errorf("%w: %w", ErrEvictionBlocked, err)
			}
			return err
		}
		if err := r.sleep(ctx, min(jitter(delay), left)); err != nil {
			return fmt.Errorf("evict pods: %w", err)
		}
		delay = min(2*delay, 10*r.opts.RetryInterval)
		pending = refused
	}
}

// evictPod evicts p with its grace period capped at MaxGracefulTermination.
// done means the pod is evicted or gone (a new pod of the same name is not
// this one).
func (r *removal) evictPod(ctx context.Context, p *corev1.Pod) (bool, error) {
	grace := int64(corev1.DefaultTerminationGracePeriodSeconds)
	if p.Spec.TerminationGracePeriodSeconds != nil {
		grace = *p.Spec.TerminationGracePeriodSeconds
	}
	grace = min(grace, int64(r.opts.MaxGracefulTermination/time.Second))
	r.maxGrace = max(r.maxGrace, grace)
	uid := p.UID
	err := r.d.Client.CoreV1().Pods(p.Namespace).EvictV1(ctx, &policyv1.Eviction{
		ObjectMeta:    metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace},
		DeleteOptions: &metav1.DeleteOptions{GracePeriodSeconds: &grace, Preconditions: &metav1.Preconditions{UID: &uid}},
	})
	if ignorable(err) {
		if err == nil {
			r.d.Recorder.Event(p, corev1.EventTypeNormal, EventScaleDown, "deleting pod for node scale down")
		}
		return true, nil
	}
	if apierrors.IsConflict(err) { // the UID precondition: replaced, or gone
		cur, gerr := r.d.Client.CoreV1().Pods(p.Namespace).Get(ctx, p.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(gerr) || (gerr == nil && cur.UID != uid) {
			return true, nil
		}
		return false, nil // retried
	}
	return false, err
}

// transient reports API errors worth retrying.
func transient(err error) bool {
	return apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err) || apierrors.IsServiceUnavailable(err) ||
		apierrors.IsTooManyRequests(err)
}

// waitForPods waits until every evicted pod is gone from the API: the
// longest grace period used plus PodDeletionHeadroom.
func (r *removal) waitForPods(ctx context.Context) error {
	want := map[types.UID]bool{}
	for _, p := range r.pods {
		want[p.UID] = true
	}
	var remaining []*corev1.Pod
	timeout := time.Duration(r.maxGrace)*time.Second + r.opts.PodDeletionHeadroom
	err := wait.PollUntilContextTimeout(ctx, r.opts.PollInterval, max(timeout, r.opts.PollInterval), true, func(ctx context.Context) (bool, error) {
		list, err := r.d.Client.CoreV1().Pods(metav1.NamespaceAll).List(ctx, r.onNode())
		if err != nil {
			return false, nil // retried until the deadline
		}
		remaining = remaining[:0]
		for i := range list.Items {
			if want[list.Items[i].UID] {
				remaining = append(remaining, &list.Items[i])
			}
		}
		return len(remaining) == 0, nil
	})
	if err != nil {
		if len(remaining) > 0 {
			return fmt.Errorf("%w: %d evicted pod(s) not gone within %s (%s)", ErrPodsRemain, len(remaining), timeout, podNames(remaining))
		}
		return fmt.Errorf("wait for evicted pods: %w", err)
	}
	return nil
}

// terminate re-lists the node's pods and terminates the instance only if
// none is left but DaemonSet and mirror pods.
func (r *removal) terminate(ctx context.Context) error {
	left, err := r.listPods(ctx)
	if err != nil {
		return err
	}
	if len(left) > 0 {
		return fmt.Errorf("%w: not terminating instance %s: %s", ErrPodsRemain, r.req.InstanceID, podNames(left))
	}
	if err := r.d.Terminator.DeleteInstances(ctx, r.req.Group, []string{r.req.InstanceID}); err != nil {
		return fmt.Errorf("terminate instance %s of group %s: %w", r.req.InstanceID, r.req.Group, err)
	}
	r.terminated = true
	r.log.Info("instance terminated")
	return nil
}

func (r *removal) deleteNode(ctx context.Context) error {
	uid := r.node.UID
	err := r.d.Client.CoreV1().Nodes().Delete(ctx, r.req.Node, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("delete node: %w", err)
	}
	r.d.Recorder.Eventf(r.node, corev1.EventTypeNormal, EventScaleDown, "kelp removed the node: %d pod(s) evicted, instance %s of %s terminated", r.evicted, r.req.InstanceID, r.req.Group)
	return nil
}

// listPods lists the node's pods from the API server, DaemonSet and mirror
// pods excepted.
func (r *removal) listPods(ctx context.Context) ([]*corev1.Pod, error) {
	list, err := r.d.Client.CoreV1().Pods(metav1.NamespaceAll).List(ctx, r.onNode())
	if err != nil {
		return nil, fmt.Errorf("list pods of node: %w", err)
	}
	var out []*corev1.Pod
	for i := range list.Items {
		if p := &list.Items[i]; !autoscaler.IsDaemonOrMirrorPod(p) {
			out = append(out, p)
		}
	}
	return out, nil
}

func (r *removal) onNode() metav1.ListOptions {
	return metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("spec.nodeName", r.req.Node).String()}
}

// sleep waits d or until ctx ends.
func (r *removal) sleep(ctx context.Context, d time.Duration) error {
	t := r.d.Clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C():
		return nil
	}
}

// jitter returns d plus up to half of d.
func jitter(d time.Duration) time.Duration {
	return d + time.Duration(rand.Int64N(int64(d)/2+1))
}

// setTaints adds (add) or removes both to-be-deleted taints, retrying on
// conflicts; the node's unchanged taints are not written.
func (d *Drainer) setTaints(ctx context.Context, name string, add bool) error {
	value := strconv.FormatInt(d.d.Clock.Now().Unix(), 10)
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		node, err := d.d.Client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		taints := slices.DeleteFunc(slices.Clone(node.Spec.Taints), func(t corev1.Taint) bool {
			return t.Key == TaintToBeDeleted || t.Key == TaintCAToBeDeleted
		})
		if add {
			taints = append(taints,
				corev1.Taint{Key: TaintToBeDeleted, Value: value, Effect: corev1.TaintEffectNoSchedule},
				corev1.Taint{Key: TaintCAToBeDeleted, Value: value, Effect: corev1.TaintEffectNoSchedule})
		} else if len(taints) == len(node.Spec.Taints) {
			return nil
		}
		node.Spec.Taints = taints
		_, err = d.d.Client.CoreV1().Nodes().Update(ctx, node, metav1.UpdateOptions{})
		return err
	})
	if apierrors.IsNotFound(err) && !add {
		return nil
	}
	if err != nil {
		verb := map[bool]string{true: "taint", false: "untaint"}[add]
		return fmt.Errorf("%s node %s: %w", verb, name, err)
	}
	return nil
}

// untaint removes both to-be-deleted taints.
func (d *Drainer) untaint(ctx context.Context, name string) error {
	return d.setTaints(ctx, name, false)
}
