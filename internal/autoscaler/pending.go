package autoscaler

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// Defaults of [PendingOptions], cluster-autoscaler's.
const (
	DefaultExpendablePodsPriorityCutoff = -10
	DefaultNewPodScaleUpDelay           = 0
)

// AnnotationPodScaleUpDelay on a pod lengthens --new-pod-scale-up-delay
// for it (a Go duration; shorter than the flag is ignored), as in
// cluster-autoscaler.
const AnnotationPodScaleUpDelay = "cluster-autoscaler.kubernetes.io/pod-scale-up-delay"

// PendingOptions say which unschedulable pods scale-up leaves out, as
// cluster-autoscaler's --expendable-pods-priority-cutoff and
// --new-pod-scale-up-delay.
type PendingOptions struct {
	// ExpendablePodsPriorityCutoff: pods whose priority is below it are
	// expendable. They trigger no scale-up; bound, they take no room in
	// the simulation, so they neither block scale-down nor keep real pods
	// from fitting (they are preempted or evicted).
	ExpendablePodsPriorityCutoff int
	// NewPodScaleUpDelay: pods younger than it trigger no scale-up yet.
	NewPodScaleUpDelay time.Duration
}

// DefaultPendingOptions returns cluster-autoscaler's defaults.
func DefaultPendingOptions() PendingOptions {
	return PendingOptions{ExpendablePodsPriorityCutoff: DefaultExpendablePodsPriorityCutoff, NewPodScaleUpDelay: DefaultNewPodScaleUpDelay}
}

// Validate names what is wrong.
func (o PendingOptions) Validate() error {
	if o.NewPodScaleUpDelay < 0 {
		return fmt.Errorf("new-pod-scale-up-delay %s: must not be negative", o.NewPodScaleUpDelay)
	}
	return nil
}

// PendingSkip is why scale-up leaves an unschedulable pod out; "" means it
// is considered.
type PendingSkip string

// Why scale-up leaves a pod out.
const (
	// SkipExpendable: its priority is below the cutoff.
	SkipExpendable PendingSkip = "expendable"
	// SkipPreempting: the scheduler nominated an existing node for it and
	// is preempting lower-priority pods there.
	SkipPreempting PendingSkip = "preempting"
	// SkipTooNew: it is younger than its scale-up delay.
	SkipTooNew PendingSkip = "too-new"
)

// Expendable reports whether pod's priority is below cutoff (a pod without
// a priority has 0).
func Expendable(pod *corev1.Pod, cutoff int) bool {
	return pod.Spec.Priority != nil && int(*pod.Spec.Priority) < cutoff
}

// SkipPending says whether scale-up leaves out pod, unschedulable at now,
// and why, in cluster-autoscaler's order: a pod the scheduler nominated a
// node for that exists (nodeExists) waits for the preemption of
// lower-priority pods there, whatever its priority (and should be counted
// on that node by scale-down); otherwise an expendable pod is ignored;
// otherwise a pod younger than its delay (NewPodScaleUpDelay, or longer
// by its AnnotationPodScaleUpDelay) waits. A nominated node that does not
// exist is ignored. A zero delay never holds a pod back, whatever the
// clocks say.
func SkipPending(pod *corev1.Pod, nodeExists func(string) bool, o PendingOptions, now time.Time) PendingSkip {
	if n := pod.Status.NominatedNodeName; n != "" && nodeExists(n) {
		return SkipPreempting
	}
	if Expendable(pod, o.ExpendablePodsPriorityCutoff) {
		return SkipExpendable
	}
	delay := o.NewPodScaleUpDelay
	if v, ok := pod.Annotations[AnnotationPodScaleUpDelay]; ok {
		if d, err := time.ParseDuration(v); err == nil && d > delay {
			delay = d
		}
	}
	if delay > 0 && now.Sub(pod.CreationTimestamp.Time) <= delay {
		return SkipTooNew
	}
	return ""
}
