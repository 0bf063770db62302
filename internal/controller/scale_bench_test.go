package controller

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"

	"github.com/kelp-dev/kelp/internal/approver"
	"github.com/kelp-dev/kelp/internal/autoscaler"
	"github.com/kelp-dev/kelp/internal/autoscaler/loop"
	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/cloud/cloudtest"
	"github.com/kelp-dev/kelp/internal/testenv"
)

// BenchmarkControllerMemoryAtScale measures the memory of kelp's whole
// controller process (`kelp controller`: approver, autoscaler loop with
// scale-down, node lifecycle, termination, token rotation off, competing
// approvers' check) at KELP_BENCH_NODES Ready nodes (default 1,000) of one
// managed group of an in-memory cloud, running KELP_BENCH_PODS Running pods
// (default 30,000: two DaemonSet pods a node, the rest from 20 Deployment
// templates), without a thousand kubelets: the benchmark creates the Nodes,
// their Leases (renewed, so kube-controller-manager keeps them Ready) and
// the pods bound to them with their status, then runs the controllers in
// this process for KELP_BENCH_CYCLES autoscaler cycles (default 4).
//
// It reports the heap in use after GC, and the process's resident memory
// (VmRSS now, VmHWM peak since the controllers started) less what it was
// just before, and writes a heap profile to KELP_BENCH_HEAP_PROFILE
// (default in the system's temporary directory; the path is logged). It is
// not part of `make test`; run it with
//
//	go test -run '^$' -bench ControllerMemoryAtScale -benchtime 1x -timeout 60m ./internal/controller/
func BenchmarkControllerMemoryAtScale(b *testing.B) {
	nodes, pods, cycles := benchEnv(b, "KELP_BENCH_NODES", 1000), benchEnv(b, "KELP_BENCH_PODS", 30000), benchEnv(b, "KELP_BENCH_CYCLES", 4)
	if pods < nodes*scaleDaemons {
		b.Fatalf("KELP_BENCH_PODS=%d: want at least %d (the DaemonSet pods of %d nodes)", pods, nodes*scaleDaemons, nodes)
	}
	// Finer heap samples than the default 512 KiB, for the profile.
	runtime.MemProfileRate = 64 << 10
	env := testenv.Get(b)
	cfg := *env.Config
	cfg.QPS, cfg.Burst = 2000, 4000
	cfg.ContentType = "application/vnd.kubernetes.protobuf"
	client := kubernetes.NewForConfigOrDie(&cfg)
	ns := env.Namespace(b)
	group := scaleGroup(b, nodes)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	start := time.Now()
	stopHeartbeat := createScaleCluster(ctx, b, client, ns, group, pods)
	b.Logf("%d nodes and %d pods created in %s", nodes, pods, time.Since(start).Round(time.Second))

	heapBefore, rssBefore := settle(b)
	reg := prometheus.NewRegistry()
	ctlCfg := *env.Config
	(ClientLimits{}).Apply(&ctlCfg)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- Run(runCtx, Options{ClusterName: testenv.ClusterName, Approve: approver.ModeAuto, Autoscaler: &loop.Options{ScaleDownEnabled: true,
			// Nodes are evaluated every cycle; none stays unneeded long enough to go.
			ScaleDown: func() autoscaler.ScaleDownOptions {
				o := autoscaler.DefaultScaleDownOptions()
				o.UnneededTime = 24 * time.Hour
				return o
			}()}},
			Deps{Client: kubernetes.NewForConfigOrDie(&ctlCfg), Cloud: cloudtest.New(group), Scaler: noScaler{}, Registry: reg,
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	}()
	testenv.EventuallyTrue(b, 30*time.Minute, fmt.Sprintf("%d autoscaler cycles", cycles), func() bool { return counted(reg, "kelp_autoscaler_cycles_total") >= float64(cycles) })
	b.StopTimer()
	if n := counted(reg, "kelp_autoscaler_errors_total"); n > 0 {
		b.Errorf("the autoscaler counted %g errors: the cluster is not what it should see", n)
	}
	heap := heapInUse()
	rss, hwm := procMemory(b)
	checkReady(ctx, b, client, nodes)
	profile := writeHeapProfile(b)
	cancel()
	<-done
	stopHeartbeat()

	mib := func(v uint64) float64 { return float64(v) / (1 << 20) }
	b.Logf("%d nodes, %d pods, %d cycles: heap in use after GC %.0f MiB (%.0f before the controllers), RSS %.0f MiB, peak %.0f MiB (%.0f before); heap profile %s",
		nodes, pods, cycles, mib(heap), mib(heapBefore), mib(rss), mib(hwm), mib(rssBefore), profile)
	b.ReportMetric(mib(heap-min(heap, heapBefore)), "heap-MiB")
	b.ReportMetric(mib(rss-min(rss, rssBefore)), "rss-MiB")
	b.ReportMetric(mib(hwm-min(hwm, rssBefore)), "peak-rss-MiB")
	b.ReportMetric(float64(heap-min(heap, heapBefore))/float64(pods), "heap-B/pod")
}

// checkReady fails the benchmark unless all nodes are Ready: the cluster
// measured must be the one described.
func checkReady(ctx context.Context, b *testing.B, client kubernetes.Interface, want int) {
	list, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		b.Fatal(err)
	}
	ready := 0
	for _, n := range list.Items {
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
				ready++
			}
		}
	}
	if ready != want {
		b.Errorf("%d nodes Ready, want %d", ready, want)
	}
}

// benchEnv reads a positive integer from the environment variable name.
func benchEnv(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		b.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

// noScaler refuses to change the groups: the benchmark's cluster needs
// no scaling, and a change would be a bug the benchmark should show.
type noScaler struct{}

var _ cloud.Scaler = noScaler{}

func (noScaler) SetTargetSize(_ context.Context, group string, n int) error {
	return fmt.Errorf("benchmark: set %s to %d: no scaling expected", group, n)
}

func (noScaler) DeleteInstances(_ context.Context, group string, ids []string) error {
	return fmt.Errorf("benchmark: delete %d instances of %s: no scaling expected", len(ids), group)
}

// createScaleCluster creates the group's Nodes (Ready, with their Leases
// heartbeating until the returned function is called; the Nodes go when
// the benchmark ends), the owners and the pods.
func createScaleCluster(ctx context.Context, b *testing.B, client kubernetes.Interface, ns string, g cloud.NodeGroup, pods int) (stopHeartbeat func()) {
	names := make([]string, len(g.Instances))
	for i, inst := range g.Instances {
		names[i] = inst.PrivateDNSName
	}
	leases := &scaleLeases{client: client, nodes: names, leases: map[string]*coordinationv1.Lease{}}
	hbCtx, stopHB := context.WithCancel(ctx)
	b.Cleanup(func() {
		stopHB()
		_ = parallel(len(names), 16, func(i int) error {
			_ = client.CoordinationV1().Leases(corev1.NamespaceNodeLease).Delete(context.Background(), names[i], metav1.DeleteOptions{})
			return client.CoreV1().Nodes().Delete(context.Background(), names[i], metav1.DeleteOptions{})
		})
	})
	// Each Node gets its Lease at once, renewed from then on:
	// kube-controller-manager marks a node without heartbeats NotReady,
	// and only a kubelet marks it Ready again.
	go leases.run(hbCtx, b, 5*time.Second)
	err := parallel(len(g.Instances), 16, func(i int) error {
		n := scaleNode(g, g.Instances[i])
		got, err := client.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("create node %s: %w", n.Name, err)
		}
		// kube-controller-manager may write the new Node first (taints).
		err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
			got.Status = n.Status
			_, err := client.CoreV1().Nodes().UpdateStatus(ctx, got, metav1.UpdateOptions{})
			if apierrors.IsConflict(err) {
				fresh, getErr := client.CoreV1().Nodes().Get(ctx, n.Name, metav1.GetOptions{})
				if getErr != nil {
					return getErr
				}
				got = fresh
			}
			return err
		})
		if err != nil {
			return fmt.Errorf("node %s status: %w", n.Name, err)
		}
		return leases.renew(ctx, i, true)
	})
	if err != nil {
		b.Fatal(err)
	}
	if err := createScalePods(ctx, client, ns, g, pods); err != nil {
		b.Fatal(err)
	}
	return stopHB
}

// createScalePods creates the DaemonSet pods of every node and spreads the
// other pods over the nodes and templates, each Running.
func createScalePods(ctx context.Context, client kubernetes.Interface, ns string, g cloud.NodeGroup, pods int) error {
	nodes := len(g.Instances)
	daemons := nodes * scaleDaemons
	replicas := make([]int, scaleTemplates)
	for i := range pods - daemons {
		replicas[i%scaleTemplates]++
	}
	rs, ds, err := scaleOwners(ctx, client, ns, replicas)
	if err != nil {
		return err
	}
	templates := make([]podTemplate, scaleTemplates)
	for t := range templates {
		templates[t] = podTemplate{scaleTemplate(t), rs[t]}
	}
	return parallel(pods, 32, func(i int) error {
		var p *corev1.Pod
		node := i % nodes
		if i < daemons {
			d := i / nodes
			p = scalePod(scaleDaemonTemplate(d, scaleNodeName(node)), ds[d], node, scaleNodeName(node))
		} else {
			t := templates[(i-daemons)%scaleTemplates]
			p = scalePod(t.tpl, t.owner, i, scaleNodeName(node))
		}
		got, err := client.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("create pod %s: %w", p.Name, err)
		}
		err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
			runningStatus(got, scaleNodeIP(node), i)
			_, err := client.CoreV1().Pods(ns).UpdateStatus(ctx, got, metav1.UpdateOptions{})
			if apierrors.IsConflict(err) {
				fresh, getErr := client.CoreV1().Pods(ns).Get(ctx, p.Name, metav1.GetOptions{})
				if getErr != nil {
					return getErr
				}
				got = fresh
			}
			return err
		})
		if err != nil {
			return fmt.Errorf("pod %s status: %w", p.Name, err)
		}
		return nil
	})
}

type podTemplate struct {
	tpl   corev1.PodTemplateSpec
	owner metav1.OwnerReference
}

// settle collects the garbage of the set-up, returns the memory it left to
// the system, resets the process's peak resident memory (VmHWM) and
// returns the heap in use and VmRSS as the controllers start.
func settle(b *testing.B) (heap, rss uint64) {
	heap = heapInUse()
	debug.FreeOSMemory()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		b.Logf("peak RSS not reset (%v): peak-rss-MiB includes the set-up", err)
	}
	rss, _ = procMemory(b)
	return heap, rss
}

// procMemory reads VmRSS and VmHWM of this process, in bytes.
func procMemory(b *testing.B) (rss, hwm uint64) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		b.Fatalf("read resident memory: %v", err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		k, v, _ := strings.Cut(s.Text(), ":")
		kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmRSS":
			rss = kb << 10
		case "VmHWM":
			hwm = kb << 10
		}
	}
	return rss, hwm
}

// writeHeapProfile writes the heap profile (as of the last GC) to
// KELP_BENCH_HEAP_PROFILE or a file in the temporary directory, and
// returns its path.
func writeHeapProfile(b *testing.B) string {
	path := os.Getenv("KELP_BENCH_HEAP_PROFILE")
	if path == "" {
		path = filepath.Join(os.TempDir(), fmt.Sprintf("kelp-controller-heap-%d.pprof", os.Getpid()))
	}
	f, err := os.Create(path)
	if err != nil {
		b.Fatalf("heap profile: %v", err)
	}
	defer f.Close()
	runtime.GC()
	if err := pprof.WriteHeapProfile(f); err != nil {
		b.Fatalf("heap profile %s: %v", path, err)
	}
	return path
}

// counted sums the counter name over its labels in reg.
func counted(reg *prometheus.Registry, name string) float64 {
	families, _ := reg.Gather()
	var sum float64
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}
