package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/kelp-dev/kelp/internal/autoscaler/loop"
	"github.com/kelp-dev/kelp/internal/controller"
	"github.com/kelp-dev/kelp/internal/localup"
	"github.com/kelp-dev/kelp/internal/pool"
	"github.com/kelp-dev/kelp/internal/testenv"
)

// cloudCalls records when the local cloud received each call of one
// action: it is a slog.Handler on the cluster's logger that reads the
// cloud's "api request" records (logged when the call is answered, with
// its duration) and passes warnings and errors on to stderr.
type cloudCalls struct {
	action string
	next   slog.Handler
	attrs  []slog.Attr

	mu       *sync.Mutex
	received *[]time.Time
}

func newCloudCalls(action string) *cloudCalls {
	return &cloudCalls{action: action, next: slog.Default().Handler(), mu: &sync.Mutex{}, received: &[]time.Time{}}
}

func (c *cloudCalls) Enabled(context.Context, slog.Level) bool { return true }

func (c *cloudCalls) Handle(ctx context.Context, r slog.Record) error {
	if r.Message != "api request" {
		if r.Level < slog.LevelWarn {
			return nil
		}
		return c.next.WithAttrs(c.attrs).Handle(ctx, r)
	}
	var action string
	var took time.Duration
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "action":
			action = a.Value.String()
		case "duration":
			took = a.Value.Duration()
		}
		return true
	})
	if action == c.action {
		c.mu.Lock()
		*c.received = append(*c.received, r.Time.Add(-took))
		c.mu.Unlock()
	}
	return nil
}

func (c *cloudCalls) WithAttrs(attrs []slog.Attr) slog.Handler {
	d := *c
	d.attrs = append(slices.Clip(c.attrs), attrs...)
	return &d
}

func (c *cloudCalls) WithGroup(string) slog.Handler { return c }

// all returns the calls received so far, in order.
func (c *cloudCalls) all() []time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(*c.received)
}

// unschedulableSeen records when this process's own watch first received
// each pod as unschedulable (PodScheduled=False, reason Unschedulable):
// object timestamps have a one-second resolution. It also counts the pods
// it saw Running.
type unschedulableSeen struct {
	mu      sync.Mutex
	at      map[string]time.Time
	running map[string]bool
	// last is when a pod was last seen unschedulable (new or again).
	last time.Time
}

func (u *unschedulableSeen) pod(obj any) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	now := time.Now()
	u.mu.Lock()
	defer u.mu.Unlock()
	if p.Status.Phase == corev1.PodRunning {
		u.running[p.Name] = true
	}
	if !loop.Unschedulable(p) {
		return
	}
	u.last = now
	if _, seen := u.at[p.Name]; !seen {
		u.at[p.Name] = now
	}
}

// quietFor reports whether no pod was seen unschedulable for d.
func (u *unschedulableSeen) quietFor(d time.Duration) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return time.Since(u.last) >= d
}

func (u *unschedulableSeen) runningPods() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.running)
}

func (u *unschedulableSeen) get(name string) (time.Time, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	at, ok := u.at[name]
	return at, ok
}

// watchUnschedulable starts a pod informer on the namespace default that
// feeds u; it stops with ctx.
func watchUnschedulable(b *testing.B, ctx context.Context, client kubernetes.Interface, u *unschedulableSeen) {
	f := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithNamespace("default"))
	_, err := f.Core().V1().Pods().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: u.pod, UpdateFunc: func(_, o any) { u.pod(o) },
	})
	if err != nil {
		b.Fatal(err)
	}
	f.Start(ctx.Done())
	f.WaitForCacheSync(ctx.Done())
}

// startReactionCluster starts a local cluster with one pool of typ (at
// most maxSize) and the autoscaler at its defaults, whose cloud calls of
// SetDesiredCapacity are recorded. KELP_BENCH_BATCH_QUIET_IDLE sets the
// autoscaler's BatchQuietIdle: 1s batches as kelp did before issue 15.
func startReactionCluster(b *testing.B, typ string, maxSize int32) (*localup.Cluster, kubernetes.Interface, *cloudCalls) {
	calls := newCloudCalls("SetDesiredCapacity")
	var opts loop.Options
	if v := os.Getenv("KELP_BENCH_BATCH_QUIET_IDLE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			b.Fatalf("KELP_BENCH_BATCH_QUIET_IDLE=%q: %v", v, err)
		}
		opts.BatchQuietIdle = d
	}
	cluster, err := localup.Start(context.Background(), localup.Config{
		Dir: filepath.Join(b.TempDir(), "react"), Name: "react", UnsafeNoFsync: true, StartTimeout: 3 * time.Minute,
		Pools:                  &pool.Config{Pools: []pool.Spec{{Name: "react", InstanceTypes: []string{typ}, MaxSize: maxSize}}},
		CloudReconcileInterval: time.Second,
		Controller:             controller.Options{Autoscaler: &opts},
		Logger:                 slog.New(calls),
	})
	if err != nil {
		b.Fatal(err)
	}
	cfg, err := cluster.ControlPlane.AdminRESTConfig()
	if err != nil {
		b.Fatal(err)
	}
	cfg.QPS, cfg.Burst = 500, 1000
	return cluster, mustClient(b, cfg), calls
}

// reactionPod requests cpu on the pool's nodes; with spread it may not
// share a node with another pod of the benchmark (required hostname
// anti-affinity), so each needs a node of its own.
func reactionPod(name, cpu string, spread bool) *corev1.Pod {
	grace := int64(1)
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"bench": "reaction"}},
		Spec: corev1.PodSpec{
			TerminationGracePeriodSeconds: &grace,
			NodeSelector:                  map[string]string{pool.PoolTag: "react"},
			Containers: []corev1.Container{{Name: "app", Image: "registry.k8s.io/pause:3.10",
				Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}}}},
		},
	}
	if spread {
		p.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
				TopologyKey:   corev1.LabelHostname,
				LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"bench": "reaction"}},
			}},
		}}
	}
	return p
}

// BenchmarkReaction measures, on an idle local cluster with the
// autoscaler at its defaults, the time from this process's watch receiving
// a pod as unschedulable to the local cloud receiving SetDesiredCapacity,
// over KELP_BENCH_RUNS runs (default 50; one pod each, which needs a node
// of its own). Between runs the pod becomes Running and no pod is seen
// unschedulable for 2 s, so every run starts idle. It reports p50, p99
// and max.
func BenchmarkReaction(b *testing.B) {
	release, err := testenv.AcquireSlot()
	if err != nil {
		b.Fatal(err)
	}
	defer release()
	runs := 50
	if v := os.Getenv("KELP_BENCH_RUNS"); v != "" {
		if runs, err = strconv.Atoi(v); err != nil || runs < 1 {
			b.Fatalf("KELP_BENCH_RUNS=%q: want a positive integer", v)
		}
	}
	cluster, client, calls := startReactionCluster(b, "m5.large", int32(runs+2))
	defer func() { _ = cluster.Stop(context.Background()) }()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	seen := &unschedulableSeen{at: map[string]time.Time{}, running: map[string]bool{}}
	watchUnschedulable(b, ctx, client, seen)
	b.ResetTimer()
	var took []time.Duration
	for i := range runs + 1 { // run 0 warms up
		name := fmt.Sprintf("react-%d", i)
		before := len(calls.all())
		if _, err := client.CoreV1().Pods("default").Create(ctx, reactionPod(name, "500m", true), metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
		var unsched, scaled time.Time
		testenv.EventuallyTrue(b, time.Minute, name+" unschedulable, then SetDesiredCapacity", func() bool {
			var ok bool
			if unsched, ok = seen.get(name); !ok {
				return false
			}
			all := calls.all()
			if len(all) <= before {
				return false
			}
			scaled = all[before]
			return true
		})
		if i > 0 {
			took = append(took, scaled.Sub(unsched))
		}
		testenv.EventuallyTrue(b, 3*time.Minute, name+" Running", func() bool { return seen.runningPods() == i+1 })
		// Idle: no pod unschedulable for twice the default idle window
		// (nodes join here in about half a second; the scheduler marks a
		// waiting pod again as they come).
		testenv.EventuallyTrue(b, time.Minute, "no pod unschedulable for 2s", func() bool { return seen.quietFor(2 * loop.DefaultBatchIdle) })
	}
	b.StopTimer()
	slices.Sort(took)
	b.Logf("unschedulable -> SetDesiredCapacity over %d runs: p50 %s, p99 %s, max %s", len(took),
		percentile(took, 0.5).Round(time.Millisecond), percentile(took, 0.99).Round(time.Millisecond), took[len(took)-1].Round(time.Millisecond))
	b.ReportMetric(float64(len(took)), "runs")
	b.ReportMetric(percentile(took, 0.50).Seconds()*1000, "react-p50-ms")
	b.ReportMetric(percentile(took, 0.99).Seconds()*1000, "react-p99-ms")
	b.ReportMetric(took[len(took)-1].Seconds()*1000, "react-max-ms")
}

// BenchmarkReactionBurst creates 1,000 pods (cpu 100m, 250m, 500m in turn)
// at an even pace over 10 s on an idle local cluster with the autoscaler
// at its defaults, waits until every pod is Running, and reports the
// SetDesiredCapacity calls the local cloud received and the nodes the pool
// ended with: a faster reaction must not plan the burst worse.
func BenchmarkReactionBurst(b *testing.B) {
	release, err := testenv.AcquireSlot()
	if err != nil {
		b.Fatal(err)
	}
	defer release()
	const pods, over = 1000, 10 * time.Second
	cluster, client, calls := startReactionCluster(b, "m5.4xlarge", 40)
	defer func() { _ = cluster.Stop(context.Background()) }()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	seen := &unschedulableSeen{at: map[string]time.Time{}, running: map[string]bool{}}
	watchUnschedulable(b, ctx, client, seen)
	b.ResetTimer()
	start := time.Now()
	tick := time.NewTicker(over / 100)
	defer tick.Stop()
	cpus := []string{"100m", "250m", "500m"}
	for wave := range 100 {
		<-tick.C
		errs := make(chan error, pods/100)
		for j := range pods / 100 {
			i := wave*(pods/100) + j
			go func() {
				_, err := client.CoreV1().Pods("default").Create(ctx, reactionPod(fmt.Sprintf("burst-%d", i), cpus[i%3], false), metav1.CreateOptions{})
				errs <- err
			}()
		}
		for range pods / 100 {
			if err := <-errs; err != nil {
				b.Fatal(err)
			}
		}
	}
	created := time.Since(start)
	testenv.EventuallyTrue(b, 15*time.Minute, "1,000 burst pods Running", func() bool { return seen.runningPods() == pods })
	b.StopTimer()
	n := len(calls.all())
	nodes, _, err := readyNodesOf(ctx, client, "react")
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("%d pods created in %s; all Running after %s; %d SetDesiredCapacity calls, %d m5.4xlarge nodes Ready",
		pods, created.Round(time.Millisecond), time.Since(start).Round(time.Second), n, len(nodes))
	b.ReportMetric(float64(n), "set-desired-calls")
	b.ReportMetric(float64(len(nodes)), "nodes")
	b.ReportMetric(time.Since(start).Seconds(), "all-running-s")
}
