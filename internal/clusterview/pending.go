package clusterview

import (
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/kelp-dev/kelp/internal/autoscaler"
)

// pendingOf lists the unbound pods (oldest first) with the scheduler's
// message and kelp's last scale-up event on each, and the longest decision
// latency among them: from the pod becoming unschedulable to the first
// TriggeredScaleUp event on it (Event times count whole seconds).
func pendingOf(in Input) ([]PendingPod, time.Duration) {
	decided := map[string]*corev1.Event{}
	for _, e := range in.Events {
		if e.InvolvedObject.Kind != "Pod" || (e.Reason != autoscaler.ReasonTriggeredScaleUp && e.Reason != autoscaler.ReasonNotTriggerScaleUp) {
			continue
		}
		k := e.InvolvedObject.Namespace + "/" + e.InvolvedObject.Name
		if last, ok := decided[k]; !ok || eventTime(e).After(eventTime(last)) {
			decided[k] = e
		}
	}
	type pending struct {
		PendingPod
		since time.Time
	}
	var pods []pending
	var latency time.Duration
	for _, p := range in.Pods {
		if p.Spec.NodeName != "" || p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodPending {
			continue
		}
		k := p.Namespace + "/" + p.Name
		since, waiting := p.CreationTimestamp.Time, "not scheduled yet"
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
				since, waiting = c.LastTransitionTime.Time, c.Reason+": "+c.Message
			}
		}
		pp := pending{PendingPod: PendingPod{Name: Redact(k), AgeSeconds: seconds(in.Now.Sub(since)), Waiting: Redact(waiting)}, since: since}
		if e, ok := decided[k]; ok {
			pp.Decision = Redact(e.Reason + ": " + e.Message)
			if e.Reason == autoscaler.ReasonTriggeredScaleUp {
				latency = max(latency, firstTime(e).Sub(since))
			}
		}
		pods = append(pods, pp)
	}
	slices.SortFunc(pods, func(a, b pending) int {
		if c := a.since.Compare(b.since); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	out := make([]PendingPod, len(pods))
	for i, p := range pods {
		out[i] = p.PendingPod
	}
	return out, latency
}
