package controller

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"

	"github.com/kelp-dev/kelp/internal/cachetrim"
	"github.com/kelp-dev/kelp/internal/testenv"
)

// benchPod is a pod as a Deployment applied with kubectl makes it: the
// last-applied annotation, a command, environment, mounts and probes.
func benchPod(i int) *corev1.Pod {
	env := make([]corev1.EnvVar, 10)
	for j := range env {
		env[j] = corev1.EnvVar{Name: fmt.Sprintf("SETTING_%d", j), Value: fmt.Sprintf("value-%d-of-some-length", j)}
	}
	probe := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(8080)}}, PeriodSeconds: 10}
	c := corev1.Container{
		Name: "app", Image: "registry.example.com/team/app:v1.2.3", Command: []string{"/app"}, Args: []string{"--port=8080", "--verbose"},
		Env: env, Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
		Resources:      corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m"), corev1.ResourceMemory: resource.MustParse("256Mi")}},
		VolumeMounts:   []corev1.VolumeMount{{Name: "config", MountPath: "/etc/app"}},
		LivenessProbe:  probe,
		ReadinessProbe: probe,
	}
	sidecar := c
	sidecar.Name, sidecar.Image = "proxy", "registry.example.com/team/proxy:v4"
	sidecar.Ports = []corev1.ContainerPort{{Name: "proxy", ContainerPort: 15001}}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:        fmt.Sprintf("app-%05d", i),
			Labels:      map[string]string{"app": "app", "team": "payments", "pod-template-hash": "5d8f7c9b6"},
			Annotations: map[string]string{corev1.LastAppliedConfigAnnotation: fmt.Sprintf(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"app-%05d","labels":{"app":"app"}},"spec":{"containers":[{"name":"app","image":"registry.example.com/team/app:v1.2.3","command":["/app"],"args":["--port=8080","--verbose"]}]}}`, i)},
		},
		Spec: corev1.PodSpec{
			// No scheduler writes them while the benchmark sets their status.
			SchedulerName: "kelp-bench-none",
			Containers:    []corev1.Container{c, sidecar},
			Volumes:       []corev1.Volume{{Name: "config", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
		},
	}
}

// createBenchPods creates n pods in ns and gives each the status a kubelet
// reports (container statuses, IPs), from workers goroutines.
func createBenchPods(b *testing.B, client kubernetes.Interface, ns string, n, workers int) {
	ctx := context.Background()
	next := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for range workers {
		wg.Go(func() {
			for i := range next {
				p, err := client.CoreV1().Pods(ns).Create(ctx, benchPod(i), metav1.CreateOptions{})
				if err == nil {
					p.Status.PodIP, p.Status.PodIPs = "10.1.2.3", []corev1.PodIP{{IP: "10.1.2.3"}}
					for _, c := range p.Spec.Containers {
						p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, corev1.ContainerStatus{
							Name: c.Name, Image: c.Image, ImageID: "registry.example.com/team/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
							ContainerID: "containerd://0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
							State:       corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}},
						})
					}
					_, err = client.CoreV1().Pods(ns).UpdateStatus(ctx, p, metav1.UpdateOptions{})
				}
				if err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		b.Fatal(firstErr)
	}
}

// heapOfPodCache returns the heap in use after GC that a pod informer on
// ns holds once synced, with or without the controllers' transform.
func heapOfPodCache(b *testing.B, client kubernetes.Interface, ns string, trim bool) (uint64, int) {
	opts := []informers.SharedInformerOption{informers.WithNamespace(ns)}
	if trim {
		opts = append(opts, informers.WithTransform(cachetrim.Transform))
	}
	var m runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m)
	before := m.HeapAlloc
	ctx, stop := context.WithCancel(context.Background())
	f := informers.NewSharedInformerFactoryWithOptions(client, 0, opts...)
	inf := f.Core().V1().Pods().Informer()
	f.Start(ctx.Done())
	f.WaitForCacheSync(ctx.Done())
	runtime.GC()
	runtime.ReadMemStats(&m)
	n := len(inf.GetStore().ListKeys())
	stop()
	f.Shutdown()
	return m.HeapAlloc - min(before, m.HeapAlloc), n
}

// BenchmarkInformerMemory creates KELP_BENCH_PODS pods (default 5,000)
// shaped like a kubectl-applied Deployment's, with a kubelet's status, and
// reports the heap (after GC) a synced pod informer holds, as the API server
// sends them and through the controllers' transform (package cachetrim). It
// is not part of `make test`; run it with
//
//	go test -run '^$' -bench InformerMemory -benchtime 1x ./internal/controller/
func BenchmarkInformerMemory(b *testing.B) {
	n := 5000
	if v := os.Getenv("KELP_BENCH_PODS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			b.Fatalf("KELP_BENCH_PODS=%q: want a positive integer", v)
		}
	}
	env := testenv.Get(b)
	ns := env.Namespace(b)
	cfg := *env.Config
	cfg.QPS, cfg.Burst = 2000, 4000
	client := kubernetes.NewForConfigOrDie(&cfg)
	createBenchPods(b, client, ns, n, 16)
	b.ResetTimer()
	full, nFull := heapOfPodCache(b, client, ns, false)
	trimmed, nTrimmed := heapOfPodCache(b, client, ns, true)
	b.StopTimer()
	if nFull != n || nTrimmed != n {
		b.Fatalf("informers synced %d and %d pods, want %d", nFull, nTrimmed, n)
	}
	b.Logf("%d pods: full cache %.1f MiB (%d B/pod), trimmed %.1f MiB (%d B/pod)", n,
		float64(full)/(1<<20), full/uint64(n), float64(trimmed)/(1<<20), trimmed/uint64(n))
	b.ReportMetric(float64(full)/float64(n), "full-B/pod")
	b.ReportMetric(float64(trimmed)/float64(n), "trimmed-B/pod")
	b.ReportMetric(float64(full)/(1<<20), "full-MiB")
	b.ReportMetric(float64(trimmed)/(1<<20), "trimmed-MiB")
}
