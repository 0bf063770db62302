package nodeagent

import (
	"net/netip"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func testPod() *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "uid-1"},
		Spec: corev1.PodSpec{
			NodeName: "n",
			InitContainers: []corev1.Container{
				{Name: "setup", Image: "busybox"},
				{Name: "proxy", Image: "envoy", RestartPolicy: ptr.To(corev1.ContainerRestartPolicyAlways)},
			},
			Containers: []corev1.Container{{Name: "app", Image: "nginx"}, {Name: "log", Image: "fluent-bit"}},
		},
		Status: corev1.PodStatus{
			Phase:    corev1.PodPending,
			QOSClass: corev1.PodQOSBestEffort,
			Conditions: []corev1.PodCondition{
				{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))},
			},
		},
	}
}

func TestRunningStatus(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 1, 0, 0, time.UTC)
	podIP, hostIP := netip.MustParseAddr("10.244.3.2"), netip.MustParseAddr("127.0.1.5")
	pod := testPod()
	st := runningStatus(pod, podIP, hostIP, now)

	if st.Phase != corev1.PodRunning || st.PodIP != "10.244.3.2" || st.HostIP != "127.0.1.5" ||
		len(st.PodIPs) != 1 || len(st.HostIPs) != 1 || st.StartTime == nil || st.QOSClass != corev1.PodQOSBestEffort {
		t.Errorf("status = %+v", st)
	}
	for _, c := range st.Conditions {
		if c.Status != corev1.ConditionTrue {
			t.Errorf("condition %s = %s, want True", c.Type, c.Status)
		}
		if c.Type == corev1.PodScheduled && !c.LastTransitionTime.Equal(&pod.Status.Conditions[0].LastTransitionTime) {
			t.Errorf("PodScheduled transition time not kept: %v", c.LastTransitionTime)
		}
	}
	if len(st.Conditions) != 5 {
		t.Errorf("%d conditions, want 5: %v", len(st.Conditions), st.Conditions)
	}
	if s := st.InitContainerStatuses; len(s) != 2 || s[0].State.Terminated == nil || s[0].State.Terminated.Reason != "Completed" ||
		s[1].State.Running == nil || !s[1].Ready {
		t.Errorf("init statuses = %+v, want setup completed and proxy running", s)
	}
	for _, c := range st.ContainerStatuses {
		if c.State.Running == nil || !c.Ready || !*c.Started || c.ContainerID != containerID("uid-1", c.Name) || c.ImageID == "" {
			t.Errorf("container %+v, want running and ready", c)
		}
	}

	// Rebuilding from the written status changes nothing, even later.
	pod.Status = st
	again := runningStatus(pod, podIP, hostIP, now.Add(time.Hour))
	if !statusCurrent(pod.Status, again) {
		t.Error("statusCurrent is false for an unchanged running pod")
	}
	if !again.StartTime.Equal(st.StartTime) || !again.ContainerStatuses[0].State.Running.StartedAt.Equal(&st.ContainerStatuses[0].State.Running.StartedAt) {
		t.Error("rebuilding moved start times")
	}
	if statusCurrent(pod.Status, runningStatus(pod, netip.MustParseAddr("10.244.3.9"), hostIP, now)) {
		t.Error("statusCurrent is true for another pod IP")
	}
}

func TestRunningStatusReadinessGates(t *testing.T) {
	pod := testPod()
	pod.Spec.ReadinessGates = []corev1.PodReadinessGate{{ConditionType: "example.com/lb"}}
	st := runningStatus(pod, netip.MustParseAddr("10.244.3.2"), netip.MustParseAddr("127.0.1.5"), time.Now())
	if c := findCondition(st.Conditions, corev1.PodReady); c == nil || c.Status != corev1.ConditionFalse {
		t.Errorf("Ready with an unmet readiness gate: %v", c)
	}
	pod.Status.Conditions = append(pod.Status.Conditions, corev1.PodCondition{Type: "example.com/lb", Status: corev1.ConditionTrue})
	st = runningStatus(pod, netip.MustParseAddr("10.244.3.2"), netip.MustParseAddr("127.0.1.5"), time.Now())
	if c := findCondition(st.Conditions, corev1.PodReady); c == nil || c.Status != corev1.ConditionTrue {
		t.Errorf("not Ready with the readiness gate met: %v", c)
	}
	if findCondition(st.Conditions, "example.com/lb") == nil {
		t.Error("readiness gate condition dropped")
	}
}

func TestTerminatedStatus(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 1, 0, 0, time.UTC)
	pod := testPod()
	pod.Status = runningStatus(pod, netip.MustParseAddr("10.244.3.2"), netip.MustParseAddr("127.0.1.5"), now)
	st := terminatedStatus(pod, now.Add(time.Minute))
	if st.Phase != corev1.PodSucceeded || st.PodIP != "10.244.3.2" {
		t.Errorf("phase %s podIP %s, want Succeeded keeping the IP", st.Phase, st.PodIP)
	}
	if c := findCondition(st.Conditions, corev1.PodReady); c == nil || c.Status != corev1.ConditionFalse {
		t.Errorf("Ready = %v, want False", c)
	}
	// The completed init container stays as it was (ready, like the
	// kubelet reports it); the sidecar exits with the app containers.
	for _, c := range append(st.ContainerStatuses, st.InitContainerStatuses[1]) {
		term := c.State.Terminated
		if term == nil || term.ExitCode != 0 || c.Ready {
			t.Errorf("container %s = %+v, want exited 0 and not ready", c.Name, c)
		}
	}
	if got := st.ContainerStatuses[0].State.Terminated.StartedAt; !got.Time.Equal(now) {
		t.Errorf("terminated container StartedAt = %v, want the running start %v", got, now)
	}
	if !isTerminal(&corev1.Pod{Status: st}) {
		t.Error("terminated status is not terminal")
	}
}

func findCondition(cs []corev1.PodCondition, typ corev1.PodConditionType) *corev1.PodCondition {
	for i := range cs {
		if cs[i].Type == typ {
			return &cs[i]
		}
	}
	return nil
}
