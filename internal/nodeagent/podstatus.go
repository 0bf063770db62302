package nodeagent

import (
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

// containerIDPrefix is the runtime scheme of simulated container IDs.
const containerIDPrefix = "kelp://"

// containerID is a stable simulated container ID for a pod's container.
func containerID(uid types.UID, name string) string {
	sum := sha256.Sum256([]byte(string(uid) + "/" + name))
	return containerIDPrefix + hex.EncodeToString(sum[:16])
}

// imageID is a stable simulated image digest for an image reference.
func imageID(image string) string {
	sum := sha256.Sum256([]byte(image))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// isTerminal reports whether the pod reached Succeeded or Failed.
func isTerminal(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
}

// isSidecar reports whether an init container is restartable (a sidecar).
func isSidecar(c corev1.Container) bool {
	return c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
}

// runningStatus is the status of pod once "started" on the node: phase
// Running, init containers completed, containers and sidecars running and
// ready. Times already in the pod's status are kept when the state they
// date did not change, so rebuilding the status of a running pod yields
// the status it has.
func runningStatus(pod *corev1.Pod, podIP, hostIP netip.Addr, now time.Time) corev1.PodStatus {
	t := metav1.NewTime(now)
	prev := pod.Status
	start := prev.StartTime
	if start == nil {
		start = &t
	}
	ready := readinessGatesPass(pod)
	readyStatus, readyReason := corev1.ConditionTrue, ""
	if !ready {
		readyStatus, readyReason = corev1.ConditionFalse, "ReadinessGatesNotReady"
	}
	return corev1.PodStatus{
		Phase: corev1.PodRunning,
		Conditions: podConditions(prev.Conditions, t, []corev1.PodCondition{
			{Type: corev1.PodReadyToStartContainers, Status: corev1.ConditionTrue},
			{Type: corev1.PodInitialized, Status: corev1.ConditionTrue},
			{Type: corev1.PodReady, Status: readyStatus, Reason: readyReason},
			{Type: corev1.ContainersReady, Status: corev1.ConditionTrue},
			{Type: corev1.PodScheduled, Status: corev1.ConditionTrue},
		}),
		HostIP:                hostIP.String(),
		HostIPs:               []corev1.HostIP{{IP: hostIP.String()}},
		PodIP:                 podIP.String(),
		PodIPs:                []corev1.PodIP{{IP: podIP.String()}},
		StartTime:             start,
		QOSClass:              prev.QOSClass,
		InitContainerStatuses: initStatuses(pod, t),
		ContainerStatuses:     runningStatuses(pod.UID, pod.Spec.Containers, prev.ContainerStatuses, t),
	}
}

// terminatedStatus is the status of pod after its containers were stopped
// at the end of its grace period: every container exited 0, phase
// Succeeded, not ready. The kubelet reports a terminal phase before it
// deletes a pod.
func terminatedStatus(pod *corev1.Pod, now time.Time) corev1.PodStatus {
	t := metav1.NewTime(now)
	st := *pod.Status.DeepCopy()
	st.Phase = corev1.PodSucceeded
	st.Conditions = podConditions(st.Conditions, t, []corev1.PodCondition{
		{Type: corev1.PodReadyToStartContainers, Status: corev1.ConditionFalse},
		{Type: corev1.PodInitialized, Status: corev1.ConditionTrue},
		{Type: corev1.PodReady, Status: corev1.ConditionFalse, Reason: "PodCompleted"},
		{Type: corev1.ContainersReady, Status: corev1.ConditionFalse, Reason: "PodCompleted"},
		{Type: corev1.PodScheduled, Status: corev1.ConditionTrue},
	})
	st.ContainerStatuses = terminate(pod.UID, pod.Spec.Containers, st.ContainerStatuses, t)
	var sidecars []corev1.Container
	for _, c := range pod.Spec.InitContainers {
		if isSidecar(c) {
			sidecars = append(sidecars, c)
		}
	}
	for _, done := range terminate(pod.UID, sidecars, st.InitContainerStatuses, t) {
		if i := slices.IndexFunc(st.InitContainerStatuses, func(s corev1.ContainerStatus) bool { return s.Name == done.Name }); i >= 0 {
			st.InitContainerStatuses[i] = done
		}
	}
	return st
}

// readinessGatesPass reports whether every readiness gate's condition is
// True on the pod.
func readinessGatesPass(pod *corev1.Pod) bool {
	for _, g := range pod.Spec.ReadinessGates {
		i := slices.IndexFunc(pod.Status.Conditions, func(c corev1.PodCondition) bool { return c.Type == g.ConditionType })
		if i < 0 || pod.Status.Conditions[i].Status != corev1.ConditionTrue {
			return false
		}
	}
	return true
}

// podConditions returns want, each with prev's lastTransitionTime when
// prev had the same status (else t), followed by prev's other conditions
// (readiness gates, DisruptionTarget, ...) unchanged.
func podConditions(prev []corev1.PodCondition, t metav1.Time, want []corev1.PodCondition) []corev1.PodCondition {
	out := make([]corev1.PodCondition, 0, len(want)+len(prev))
	for _, c := range want {
		c.LastTransitionTime = t
		if i := slices.IndexFunc(prev, func(p corev1.PodCondition) bool { return p.Type == c.Type }); i >= 0 && prev[i].Status == c.Status {
			c.LastTransitionTime = prev[i].LastTransitionTime
		}
		out = append(out, c)
	}
	for _, p := range prev {
		if !slices.ContainsFunc(want, func(c corev1.PodCondition) bool { return c.Type == p.Type }) {
			out = append(out, p)
		}
	}
	return out
}

// initStatuses reports init containers completed and sidecars running.
func initStatuses(pod *corev1.Pod, t metav1.Time) []corev1.ContainerStatus {
	if len(pod.Spec.InitContainers) == 0 {
		return nil
	}
	prev := pod.Status.InitContainerStatuses
	out := make([]corev1.ContainerStatus, 0, len(pod.Spec.InitContainers))
	for _, c := range pod.Spec.InitContainers {
		if isSidecar(c) {
			out = append(out, runningStatuses(pod.UID, []corev1.Container{c}, prev, t)...)
			continue
		}
		done := &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed", StartedAt: t, FinishedAt: t, ContainerID: containerID(pod.UID, c.Name)}
		if p := findStatus(prev, c.Name); p != nil && p.State.Terminated != nil && p.State.Terminated.ExitCode == 0 {
			done = p.State.Terminated.DeepCopy()
		}
		out = append(out, corev1.ContainerStatus{
			Name: c.Name, Image: c.Image, ImageID: imageID(c.Image), ContainerID: done.ContainerID,
			State: corev1.ContainerState{Terminated: done}, Ready: true, Started: ptr.To(false),
		})
	}
	return out
}

// runningStatuses reports containers running and ready since t, or since
// they last started according to prev.
func runningStatuses(uid types.UID, containers []corev1.Container, prev []corev1.ContainerStatus, t metav1.Time) []corev1.ContainerStatus {
	out := make([]corev1.ContainerStatus, 0, len(containers))
	for _, c := range containers {
		started, restarts := t, int32(0)
		if p := findStatus(prev, c.Name); p != nil {
			restarts = p.RestartCount
			if p.State.Running != nil {
				started = p.State.Running.StartedAt
			}
		}
		out = append(out, corev1.ContainerStatus{
			Name: c.Name, Image: c.Image, ImageID: imageID(c.Image), ContainerID: containerID(uid, c.Name),
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: started}},
			Ready: true, Started: ptr.To(true), RestartCount: restarts,
		})
	}
	return out
}

// terminate reports containers exited 0 at t, keeping when they started.
func terminate(uid types.UID, containers []corev1.Container, prev []corev1.ContainerStatus, t metav1.Time) []corev1.ContainerStatus {
	out := make([]corev1.ContainerStatus, 0, len(containers))
	for _, c := range containers {
		s := corev1.ContainerStatus{Name: c.Name, Image: c.Image, ImageID: imageID(c.Image), ContainerID: containerID(uid, c.Name)}
		started := t
		if p := findStatus(prev, c.Name); p != nil {
			s.RestartCount = p.RestartCount
			if p.State.Running != nil {
				started = p.State.Running.StartedAt
			}
		}
		s.State.Terminated = &corev1.ContainerStateTerminated{
			ExitCode: 0, Reason: "Completed", StartedAt: started, FinishedAt: t, ContainerID: s.ContainerID,
		}
		s.Started = ptr.To(false)
		out = append(out, s)
	}
	return out
}

func findStatus(statuses []corev1.ContainerStatus, name string) *corev1.ContainerStatus {
	for i := range statuses {
		if statuses[i].Name == name {
			return &statuses[i]
		}
	}
	return nil
}

// statusCurrent reports whether have already says what want says: phase,
// IPs, condition statuses and container states. Times and fields the API
// server may add are ignored, so an adopted or already updated pod is not
// written again.
func statusCurrent(have, want corev1.PodStatus) bool {
	if have.Phase != want.Phase || have.PodIP != want.PodIP || have.HostIP != want.HostIP {
		return false
	}
	for _, w := range want.Conditions {
		i := slices.IndexFunc(have.Conditions, func(h corev1.PodCondition) bool { return h.Type == w.Type })
		if i < 0 || have.Conditions[i].Status != w.Status {
			return false
		}
	}
	return sameStates(have.ContainerStatuses, want.ContainerStatuses) &&
		sameStates(have.InitContainerStatuses, want.InitContainerStatuses)
}

func sameStates(have, want []corev1.ContainerStatus) bool {
	if len(have) != len(want) {
		return false
	}
	for _, w := range want {
		h := findStatus(have, w.Name)
		if h == nil || h.ContainerID != w.ContainerID || h.Ready != w.Ready ||
			(h.State.Running == nil) != (w.State.Running == nil) ||
			(h.State.Terminated == nil) != (w.State.Terminated == nil) {
			return false
		}
	}
	return true
}
