package autoscaler

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestSkipPending: which unschedulable pods scale-up leaves out, and why,
// as cluster-autoscaler's FilterOutExpendableAndSplit and filterOutYoungPods.
func TestSkipPending(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	prio := func(p int32) *int32 { return &p }
	pod := func(age time.Duration, priority *int32, nominated string, ann map[string]string) *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "p", CreationTimestamp: metav1.NewTime(now.Add(-age)), Annotations: ann},
			Spec:       corev1.PodSpec{Priority: priority},
			Status:     corev1.PodStatus{NominatedNodeName: nominated},
		}
	}
	exists := func(n string) bool { return n == "node-1" }
	def := DefaultPendingOptions()
	delayed := PendingOptions{ExpendablePodsPriorityCutoff: -10, NewPodScaleUpDelay: 30 * time.Second}
	for _, tc := range []struct {
		name string
		pod  *corev1.Pod
		o    PendingOptions
		want PendingSkip
	}{
		{"no priority: considered", pod(time.Minute, nil, "", nil), def, ""},
		{"priority 0: considered", pod(time.Minute, prio(0), "", nil), def, ""},
		{"over-provisioning placeholder at -1: considered", pod(time.Minute, prio(-1), "", nil), def, ""},
		{"at the cutoff: considered", pod(time.Minute, prio(-10), "", nil), def, ""},
		{"below the cutoff: expendable", pod(time.Minute, prio(-11), "", nil), def, SkipExpendable},
		{"cutoff 0: a placeholder at -1 is expendable", pod(time.Minute, prio(-1), "", nil), PendingOptions{}, SkipExpendable},
		{"nominated to an existing node: preempting", pod(time.Minute, prio(1000), "node-1", nil), def, SkipPreempting},
		{"nominated to a node that is gone: considered", pod(time.Minute, prio(1000), "node-gone", nil), def, ""},
		{"zero delay: a pod from the future is still considered", pod(-time.Hour, nil, "", nil), def, ""},
		{"younger than the delay: too new", pod(10*time.Second, nil, "", nil), delayed, SkipTooNew},
		{"exactly the delay old: too new (CA considers older pods)", pod(30*time.Second, nil, "", nil), delayed, SkipTooNew},
		{"older than the delay: considered", pod(31*time.Second, nil, "", nil), delayed, ""},
		{"annotation lengthens the delay", pod(time.Minute, nil, "", map[string]string{AnnotationPodScaleUpDelay: "2m"}), delayed, SkipTooNew},
		{"annotation cannot shorten it", pod(10*time.Second, nil, "", map[string]string{AnnotationPodScaleUpDelay: "1s"}), delayed, SkipTooNew},
		{"annotation alone delays", pod(10*time.Second, nil, "", map[string]string{AnnotationPodScaleUpDelay: "1m"}), def, SkipTooNew},
		{"invalid annotation is ignored", pod(time.Minute, nil, "", map[string]string{AnnotationPodScaleUpDelay: "soon"}), delayed, ""},
		{"expendable before too new", pod(time.Second, prio(-100), "", nil), delayed, SkipExpendable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := SkipPending(tc.pod, exists, tc.o, now); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
	if err := (PendingOptions{NewPodScaleUpDelay: -time.Second}).Validate(); err == nil {
		t.Fatal("a negative delay validated")
	}
}
