package simulator

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestPodRequests(t *testing.T) {
	always := corev1.ContainerRestartPolicyAlways
	gi := int64(1 << 30)
	tests := []struct {
		name string
		pod  *corev1.Pod
		want Resources
	}{
		{"zero request pod still counts one pod", mkPod("p"), Resources{Pods: 1}},
		{"single container", mkPod("p", requests("cpu", "500m", "memory", "1Gi")),
			Resources{MilliCPU: 500, Memory: gi, Pods: 1}},
		{"init container larger than main containers wins", mkPod("p", requests("cpu", "500m", "memory", "1Gi"), func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{{Name: "i", Resources: corev1.ResourceRequirements{Requests: rl("cpu", "2", "memory", "512Mi")}}}
		}), Resources{MilliCPU: 2000, Memory: gi, Pods: 1}},
		{"sidecar adds to main and to later init containers", mkPod("p", requests("cpu", "500m"), func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{
				{Name: "sidecar", RestartPolicy: &always, Resources: corev1.ResourceRequirements{Requests: rl("cpu", "200m")}},
				{Name: "init", Resources: corev1.ResourceRequirements{Requests: rl("cpu", "600m")}},
			}
		}), Resources{MilliCPU: 800, Pods: 1}},
		{"pod overhead is added", mkPod("p", requests("cpu", "500m"), func(p *corev1.Pod) {
			p.Spec.Overhead = rl("cpu", "250m", "memory", "120Mi")
		}), Resources{MilliCPU: 750, Memory: 120 << 20, Pods: 1}},
		{"pod-level requests replace cpu and memory", mkPod("p", requests("cpu", "500m", "nvidia.com/gpu", "1"), func(p *corev1.Pod) {
			p.Spec.Resources = &corev1.ResourceRequirements{Requests: rl("cpu", "1")}
		}), Resources{MilliCPU: 1000, Pods: 1, Scalar: map[corev1.ResourceName]int64{"nvidia.com/gpu": 1}}},
		{"extended resources and ephemeral storage; unknown names ignored",
			mkPod("p", requests("nvidia.com/gpu", "2", "ephemeral-storage", "1Gi", "storage", "5Gi", "hugepages-2Mi", "4Mi")),
			Resources{EphemeralStorage: gi, Pods: 1, Scalar: map[corev1.ResourceName]int64{"nvidia.com/gpu": 2, "hugepages-2Mi": 4 << 20}}},
		{"multiple containers sum", mkPod("p", requests("cpu", "100m"), func(p *corev1.Pod) {
			p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "b", Resources: corev1.ResourceRequirements{Requests: rl("cpu", "150m")}})
		}), Resources{MilliCPU: 250, Pods: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := PodRequests(tt.pod); !got.Equal(tt.want) {
				t.Errorf("PodRequests = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestResourcesArithmetic(t *testing.T) {
	a := Resources{MilliCPU: 1, Scalar: map[corev1.ResourceName]int64{"x/y": 2}}
	b := a.Clone()
	b.Add(a)
	b.Sub(a)
	b.Sub(a)
	if len(b.Scalar) != 0 {
		t.Errorf("zero scalar kept: %+v", b.Scalar)
	}
	if a.Scalar["x/y"] != 2 {
		t.Errorf("Clone shares the scalar map")
	}
}
