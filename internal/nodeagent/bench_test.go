package nodeagent

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	certutil "k8s.io/client-go/util/cert"
	"sigs.k8s.io/yaml"

	"github.com/kelp-dev/kelp/internal/bootstrap"
	"github.com/kelp-dev/kelp/internal/testenv"
	"github.com/kelp-dev/kelp/internal/userdata"
)

// BenchmarkAgents starts KELP_BENCH_AGENTS (default 200) full agents in
// this process against the test control plane — TLS bootstrap, serving
// certificate, lease, status and pod watch, nothing switched off — with
// the benchmark approving every pending CSR, and reports the seconds until
// all are Ready and all serve HTTPS, and the memory they take.
func BenchmarkAgents(b *testing.B) {
	env := testenv.Get(b)
	count := benchAgentCount(b)
	ctx := context.Background()
	if err := bootstrap.EnsureJoinRBAC(ctx, env.Client); err != nil {
		b.Fatal(err)
	}
	tok, err := bootstrap.CreateToken(ctx, env.Client, bootstrap.TokenSpec{Pool: "bench", TTL: time.Hour}, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = bootstrap.DeleteToken(ctx, env.Client, tok.ID) }()
	approverCtx, stopApprover := context.WithCancel(ctx)
	defer stopApprover()
	go approveAll(approverCtx, env.Client)
	warmUpSigner(b, env.Client)

	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		roots := benchRoots(b, env, tok, i, count)
		b.StartTimer()
		runAgents(b, env, roots)
	}
}

func benchAgentCount(b *testing.B) int {
	v := os.Getenv("KELP_BENCH_AGENTS")
	if v == "" {
		return 200
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 250*250 {
		b.Fatalf("KELP_BENCH_AGENTS=%q: want 1-62500", v)
	}
	return n
}

// benchRoots writes count instance roots whose IPs are 127.<10+iter>.x.y.
func benchRoots(b *testing.B, env *testenv.Env, tok bootstrap.Token, iter, count int) []string {
	b.Helper()
	kubeconfig, err := bootstrap.BootstrapKubeconfig(env.Cluster.APIServerURL(), env.Cluster.CACertPEM(), tok)
	if err != nil {
		b.Fatal(err)
	}
	nc, err := yaml.Marshal(userdata.NodeConfig{
		APIVersion: userdata.NodeConfigAPIVersion, Kind: userdata.NodeConfigKind,
		ClusterName: testenv.ClusterName, Pool: "bench", Labels: map[string]string{userdata.PoolLabel: "bench"},
	})
	if err != nil {
		b.Fatal(err)
	}
	base := b.TempDir()
	roots := make([]string, count)
	for j := range count {
		x, y := j/250, j%250+2
		root := filepath.Join(base, strconv.Itoa(j))
		writeBenchFile(b, filepath.Join(root, userdata.LocalBootstrapKubeconfigPath), kubeconfig)
		writeBenchFile(b, filepath.Join(root, userdata.LocalNodeConfigPath), nc)
		err := WriteIdentity(root, InstanceIdentity{
			InstanceID: fmt.Sprintf("i-%017x", iter<<32|j), InstanceType: "m5.large",
			AvailabilityZone: "us-east-1b", Region: "us-east-1",
			PrivateIP:      fmt.Sprintf("127.%d.%d.%d", 10+iter, x, y),
			PrivateDNSName: fmt.Sprintf("ip-127-%d-%d-%d.ec2.internal", 10+iter, x, y),
			Lifecycle:      LifecycleSpot, ImageID: "ami-0123456789abcdef0",
		})
		if err != nil {
			b.Fatal(err)
		}
		roots[j] = root
	}
	return roots
}

func writeBenchFile(b *testing.B, path string, data []byte) {
	b.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		b.Fatal(err)
	}
}

// runAgents starts one agent per root, waits until all are ready and
// serving, reports the figures, then stops them and deletes their nodes.
func runAgents(b *testing.B, env *testenv.Env, roots []string) {
	rssBefore, heapBefore := memory(b)
	start := time.Now()
	ctx, cancel := context.WithCancel(context.Background())
	logger := slog.New(slog.NewTextHandler(tWriter{b}, &slog.HandlerOptions{Level: slog.LevelError}))
	var wg sync.WaitGroup
	agents := make([]*Agent, len(roots))
	for j, root := range roots {
		a, err := New(Config{Root: root, Logger: logger})
		if err != nil {
			b.Fatal(err)
		}
		agents[j] = a
		wg.Go(func() {
			if err := a.Run(ctx); err != nil {
				b.Error(err)
			}
		})
	}
	defer func() {
		cancel()
		wg.Wait()
		deleteBenchNodes(b, env.Client, agents)
	}()
	ready := waitAll(b, agents, (*Agent).Ready)
	serving := waitAll(b, agents, (*Agent).Serving)
	b.StopTimer()
	rssAfter, heapAfter := memory(b)
	n := float64(len(agents))
	b.ReportMetric(ready.Sub(start).Seconds(), "s-to-all-ready")
	b.ReportMetric(serving.Sub(start).Seconds(), "s-to-all-serving")
	b.ReportMetric(float64(rssAfter)/(1<<20), "rss-MiB-total")
	b.ReportMetric(float64(int64(rssAfter)-int64(rssBefore))/n/(1<<10), "rss-KiB/agent")
	b.ReportMetric(float64(int64(heapAfter)-int64(heapBefore))/n/(1<<10), "heap-KiB/agent")
	b.ReportMetric(float64(runtime.NumGoroutine())/n, "goroutines/agent")
}

// waitAll waits until ch(a) is closed for every agent and returns when
// the last one closed; it fails after 10 minutes.
func waitAll(b *testing.B, agents []*Agent, ch func(*Agent) <-chan struct{}) time.Time {
	deadline := time.After(10 * time.Minute)
	for _, a := range agents {
		select {
		case <-ch(a):
		case <-deadline:
			b.Fatalf("agent %s not there within 10 minutes: %+v", a.NodeName(), a.Status())
		}
	}
	return time.Now()
}

// memory returns the process's resident set (VmRSS) and Go heap in use,
// after a GC.
func memory(b *testing.B) (rss, heap uint64) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	f, err := os.Open("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				b.Fatalf("parse VmRSS %q: %v", v, err)
			}
			return kb << 10, ms.HeapInuse
		}
	}
	b.Fatal("no VmRSS in /proc/self/status")
	return 0, 0
}

// approveAll approves every pending CSR until ctx ends, as an
// approve-everything approver would.
func approveAll(ctx context.Context, client kubernetes.Interface) {
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		list, err := client.CertificatesV1().CertificateSigningRequests().List(ctx, metav1.ListOptions{})
		if err == nil {
			for i := range list.Items {
				if c := &list.Items[i]; isPending(c) && c.Spec.SignerName != certificatesv1.KubeAPIServerClientSignerName {
					_ = approveCSR(ctx, client, c)
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// warmUpSigner waits until kube-controller-manager signs kubelet client
// certificates: its signer starts some seconds after the control plane
// reports ready, which is no part of an agent's start-up time. The CSR is
// the admin's; approveAll approves it.
func warmUpSigner(b *testing.B, client kubernetes.Interface) {
	b.Helper()
	ctx := context.Background()
	key, err := newKey()
	if err != nil {
		b.Fatal(err)
	}
	spec := clientCertSpec("kelp-bench-warm-up", 0, "")
	req, err := certutil.MakeCSR(key, &spec.subject, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	csrs := client.CertificatesV1().CertificateSigningRequests()
	c, err := csrs.Create(ctx, &certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "kelp-bench-warm-up-"},
		Spec:       certificatesv1.CertificateSigningRequestSpec{Request: req, SignerName: spec.signer, Usages: spec.usages},
	}, metav1.CreateOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = csrs.Delete(ctx, c.Name, metav1.DeleteOptions{}) }()
	testenv.Eventually(b, time.Minute, "the kubelet client signer", func(ctx context.Context) (bool, error) {
		got, err := csrs.Get(ctx, c.Name, metav1.GetOptions{})
		return err == nil && len(got.Status.Certificate) > 0, err
	})
}

func deleteBenchNodes(b *testing.B, client kubernetes.Interface, agents []*Agent) {
	ctx := context.Background()
	for _, a := range agents {
		if err := client.CoreV1().Nodes().Delete(ctx, a.NodeName(), metav1.DeleteOptions{}); err != nil {
			b.Logf("delete node %s: %v", a.NodeName(), err)
		}
	}
	_ = client.CertificatesV1().CertificateSigningRequests().DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{})
}
