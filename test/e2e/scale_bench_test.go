//go:build scalebench

package e2e

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/kelp-dev/kelp/examples"
	"github.com/kelp-dev/kelp/internal/localcloud"
	"github.com/kelp-dev/kelp/internal/localup"
	"github.com/kelp-dev/kelp/internal/pool"
	"github.com/kelp-dev/kelp/internal/testenv"
)

// The scale benchmark (issue 15): a local cluster with the pools of
// examples/scale.yaml and kelp's controller in a process of its own,
// grown by the autoscaler from 0 to KELP_SCALE_NODES nodes (default 1,000)
// for a Deployment of 30 pods of 130m a node, then scaled back to the
// pool's minimum once the Deployment is deleted. Built only with
// -tags scalebench (`make bench-scale`): `make test` never runs it.
const (
	scaleCluster = "scale"
	scalePool    = "scale"
	scaleApp     = "scale"
	// scalePodCPU fills an m5.xlarge (3920m allocatable) with 30 pods.
	scalePodCPU = "130m"
)

// scaleEnvInt reads a positive integer from the environment.
func scaleEnvInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

func TestScale(t *testing.T) {
	nodes := scaleEnvInt(t, "KELP_SCALE_NODES", 1000)
	pods := scaleEnvInt(t, "KELP_SCALE_PODS", 30*nodes)
	if pods > 30*nodes {
		t.Fatalf("KELP_SCALE_PODS=%d: at most 30 a node (%d)", pods, 30*nodes)
	}
	release, err := testenv.AcquireSlot()
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	pools, err := pool.ParseConfig(examples.ScaleYAML)
	if err != nil {
		t.Fatal(err)
	}
	if int(pools.Pools[0].MaxSize) < nodes {
		t.Fatalf("KELP_SCALE_NODES=%d is over the pool's maxSize %d (examples/scale.yaml)", nodes, pools.Pools[0].MaxSize)
	}
	kelp := kelpBinary(t)
	cluster, client := startLocal(t, localup.Config{
		Dir: filepath.Join(t.TempDir(), scaleCluster), Name: scaleCluster, Pools: &pools, NoController: true,
	})
	t.Cleanup(func() { _ = cluster.Stop(context.Background()) })
	ctrl := startScaleController(t, cluster, kelp)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := watchScale(t, ctx, client)

	t.Logf("scaling up: %d pods of %s for %d nodes", pods, scalePodCPU, nodes)
	up := scaleUp(t, ctx, cluster, client, ctrl, w, nodes, pods)
	if up.err != nil {
		// What the run reached is still worth having: write it, then fail.
		writeReport(t, append([]string{fmt.Sprintf("INCOMPLETE, scale-up stopped at %s: %d nodes Ready, %d pods Running (%v)",
			up.wall.Round(time.Second), up.readyNodes, up.runningPods, up.err)}, upLines(nodes, pods, up)...))
		t.Fatalf("scale-up: %v", up.err)
	}
	steady := ctrl.mark(t, ctx)
	ctrl.waitCycles(t, ctx, 3)
	steadyCPU := ctrl.since(t, ctx, steady)
	down := scaleDown(t, ctx, cluster, client, ctrl, w)
	report(t, nodes, pods, up, steadyCPU, down)
}

// csrSplit says where the approver's time went: queue wait and phases.
func csrSplit(p phase) string {
	parts := []string{fmt.Sprintf("queue wait p50 <= %gs p99 <= %gs", p.csrWait.quantile(0.5), p.csrWait.quantile(0.99))}
	for _, name := range csrPhaseNames {
		h := p.csrPhases[name]
		parts = append(parts, fmt.Sprintf("%s p50 <= %gs p99 <= %gs", name, h.quantile(0.5), h.quantile(0.99)))
	}
	return "CSR approver, split (kelp_csr_queue_wait_seconds, kelp_csr_decision_phase_seconds): " + strings.Join(parts, "; ")
}

// kelpBinary is KELP_SCALE_KELP, or kelp built from this module.
func kelpBinary(t *testing.T) string {
	if bin := os.Getenv("KELP_SCALE_KELP"); bin != "" {
		return bin
	}
	bin := filepath.Join(t.TempDir(), "kelp")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/kelp-dev/kelp/cmd/kelp").CombinedOutput()
	if err != nil {
		t.Fatalf("go build kelp: %v\n%s", err, out)
	}
	return bin
}

// scaleController is `kelp controller` in its own process, reaching the
// API server and the local cloud through counting proxies.
type scaleController struct {
	proc      *kelpProcess
	probe     string
	kube, aws *callCounter
}

// saveHeapProfile writes the controller's heap profile beside the report
// (KELP_SCALE_REPORT.heap.pprof), for `go tool pprof bin/kelp FILE`.
func (c *scaleController) saveHeapProfile(t *testing.T, ctx context.Context) {
	path := os.Getenv("KELP_SCALE_REPORT")
	if path == "" {
		return
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+c.probe+"/debug/pprof/heap", nil)
	if err != nil {
		t.Error(err)
		return
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Errorf("heap profile: %v", err)
		return
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("heap profile: status %d, %v", resp.StatusCode, err)
		return
	}
	if err := os.WriteFile(path+".heap.pprof", data, 0o644); err != nil {
		t.Error(err)
	}
}

func startScaleController(t *testing.T, cluster *localup.Cluster, kelp string) *scaleController {
	admin, err := cluster.ControlPlane.AdminRESTConfig()
	if err != nil {
		t.Fatal(err)
	}
	c := &scaleController{probe: freeAddr(t)}
	var kubeURL, awsURL string
	c.kube, kubeURL = kubeCallProxy(t, admin)
	c.aws, awsURL = awsCallProxy(t, cluster.CloudURL())
	// Scale-down timers are short so that the pool returns to its
	// minimum within minutes; empty nodes go a hundred at a time.
	args := []string{"controller", "--cluster-name", scaleCluster, "--kubeconfig", writeProxyKubeconfig(t, kubeURL),
		"--leader-elect=false", "--probe-addr=" + c.probe, "--profiling", "--interruption-queue", cluster.InterruptionQueueURL(),
		"--kube-client-qps=100", "--kube-client-burst=200",
		"--scale-down-unneeded-time=20s", "--scale-down-delay-after-add=30s", "--scale-down-delay-after-delete=0s",
		"--max-empty-bulk-delete=100"}
	p := &kelpProcess{cmd: exec.Command(kelp, args...)}
	p.cmd.Env = append(os.Environ(), "AWS_ENDPOINT_URL="+awsURL, "AWS_REGION="+cluster.Cloud.Region(),
		"AWS_ACCESS_KEY_ID="+localcloud.AccessKeyID, "AWS_SECRET_ACCESS_KEY="+localcloud.SecretAccessKey)
	// KELP_SCALE_GOMEMLIMIT is the controller's GOMEMLIMIT alone (as the
	// chart's limits.memory × --memory-limit-ratio would set it), not the
	// benchmark's.
	if limit := os.Getenv("KELP_SCALE_GOMEMLIMIT"); limit != "" {
		p.cmd.Env = append(p.cmd.Env, "GOMEMLIMIT="+limit)
		t.Logf("the controller runs with GOMEMLIMIT=%s", limit)
	}
	p.cmd.Stdout, p.cmd.Stderr = p, p
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Logf("kelp %s (pid %d)", strings.Join(args, " "), p.cmd.Process.Pid)
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		_ = p.cmd.Wait()
		if path := os.Getenv("KELP_SCALE_REPORT"); path != "" {
			_ = os.WriteFile(path+".controller.log", []byte(p.output()), 0o644)
		}
		if t.Failed() {
			out := p.output()
			t.Logf("kelp controller output (last 20,000 bytes):\n%s", out[max(0, len(out)-20000):])
		}
	})
	c.proc = p
	testenv.Eventually(t, time.Minute, "the controller serving metrics", func(ctx context.Context) (bool, error) {
		return strings.Contains(scrapeQuiet(ctx, c.probe), "kelp_autoscaler_cycles_total"), nil
	})
	return c
}

// scrapeQuiet is the controller's metrics text, "" when unreachable.
func scrapeQuiet(ctx context.Context, addr string) string {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return ""
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return ""
	}
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}

// mark is a reading of the controller at one moment.
type mark struct {
	at        time.Time
	proc      procSample
	kube, aws map[string]int
	metrics   string
}

func (c *scaleController) mark(t *testing.T, ctx context.Context) mark {
	t.Helper()
	s, err := readProc(c.proc.cmd.Process.Pid)
	if err != nil {
		t.Fatalf("read the controller's /proc: %v", err)
	}
	return mark{at: time.Now(), proc: s, kube: c.kube.snapshot(), aws: c.aws.snapshot(), metrics: scrape(t, ctx, c.probe)}
}

// phase is what the controller did between two marks.
type phase struct {
	wall, cpu           time.Duration
	peakRSS, rss        int64
	cycles              float64
	kube, aws           map[string]int
	kubeTotal, awsTotal int
	decision, csr       histogram
	// csrWait and csrPhases split the approver's time: the queue wait,
	// then each phase of a decision (facts, cloud, record, write).
	csrWait   histogram
	csrPhases map[string]histogram
}

// csrPhaseNames are the phases of kelp_csr_decision_phase_seconds.
var csrPhaseNames = []string{"facts", "cloud", "record", "write"}

func (c *scaleController) since(t *testing.T, ctx context.Context, from mark) phase {
	t.Helper()
	to := c.mark(t, ctx)
	p := phase{wall: to.at.Sub(from.at), cpu: to.proc.CPU - from.proc.CPU, peakRSS: to.proc.HWM, rss: to.proc.RSS,
		cycles: cycles(to.metrics) - cycles(from.metrics)}
	p.kube, p.kubeTotal = callsSince(from.kube, to.kube)
	p.aws, p.awsTotal = callsSince(from.aws, to.aws)
	const decision = "kelp_autoscaler_decision_duration_seconds"
	p.decision = parseHistogram(to.metrics, decision).minus(parseHistogram(from.metrics, decision))
	const csr = "kelp_csr_decision_latency_seconds"
	approve := []string{`signer="` + certificatesv1.KubeAPIServerClientKubeletSignerName + `"`, `decision="approve"`}
	p.csr = parseHistogram(to.metrics, csr, approve...).minus(parseHistogram(from.metrics, csr, approve...))
	const wait, phases = "kelp_csr_queue_wait_seconds", "kelp_csr_decision_phase_seconds"
	p.csrWait = parseHistogram(to.metrics, wait).minus(parseHistogram(from.metrics, wait))
	p.csrPhases = map[string]histogram{}
	for _, name := range csrPhaseNames {
		sel := `phase="` + name + `"`
		p.csrPhases[name] = parseHistogram(to.metrics, phases, sel).minus(parseHistogram(from.metrics, phases, sel))
	}
	return p
}

// cycles is the autoscaler's cycle count, all outcomes.
func cycles(metrics string) float64 {
	var n float64
	for line := range strings.Lines(metrics) {
		if series, v, ok := strings.Cut(strings.TrimSpace(line), " "); ok && strings.HasPrefix(series, "kelp_autoscaler_cycles_total") {
			f, _ := strconv.ParseFloat(v, 64)
			n += f
		}
	}
	return n
}

// waitCycles waits until the autoscaler has run n more cycles.
func (c *scaleController) waitCycles(t *testing.T, ctx context.Context, n int) {
	t.Helper()
	start := cycles(scrape(t, ctx, c.probe))
	testenv.Eventually(t, 5*time.Minute, fmt.Sprintf("%d autoscaler cycles", n), func(ctx context.Context) (bool, error) {
		return cycles(scrapeQuiet(ctx, c.probe))-start >= float64(n), nil
	})
}

// scaleWatch sees, from the benchmark's own process, CSRs, Nodes of the
// pool and the workload's pods.
type scaleWatch struct {
	times *joinTimes
	pods  cache.Indexer
	nodes cache.Indexer
}

func watchScale(t *testing.T, ctx context.Context, client kubernetes.Interface) *scaleWatch {
	w := &scaleWatch{times: &joinTimes{created: map[string]time.Time{}, approved: map[string]time.Duration{}, approvedAt: map[string]time.Time{}, ready: map[string]time.Time{}}}
	handler := func(f func(any)) cache.ResourceEventHandlerFuncs {
		return cache.ResourceEventHandlerFuncs{AddFunc: f, UpdateFunc: func(_, o any) { f(o) }}
	}
	all := informers.NewSharedInformerFactory(client, 0)
	_, _ = all.Certificates().V1().CertificateSigningRequests().Informer().AddEventHandler(handler(w.times.csr))
	nodes := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
		o.LabelSelector = pool.PoolTag + "=" + scalePool
	}))
	nodeInformer := nodes.Core().V1().Nodes().Informer()
	_, _ = nodeInformer.AddEventHandler(handler(w.times.node))
	podFactory := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithNamespace("default"),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = "app=" + scaleApp }),
		informers.WithTransform(slimPod))
	podInformer := podFactory.Core().V1().Pods().Informer()
	for _, f := range []informers.SharedInformerFactory{all, nodes, podFactory} {
		f.Start(ctx.Done())
		f.WaitForCacheSync(ctx.Done())
	}
	w.pods, w.nodes = podInformer.GetIndexer(), nodeInformer.GetIndexer()
	return w
}

// slimPod keeps of a pod what the benchmark counts: name, node, phase.
func slimPod(obj any) (any, error) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return obj, nil
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace, ResourceVersion: p.ResourceVersion},
		Spec:       corev1.PodSpec{NodeName: p.Spec.NodeName},
		Status:     corev1.PodStatus{Phase: p.Status.Phase},
	}, nil
}

func (w *scaleWatch) running() int {
	n := 0
	for _, o := range w.pods.List() {
		if p := o.(*corev1.Pod); p.Status.Phase == corev1.PodRunning && p.Spec.NodeName != "" {
			n++
		}
	}
	return n
}

func (w *scaleWatch) readyNodes() int {
	n := 0
	for _, o := range w.nodes.List() {
		if nodeReady(o.(*corev1.Node)) {
			n++
		}
	}
	return n
}

// upResult is the scale-up phase.
type upResult struct {
	phase
	allReady, allRunning time.Duration
	approvals            []time.Duration
	// err is set when scale-up did not finish in time; readyNodes and
	// runningPods are what it reached.
	err                     error
	readyNodes, runningPods int
	desired                 int32
}

func scaleUp(t *testing.T, ctx context.Context, cluster *localup.Cluster, client kubernetes.Interface, ctrl *scaleController, w *scaleWatch, nodes, pods int) upResult {
	from := ctrl.mark(t, ctx)
	var res upResult
	var readyAt, runningAt atomic.Int64
	createDeploymentWith(t, ctx, client, scaleApp, int32(pods), scalePodCPU, func(s *corev1.PodTemplateSpec) {
		s.Spec.Containers[0].Resources.Requests[corev1.ResourceMemory] = resource.MustParse("64Mi")
	})
	timeout := 10*time.Minute + time.Duration(nodes)*time.Second
	if v := os.Getenv("KELP_SCALE_UP_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			t.Fatalf("KELP_SCALE_UP_TIMEOUT=%q: want a positive duration", v)
		}
		timeout = d
	}
	last := time.Now()
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res.err = wait.PollUntilContextCancel(pctx, testenv.PollInterval, true, func(context.Context) (bool, error) {
		ready, running := w.readyNodes(), w.running()
		if readyAt.Load() == 0 && ready >= nodes {
			readyAt.Store(int64(time.Since(from.at)))
		}
		if runningAt.Load() == 0 && running >= pods {
			runningAt.Store(int64(time.Since(from.at)))
		}
		if time.Since(last) > 30*time.Second {
			last = time.Now()
			t.Logf("%s: %d nodes Ready, %d pods Running", time.Since(from.at).Round(time.Second), ready, running)
		}
		return readyAt.Load() != 0 && runningAt.Load() != 0, nil
	})
	if res.err != nil {
		res.err = fmt.Errorf("waiting %s for %d nodes Ready and %d pods Running: %w", timeout, nodes, pods, res.err)
	}
	res.readyNodes, res.runningPods = w.readyNodes(), w.running()
	res.phase = ctrl.since(t, ctx, from)
	ctrl.saveHeapProfile(t, ctx)
	res.allReady, res.allRunning = time.Duration(readyAt.Load()), time.Duration(runningAt.Load())
	res.desired = desiredOf(t, ctx, cluster, scaleCluster)(scalePool)
	w.times.mu.Lock()
	for _, d := range w.times.approved {
		res.approvals = append(res.approvals, d)
	}
	w.times.mu.Unlock()
	slices.Sort(res.approvals)
	return res
}

// downResult is the scale-down phase.
type downResult struct {
	phase
	// podsGone is when the last of the Deployment's pods left the API (the
	// garbage collector deletes them, the agents confirm): until then most
	// nodes still hold a pod, so they are drained one by one
	// (--max-drain-parallelism) rather than removed in bulk as empty.
	podsGone, atMin time.Duration
}

func scaleDown(t *testing.T, ctx context.Context, cluster *localup.Cluster, client kubernetes.Interface, ctrl *scaleController, w *scaleWatch) downResult {
	from := ctrl.mark(t, ctx)
	if err := client.AppsV1().Deployments("default").Delete(ctx, scaleApp, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	desired := desiredOf(t, ctx, cluster, scaleCluster)
	nodes := w.nodes.List()
	var res downResult
	last := time.Now()
	testenv.EventuallyTrue(t, 10*time.Minute+time.Duration(len(nodes))*time.Second, "the pool back at 0 with no Node", func() bool {
		pods, left := len(w.pods.List()), len(w.nodes.List())
		if pods == 0 && res.podsGone == 0 {
			res.podsGone = time.Since(from.at)
		}
		if time.Since(last) > 30*time.Second {
			last = time.Now()
			t.Logf("%s after the Deployment's deletion: %d of its pods left, %d Nodes", time.Since(from.at).Round(time.Second), pods, left)
		}
		return left == 0 && desired(scalePool) == 0
	})
	res.phase, res.atMin = ctrl.since(t, ctx, from), time.Since(from.at)
	return res
}

func report(t *testing.T, nodes, pods int, up upResult, steady phase, down downResult) {
	lines := upLines(nodes, pods, up)
	lines = append(lines,
		fmt.Sprintf("planning cycle at %d nodes / %d pods, steady, %.0f cycles: p50 <= %gs, p99 <= %gs, mean %.3fs",
			nodes, pods, steady.decision.count, steady.decision.quantile(0.5), steady.decision.quantile(0.99), steady.decision.sum/math.Max(steady.decision.count, 1)),
		fmt.Sprintf("controller at %d nodes / %d pods, steady: %s, CPU %s over %s (%.1f%% of a core), Kubernetes calls %s, AWS calls %s",
			nodes, pods, mib(steady.rss), steady.cpu.Round(10*time.Millisecond), steady.wall.Round(time.Second),
			100*steady.cpu.Seconds()/steady.wall.Seconds(), perCycle(steady.kubeTotal, steady), perCycle(steady.awsTotal, steady)),
		fmt.Sprintf("steady: Kubernetes %s; AWS %s", topCalls(steady.kube, 8), topCalls(steady.aws, 8)),
		fmt.Sprintf("Deployment deleted -> all its pods gone: %s; -> pool at min, no Node: %s; CPU %s; Kubernetes calls %s: %s",
			down.podsGone.Round(time.Second), down.atMin.Round(time.Second), down.cpu.Round(10*time.Millisecond), perCycle(down.kubeTotal, down.phase), topCalls(down.kube, 8)),
		fmt.Sprintf("scale-down: AWS calls %s: %s", perCycle(down.awsTotal, down.phase), topCalls(down.aws, 8)),
		fmt.Sprintf("controller peak resident memory over the whole run: %s (GOMEMLIMIT %q)", mib(down.peakRSS), os.Getenv("KELP_SCALE_GOMEMLIMIT")),
	)
	writeReport(t, lines)
}

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

func perCycle(n int, p phase) string {
	return fmt.Sprintf("%d (%.1f a cycle over %.0f cycles)", n, float64(n)/math.Max(p.cycles, 1), p.cycles)
}

// upLines are the report's lines on scale-up.
func upLines(nodes, pods int, up upResult) []string {
	return []string{
		fmt.Sprintf("size: %d nodes, %d pods", nodes, pods),
		fmt.Sprintf("Deployment created -> all %d nodes Ready: %s; all %d pods Running: %s; pool desired %d",
			nodes, up.allReady.Round(time.Second), pods, up.allRunning.Round(time.Second), up.desired),
		fmt.Sprintf("CSR creation -> approval (watcher), %d CSRs: p50 %s, p99 %s, max %s", len(up.approvals),
			percentile(up.approvals, 0.5).Round(time.Millisecond), percentile(up.approvals, 0.99).Round(time.Millisecond), percentile(up.approvals, 1).Round(time.Millisecond)),
		fmt.Sprintf("CSR decision latency (approver histogram, creationTimestamp to decision), %.0f approvals: p50 <= %gs, p99 <= %gs, mean %.3fs",
			up.csr.count, up.csr.quantile(0.5), up.csr.quantile(0.99), up.csr.sum/math.Max(up.csr.count, 1)),
		csrSplit(up.phase),
		fmt.Sprintf("planning cycle (kelp_autoscaler_decision_duration_seconds) in scale-up, %.0f cycles: p50 <= %gs, p99 <= %gs, mean %.3fs",
			up.decision.count, up.decision.quantile(0.5), up.decision.quantile(0.99), up.decision.sum/math.Max(up.decision.count, 1)),
		fmt.Sprintf("controller peak resident memory (VmHWM): %s; at the end of scale-up %s; CPU in scale-up %s over %s",
			mib(up.peakRSS), mib(up.rss), up.cpu.Round(10*time.Millisecond), up.wall.Round(time.Second)),
		fmt.Sprintf("scale-up: Kubernetes calls %s: %s", perCycle(up.kubeTotal, up.phase), topCalls(up.kube, 8)),
		fmt.Sprintf("scale-up: AWS calls %s: %s", perCycle(up.awsTotal, up.phase), topCalls(up.aws, 8)),
	}
}

// writeReport logs the report and writes it to KELP_SCALE_REPORT.
func writeReport(t *testing.T, lines []string) {
	t.Log("scale benchmark:\n  " + strings.Join(lines, "\n  "))
	if path := os.Getenv("KELP_SCALE_REPORT"); path != "" {
		if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
			t.Error(err)
		}
	}
}
