package e2e

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	"github.com/kelp-dev/kelp/internal/approver"
	"github.com/kelp-dev/kelp/internal/localup"
	"github.com/kelp-dev/kelp/internal/pool"
	"github.com/kelp-dev/kelp/internal/testenv"
)

// joinTimes records, as one watcher sees them, when each CSR appeared and
// when it was approved, and when each Node first became Ready.
type joinTimes struct {
	mu       sync.Mutex
	created  map[string]time.Time
	approved map[string]time.Duration
	// approvedAt is when each CSR was seen approved.
	approvedAt map[string]time.Time
	ready      map[string]time.Time
}

func (j *joinTimes) csr(obj any) {
	csr, ok := obj.(*certificatesv1.CertificateSigningRequest)
	if !ok || csr.Spec.SignerName != certificatesv1.KubeAPIServerClientKubeletSignerName {
		return
	}
	now := time.Now()
	j.mu.Lock()
	defer j.mu.Unlock()
	if _, seen := j.created[csr.Name]; !seen {
		j.created[csr.Name] = now
	}
	if j.created[csr.Name].IsZero() {
		return // part of the flood
	}
	if _, done := j.approved[csr.Name]; !done && approver.ConditionOf(csr) != approver.Pending {
		j.approved[csr.Name] = now.Sub(j.created[csr.Name])
		j.approvedAt[csr.Name] = now
	}
}

// forgetFlood drops the CSRs seen so far (the flood's) from the latency
// figures: only the instances' joins are measured.
func (j *joinTimes) forgetFlood() {
	j.mu.Lock()
	defer j.mu.Unlock()
	for name := range j.created {
		j.created[name] = time.Time{}
	}
	clear(j.approved)
	clear(j.approvedAt)
}

func (j *joinTimes) node(obj any) {
	n, ok := obj.(*corev1.Node)
	if !ok {
		return
	}
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
			j.mu.Lock()
			if _, seen := j.ready[n.Name]; !seen {
				j.ready[n.Name] = time.Now()
			}
			j.mu.Unlock()
		}
	}
}

// BenchmarkJoin scales a pool from 0 to KELP_BENCH_INSTANCES (default 100)
// at once on a local cluster and reports the approver's latency from CSR
// creation to approval (p50, p99), the time from SetDesiredCapacity to each
// Node Ready (p50, max) and resident memory per running instance.
func BenchmarkJoin(b *testing.B) {
	benchmarkJoin(b, benchInstances(b, 100), false, pool.JoinModeToken)
}

// BenchmarkJoinIdentity is BenchmarkJoin with an identity-mode pool: each
// instance first proves who it is to the controller's join endpoint (its
// role's credentials from the local metadata service, a signed
// GetCallerIdentity the endpoint checks with the local STS) and gets a
// token bound to itself; the figures are comparable with BenchmarkJoin's.
func BenchmarkJoinIdentity(b *testing.B) {
	benchmarkJoin(b, benchInstances(b, 100), false, pool.JoinModeIdentity)
}

// BenchmarkJoinUnderFlood is BenchmarkJoin (default 300 instances) after a
// hostile flood: 200 CSRs of another signer of about 1 MiB each and 500
// junk kubelet client CSRs sent with a kelp pool's bootstrap token
// (floodCSRs). Every instance must still join.
func BenchmarkJoinUnderFlood(b *testing.B) {
	benchmarkJoin(b, benchInstances(b, 300), true, pool.JoinModeToken)
}

func benchInstances(b *testing.B, def int) int {
	v := os.Getenv("KELP_BENCH_INSTANCES")
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		b.Fatalf("KELP_BENCH_INSTANCES=%q: want a positive integer", v)
	}
	return n
}

func benchmarkJoin(b *testing.B, n int, flood bool, mode pool.JoinMode) {
	release, err := testenv.AcquireSlot()
	if err != nil {
		b.Fatal(err)
	}
	defer release()
	ctx := context.Background()
	cluster, err := localup.Start(ctx, localup.Config{
		Dir: filepath.Join(b.TempDir(), "bench"), Name: "bench", UnsafeNoFsync: true, StartTimeout: 3 * time.Minute,
		Pools:                  &pool.Config{Pools: []pool.Spec{{Name: "burst", InstanceTypes: []string{"m5.large"}, MaxSize: int32(n), Join: pool.Join{Mode: mode}}}},
		CloudReconcileInterval: time.Second,
	})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = cluster.Stop(ctx) }()
	cfg, _ := cluster.ControlPlane.AdminRESTConfig()
	cfg.QPS, cfg.Burst = 200, 400
	times := &joinTimes{created: map[string]time.Time{}, approved: map[string]time.Duration{}, approvedAt: map[string]time.Time{}, ready: map[string]time.Time{}}
	client := mustClient(b, cfg)
	if flood {
		floodCSRs(b, ctx, cluster, client, "burst")
	}
	// Only kubelet client CSRs: the flood's foreign ones stay out of this
	// process.
	csrFactory := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
		o.FieldSelector = "spec.signerName=" + certificatesv1.KubeAPIServerClientKubeletSignerName
	}))
	nodeFactory := informers.NewSharedInformerFactory(client, 0)
	handler := func(f func(any)) cache.ResourceEventHandlerFuncs {
		return cache.ResourceEventHandlerFuncs{AddFunc: f, UpdateFunc: func(_, o any) { f(o) }}
	}
	_, _ = csrFactory.Certificates().V1().CertificateSigningRequests().Informer().AddEventHandler(handler(times.csr))
	_, _ = nodeFactory.Core().V1().Nodes().Informer().AddEventHandler(handler(times.node))
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	for _, f := range []informers.SharedInformerFactory{csrFactory, nodeFactory} {
		f.Start(wctx.Done())
		f.WaitForCacheSync(wctx.Done())
	}
	if flood {
		times.forgetFlood()
	}

	awsCfg, err := cluster.AWSConfig(ctx)
	if err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	rssBefore := rssBytes(b)
	b.ResetTimer()
	start := time.Now()
	if _, err := autoscaling.NewFromConfig(awsCfg).SetDesiredCapacity(ctx, &autoscaling.SetDesiredCapacityInput{
		AutoScalingGroupName: aws.String(pool.GroupName("bench", "burst")), DesiredCapacity: aws.Int32(int32(n)),
	}); err != nil {
		b.Fatal(err)
	}
	readyCount := func() int {
		times.mu.Lock()
		defer times.mu.Unlock()
		return len(times.ready)
	}
	if err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 10*time.Minute, true, func(context.Context) (bool, error) {
		return readyCount() >= n, nil
	}); err != nil {
		b.Fatalf("only %d of %d nodes Ready after 10 minutes: %v", readyCount(), n, err)
	}
	b.StopTimer()
	runtime.GC()
	rssAfter := rssBytes(b)
	times.mu.Lock()
	defer times.mu.Unlock()
	var approvals, sinceLaunch, readies []time.Duration
	for _, d := range times.approved {
		approvals = append(approvals, d)
	}
	for _, at := range times.approvedAt {
		sinceLaunch = append(sinceLaunch, at.Sub(start))
	}
	for _, at := range times.ready {
		readies = append(readies, at.Sub(start))
	}
	slices.Sort(approvals)
	slices.Sort(sinceLaunch)
	slices.Sort(readies)
	b.ReportMetric(float64(len(approvals)), "approved-csrs")
	b.ReportMetric(percentile(approvals, 0.50).Seconds()*1000, "approve-p50-ms")
	b.ReportMetric(percentile(approvals, 0.99).Seconds()*1000, "approve-p99-ms")
	b.ReportMetric(percentile(sinceLaunch, 0.50).Seconds(), "launch-to-approved-p50-s")
	b.ReportMetric(percentile(readies, 0.50).Seconds(), "ready-p50-s")
	b.ReportMetric(readies[len(readies)-1].Seconds(), "all-ready-s")
	b.ReportMetric(float64(rssAfter-rssBefore)/float64(n)/1024, "rss-KiB/instance")
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(float64(len(sorted))*p))]
}

// rssBytes reads this process's resident set size: the local cloud, its
// instances' agents and the controller all run in it.
func rssBytes(b *testing.B) int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return kb * 1024
		}
	}
	b.Fatal("no VmRSS in /proc/self/status")
	return 0
}

func mustClient(b *testing.B, cfg *rest.Config) kubernetes.Interface {
	b.Helper()
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		b.Fatal(err)
	}
	return c
}
