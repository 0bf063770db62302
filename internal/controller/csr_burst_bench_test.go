package controller

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	certificatesv1 "k8s.io/api/certificates/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"

	"github.com/kelp-dev/kelp/internal/approver"
	"github.com/kelp-dev/kelp/internal/bootstrap"
	"github.com/kelp-dev/kelp/internal/cloud"
	kelpaws "github.com/kelp-dev/kelp/internal/cloud/aws"
	"github.com/kelp-dev/kelp/internal/localcloud"
	"github.com/kelp-dev/kelp/internal/pool"
	"github.com/kelp-dev/kelp/internal/testenv"
)

var _ approver.BatchFinder = (*kelpaws.Provider)(nil)

// burstPool is the pool of BenchmarkApproverBurst's instances.
const burstPool = "burst"

// BenchmarkApproverBurst measures the approver alone deciding a burst of
// new-node CSRs that arrive at once: a local cloud (no node agents: its
// instances boot nothing) holds KELP_BENCH_CSRS (default 1,000) running
// instances of one pool, kelp's controllers run in this process at the
// production client limits (--kube-api-qps 100, burst 200) with the AWS
// adapter pointed at the local cloud, and one CSR per instance is created
// at once through the pool's bootstrap token. It reports, per CSR, p50 and
// p99 of: created → seen by a watch (watch lag, the benchmark's own watch
// standing in for kelp's), created → approved, approved → issued (signed by
// kube-controller-manager); and from kelp's histograms (interpolated
// within buckets): queue wait and each phase of a decision. Then the AWS
// calls by action and the controller's Kubernetes calls by verb and
// resource during the burst. KELP_BENCH_KUBE_QPS raises the controller's
// client limits (burst twice the QPS). It is not part of `make test`; run
// it with
//
//	go test -run '^$' -bench ApproverBurst -benchtime 1x -count 3 -timeout 30m ./internal/controller/
func BenchmarkApproverBurst(b *testing.B) {
	env := testenv.Get(b)
	ctx := context.Background()
	if err := bootstrap.EnsureJoinRBAC(ctx, env.Client); err != nil {
		b.Fatal(err)
	}
	n := burstSize(b)
	bc := startBurstCloud(b, n+1)
	resetRecord(b, env.Client)
	kubeCalls := &callCounter{counts: map[string]int{}}
	cfg := rest.CopyConfig(env.Config)
	limits := benchClientLimits(b)
	limits.Apply(cfg)
	cfg.Wrap(kubeCalls.wrap(kubeCallKey))
	reg := prometheus.NewRegistry()
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- Run(runCtx, Options{ClusterName: testenv.ClusterName, Approve: approver.ModeAuto, KubeAPI: limits},
			Deps{Client: kubernetes.NewForConfigOrDie(cfg), Cloud: bc.provider(b), Registry: reg,
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	}()
	defer func() {
		cancel()
		<-done
	}()
	tokenCfg := rest.CopyConfig(env.Config)
	tokenCfg.QPS = -1 // no client-side limit: the CSRs arrive at once
	token := impersonate(b, tokenCfg, "system:bootstrap:burst1", "system:bootstrappers", "system:bootstrappers:kelp",
		"system:bootstrappers:kelp:"+burstPool, "system:authenticated")
	var created []string
	defer func() { deleteCSRs(env.Client, created) }()
	// Warm up: the first join pays for the first reads (record, groups).
	_, warm := joinLatency(b, token, env.Client, bc.names[n])
	created = append(created, warm)
	w := watchCSRs(b, env.Client)
	defer w.stop()
	csrs := make([]*certificatesv1.CertificateSigningRequest, n)
	for i := range n {
		csrs[i] = testenv.NodeClientCSR(b, bc.names[i])
	}
	awsBefore, kubeBefore, phasesBefore := bc.calls.snapshot(), kubeCalls.snapshot(), phases(b, reg)

	b.ResetTimer()
	start := time.Now()
	births := createAtOnce(b, token, csrs)
	for name := range births {
		created = append(created, name)
	}
	w.waitIssued(b, births)
	took := time.Since(start)
	b.StopTimer()

	b.ReportMetric(took.Seconds(), "s-all-issued")
	reportBurst(b, w, births)
	reportPhases(b, phasesBefore, phases(b, reg))
	b.Logf("%d CSRs: AWS calls %s", n, diffCalls(awsBefore, bc.calls.snapshot()))
	b.Logf("%d CSRs: Kubernetes calls of the controller %s", n, diffCalls(kubeBefore, kubeCalls.snapshot()))
}

// burstSize is KELP_BENCH_CSRS, 1,000 by default.
func burstSize(b *testing.B) int {
	n := 1000
	if s := os.Getenv("KELP_BENCH_CSRS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 {
			b.Fatalf("KELP_BENCH_CSRS %q: want a positive number", s)
		}
		n = v
	}
	return n
}

// benchClientLimits are the controller's client limits: the defaults, or
// KELP_BENCH_KUBE_QPS (the burst twice that).
func benchClientLimits(b *testing.B) ClientLimits {
	s := os.Getenv("KELP_BENCH_KUBE_QPS")
	if s == "" {
		return ClientLimits{}
	}
	qps, err := strconv.Atoi(s)
	if err != nil || qps < 1 {
		b.Fatalf("KELP_BENCH_KUBE_QPS %q: want a positive number", s)
	}
	return ClientLimits{QPS: float32(qps), Burst: 2 * qps}
}

// resetRecord deletes kelp's approval record, so that instance IDs of an
// earlier run's cloud are not taken for replays.
func resetRecord(b *testing.B, client kubernetes.Interface) {
	err := client.CoreV1().ConfigMaps(approver.RecordNamespace).Delete(context.Background(), approver.RecordName, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		b.Fatalf("delete the approval record: %v", err)
	}
}

// burstCloud is a local cloud with one pool of running instances that
// boot nothing, behind a counter of AWS calls by action.
type burstCloud struct {
	url   string
	calls *callCounter
	names []string // the instances' private DNS names
}

func startBurstCloud(b *testing.B, n int) *burstCloud {
	c, err := localcloud.Open(localcloud.Options{Dir: b.TempDir(), Runtime: localcloud.NopRuntime{},
		Rand: rand.NewPCG(uint64(time.Now().UnixNano()), 3), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatalf("open local cloud: %v", err)
	}
	if err := c.Start(context.Background()); err != nil {
		b.Fatalf("start local cloud: %v", err)
	}
	bc := &burstCloud{calls: &callCounter{counts: map[string]int{}}}
	srv := httptest.NewServer(bc.calls.countActions(c))
	b.Cleanup(func() {
		srv.Close()
		_ = c.Close()
	})
	bc.url = srv.URL
	p := bc.provider(b)
	size := int32(n)
	if _, err := pool.New(testenv.ClusterName, pool.Deps{Cloud: p}).Create(context.Background(),
		pool.Spec{Name: burstPool, InstanceTypes: []string{"m5.large"}, ImageID: localcloud.ImageLocalNode, MaxSize: size, DesiredCapacity: &size},
		pool.StaticUserData("#cloud-config\n")); err != nil {
		b.Fatalf("create pool: %v", err)
	}
	testenv.Eventually(b, 5*time.Minute, "every instance in service", func(ctx context.Context) (bool, error) {
		p.InvalidateAll()
		if err := p.Refresh(ctx); err != nil {
			return false, err
		}
		groups, err := p.NodeGroups(ctx)
		if err != nil || len(groups) != 1 {
			return false, err
		}
		bc.names = bc.names[:0]
		for _, i := range groups[0].Instances {
			if i.State == cloud.InstanceStateRunning && i.PrivateDNSName != "" {
				bc.names = append(bc.names, i.PrivateDNSName)
			}
		}
		return len(bc.names) == n, nil
	})
	return bc
}

// provider is a new AWS adapter on the local cloud, as the controller builds
// it.
func (bc *burstCloud) provider(b *testing.B) *kelpaws.Provider {
	p, err := kelpaws.New(context.Background(), kelpaws.Config{ClusterName: testenv.ClusterName, Endpoint: bc.url, Region: localcloud.DefaultRegion},
		kelpaws.Deps{Clock: clock.RealClock{}, Logger: slog.New(slog.DiscardHandler),
			Credentials: credentials.NewStaticCredentialsProvider(localcloud.AccessKeyID, localcloud.SecretAccessKey, "")})
	if err != nil {
		b.Fatalf("new aws provider: %v", err)
	}
	return p
}

// createAtOnce creates every CSR from 64 goroutines and returns when each
// was created (its Create returned), by name.
func createAtOnce(b *testing.B, client kubernetes.Interface, csrs []*certificatesv1.CertificateSigningRequest) map[string]time.Time {
	var mu sync.Mutex
	births := make(map[string]time.Time, len(csrs))
	work := make(chan *certificatesv1.CertificateSigningRequest)
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			for csr := range work {
				got, err := client.CertificatesV1().CertificateSigningRequests().Create(context.Background(), csr, metav1.CreateOptions{})
				if err != nil {
					b.Errorf("create CSR: %v", err)
					continue
				}
				mu.Lock()
				births[got.Name] = time.Now()
				mu.Unlock()
			}
		})
	}
	for _, csr := range csrs {
		work <- csr
	}
	close(work)
	wg.Wait()
	return births
}

// csrWatch records when a watch first saw each kubelet client CSR, saw it
// approved, and saw its certificate.
type csrWatch struct {
	stop func()

	mu                   sync.Mutex
	seen, approved, sign map[string]time.Time
}

func watchCSRs(b *testing.B, client kubernetes.Interface) *csrWatch {
	w := &csrWatch{seen: map[string]time.Time{}, approved: map[string]time.Time{}, sign: map[string]time.Time{}}
	f := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
		o.FieldSelector = approver.SignerSelector(certificatesv1.KubeAPIServerClientKubeletSignerName)
	}))
	inf := f.Certificates().V1().CertificateSigningRequests().Informer()
	note := func(obj any) {
		csr, ok := obj.(*certificatesv1.CertificateSigningRequest)
		if !ok {
			return
		}
		now := time.Now()
		w.mu.Lock()
		defer w.mu.Unlock()
		first := func(m map[string]time.Time) {
			if _, ok := m[csr.Name]; !ok {
				m[csr.Name] = now
			}
		}
		first(w.seen)
		if c := approver.ConditionOf(csr); c == approver.Approved || c == approver.Issued {
			first(w.approved)
		}
		if len(csr.Status.Certificate) > 0 {
			first(w.sign)
		}
	}
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: note, UpdateFunc: func(_, o any) { note(o) }}); err != nil {
		b.Fatal(err)
	}
	stop := make(chan struct{})
	f.Start(stop)
	f.WaitForCacheSync(stop)
	w.stop = func() { close(stop); f.Shutdown() }
	return w
}

// waitIssued waits until every CSR of births has its certificate; a denied
// one fails the benchmark.
func (w *csrWatch) waitIssued(b *testing.B, births map[string]time.Time) {
	testenv.EventuallyTrue(b, 10*time.Minute, "every CSR of the burst issued", func() bool {
		w.mu.Lock()
		defer w.mu.Unlock()
		for name := range births {
			if _, ok := w.sign[name]; !ok {
				return false
			}
		}
		return true
	})
}

// reportBurst reports the watch's latencies.
func reportBurst(b *testing.B, w *csrWatch, births map[string]time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var lag, approve, sign []time.Duration
	for name, at := range births {
		lag = append(lag, max(0, w.seen[name].Sub(at)))
		approve = append(approve, max(0, w.approved[name].Sub(at)))
		sign = append(sign, max(0, w.sign[name].Sub(w.approved[name])))
	}
	for _, m := range []struct {
		name string
		d    []time.Duration
	}{{"watch", lag}, {"approved", approve}, {"signed", sign}} {
		slices.Sort(m.d)
		b.ReportMetric(percentileMs(m.d, 0.50), m.name+"-p50-ms")
		b.ReportMetric(percentileMs(m.d, 0.99), m.name+"-p99-ms")
	}
}

// phases reads the approver's queue wait and decision phase histograms,
// by phase ("queue" for the queue wait).
func phases(b *testing.B, reg *prometheus.Registry) map[string]*dto.Histogram {
	families, err := reg.Gather()
	if err != nil {
		b.Fatal(err)
	}
	out := map[string]*dto.Histogram{}
	for _, fam := range families {
		switch fam.GetName() {
		case "kelp_csr_queue_wait_seconds", "kelp_csr_decision_phase_seconds":
		default:
			continue
		}
		for _, m := range fam.GetMetric() {
			name := "queue"
			for _, l := range m.GetLabel() {
				name = l.GetValue()
			}
			out[name] = m.GetHistogram()
		}
	}
	return out
}

// reportPhases reports p50 and p99 of the approver's queue wait and of
// each phase of its decisions between two readings, interpolated within
// the histograms' buckets as Prometheus's histogram_quantile does.
func reportPhases(b *testing.B, before, after map[string]*dto.Histogram) {
	for name, h := range after {
		if prev := before[name]; prev != nil {
			h = subtractHistogram(h, prev)
		}
		b.ReportMetric(1000*histogramQuantile(h, 0.50), name+"-p50-ms")
		b.ReportMetric(1000*histogramQuantile(h, 0.99), name+"-p99-ms")
		b.Logf("%s: %d observations, mean %.1f ms", name, h.GetSampleCount(), 1000*h.GetSampleSum()/float64(max(1, h.GetSampleCount())))
	}
}

// subtractHistogram is a − b, bucket by bucket (same buckets).
func subtractHistogram(a, b *dto.Histogram) *dto.Histogram {
	count, sum := a.GetSampleCount()-b.GetSampleCount(), a.GetSampleSum()-b.GetSampleSum()
	out := &dto.Histogram{SampleCount: &count, SampleSum: &sum}
	for i, bk := range a.GetBucket() {
		c, ub := bk.GetCumulativeCount()-b.GetBucket()[i].GetCumulativeCount(), bk.GetUpperBound()
		out.Bucket = append(out.Bucket, &dto.Bucket{CumulativeCount: &c, UpperBound: &ub})
	}
	return out
}

// histogramQuantile is Prometheus's histogram_quantile on one histogram.
func histogramQuantile(h *dto.Histogram, q float64) float64 {
	total := float64(h.GetSampleCount())
	if total == 0 {
		return 0
	}
	rank, lower, below := q*total, 0.0, 0.0
	for _, bk := range h.GetBucket() {
		upper, count := bk.GetUpperBound(), float64(bk.GetCumulativeCount())
		if count >= rank {
			if count == below {
				return upper
			}
			return lower + (upper-lower)*(rank-below)/(count-below)
		}
		lower, below = upper, count
	}
	return lower
}

// callCounter counts HTTP requests by a key.
type callCounter struct {
	mu     sync.Mutex
	counts map[string]int
}

func (c *callCounter) wrap(key func(*http.Request) string) func(http.RoundTripper) http.RoundTripper {
	return func(next http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(r *http.Request) (*http.Response, error) {
			c.add(key(r))
			return next.RoundTrip(r)
		})
	}
}

func (c *callCounter) add(key string) {
	c.mu.Lock()
	c.counts[key]++
	c.mu.Unlock()
}

func (c *callCounter) snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.counts))
	for k, v := range c.counts {
		out[k] = v
	}
	return out
}

// countActions counts the AWS requests to h by action (the query
// protocol's Action, the JSON protocol's X-Amz-Target).
func (c *callCounter) countActions(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		action := r.Header.Get("X-Amz-Target")
		if v, err := url.ParseQuery(string(body)); err == nil && v.Get("Action") != "" {
			action = v.Get("Action")
		}
		c.add(action)
		h.ServeHTTP(w, r)
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// diffCalls renders after − before, largest first.
func diffCalls(before, after map[string]int) string {
	type kv struct {
		k string
		v int
	}
	var out []kv
	for k, v := range after {
		if d := v - before[k]; d > 0 {
			out = append(out, kv{k, d})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].v > out[j].v })
	var s []string
	for _, e := range out {
		s = append(s, fmt.Sprintf("%s %d", e.k, e.v))
	}
	return strings.Join(s, ", ")
}

// kubeCallKey is a Kubernetes request's verb and resource path, without
// names: "PUT certificatesigningrequests/approval".
func kubeCallKey(r *http.Request) string {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	verb := r.Method
	if r.URL.Query().Get("watch") == "true" {
		verb = "WATCH"
	}
	var res []string
	for i, p := range parts {
		switch p {
		case "certificatesigningrequests", "configmaps", "nodes", "events", "leases", "pods":
			res = append(res, p)
			if i+2 < len(parts) {
				res = append(res, parts[i+2])
			}
		}
	}
	return verb + " " + strings.Join(res, "/")
}
