package controlplane

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

func (c *Cluster) etcdArgs() []string {
	client := "https://127.0.0.1:" + strconv.Itoa(c.ports.EtcdClient)
	peer := "http://127.0.0.1:" + strconv.Itoa(c.ports.EtcdPeer)
	args := []string{
		"--name=" + c.cfg.Name,
		"--data-dir=" + filepath.Join(c.cfg.Dir, "etcd"),
		"--listen-client-urls=" + client,
		"--advertise-client-urls=" + client,
		"--listen-peer-urls=" + peer,
		"--initial-advertise-peer-urls=" + peer,
		"--initial-cluster=" + c.cfg.Name + "=" + peer,
		"--cert-file=" + c.pki.Path("etcd-server", "crt"),
		"--key-file=" + c.pki.Path("etcd-server", "key"),
		"--trusted-ca-file=" + c.pki.Path("etcd-ca", "crt"),
		"--client-cert-auth=true",
		"--log-level=warn",
	}
	if c.cfg.UnsafeNoFsync {
		args = append(args, "--unsafe-no-fsync=true")
	}
	return args
}

func (c *Cluster) apiServerArgs() []string {
	p := c.pki
	return []string{
		"--etcd-servers=https://127.0.0.1:" + strconv.Itoa(c.ports.EtcdClient),
		"--etcd-cafile=" + p.Path("etcd-ca", "crt"),
		"--etcd-certfile=" + p.Path("apiserver-etcd-client", "crt"),
		"--etcd-keyfile=" + p.Path("apiserver-etcd-client", "key"),
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		// The default (lease) reconciler refuses a loopback advertise address.
		"--endpoint-reconciler-type=none",
		"--secure-port=" + strconv.Itoa(c.ports.APIServer),
		"--tls-cert-file=" + p.Path("apiserver", "crt"),
		"--tls-private-key-file=" + p.Path("apiserver", "key"),
		"--client-ca-file=" + p.Path("ca", "crt"),
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + filepath.Join(p.Dir, "sa.pub"),
		"--service-account-signing-key-file=" + filepath.Join(p.Dir, "sa.key"),
		"--service-cluster-ip-range=" + ServiceCIDR,
		"--authorization-mode=Node,RBAC",
		"--enable-admission-plugins=NodeRestriction",
		"--enable-bootstrap-token-auth=true",
		"--allow-privileged=true",
		"--profiling=false",
		// A thousand node agents heartbeating while tens of thousands of
		// pods are created, bound and started exceed the defaults (400 and
		// 200), which API Priority and Fairness shares out as seats.
		"--max-requests-inflight=" + strconv.Itoa(APIServerMaxRequestsInflight),
		"--max-mutating-requests-inflight=" + strconv.Itoa(APIServerMaxMutatingInflight),
	}
}

func (c *Cluster) controllerManagerArgs() []string {
	p := c.pki
	kubeconfig := filepath.Join(c.cfg.Dir, "controller-manager.kubeconfig")
	return []string{
		"--kubeconfig=" + kubeconfig,
		"--authentication-kubeconfig=" + kubeconfig,
		"--authorization-kubeconfig=" + kubeconfig,
		"--bind-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(c.ports.ControllerManager),
		"--cert-dir=" + filepath.Join(c.cfg.Dir, "controller-manager"),
		"--cluster-name=" + c.cfg.Name,
		"--cluster-signing-cert-file=" + p.Path("ca", "crt"),
		"--cluster-signing-key-file=" + p.Path("ca", "key"),
		// csrapproving (the built-in nodeclient/selfnodeclient approver) is
		// off: on a local cluster kelp is the only approver of node CSRs.
		"--controllers=*,bootstrapsigner,tokencleaner,-csrapproving",
		"--root-ca-file=" + p.Path("ca", "crt"),
		"--service-account-private-key-file=" + filepath.Join(p.Dir, "sa.key"),
		"--use-service-account-credentials=true",
		"--service-cluster-ip-range=" + ServiceCIDR,
		"--node-monitor-grace-period=" + c.cfg.NodeMonitorGracePeriod.String(),
		"--leader-elect=false",
		"--profiling=false",
		// The CSR signers share this client: the default 20 QPS makes a
		// hundred nodes joining at once wait seconds for their certificates,
		// and the ReplicaSet controller creating 30,000 pods minutes.
		"--kube-api-qps=" + strconv.Itoa(ControllerManagerQPS),
		"--kube-api-burst=" + strconv.Itoa(2*ControllerManagerQPS),
	}
}

// Limits of the local control plane's own clients and of the API server,
// raised over the upstream defaults so that a scale benchmark (1,000 nodes,
// 30,000 pods on one machine) measures kelp, not client-side throttling.
const (
	// SchedulerQPS is kube-scheduler's client QPS (burst twice that);
	// upstream 50 with bursts of 100 binds 30,000 pods in ten minutes.
	SchedulerQPS = 500
	// ControllerManagerQPS is kube-controller-manager's (burst twice that).
	ControllerManagerQPS = 300
	// APIServerMaxRequestsInflight and APIServerMaxMutatingInflight are the
	// API server's concurrency limits.
	APIServerMaxRequestsInflight = 800
	APIServerMaxMutatingInflight = 400
)

// schedulerConfig is kube-scheduler's --config: the client's QPS is read
// only from clientConnection there (its --kube-api-qps flag is ignored
// once a config file is given, and deprecated without one).
func schedulerConfig(kubeconfig string) string {
	return fmt.Sprintf(`apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
clientConnection:
  kubeconfig: %q
  qps: %d
  burst: %d
leaderElection:
  leaderElect: false
`, kubeconfig, SchedulerQPS, 2*SchedulerQPS)
}

func (c *Cluster) schedulerArgs() []string {
	kubeconfig := filepath.Join(c.cfg.Dir, "scheduler.kubeconfig")
	return []string{
		"--config=" + filepath.Join(c.cfg.Dir, "scheduler.yaml"),
		"--authentication-kubeconfig=" + kubeconfig,
		"--authorization-kubeconfig=" + kubeconfig,
		"--bind-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(c.ports.Scheduler),
		"--cert-dir=" + filepath.Join(c.cfg.Dir, "scheduler"),
		"--profiling=false",
	}
}

// waitReady polls ready until it succeeds, the process dies or ctx ends.
// The error carries the tail of the component's log.
func waitReady(ctx context.Context, p *process, ready func(context.Context) error) error {
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		attempt, cancel := context.WithTimeout(ctx, 5*time.Second)
		last = ready(attempt)
		cancel()
		if last == nil {
			p.log.Info("ready")
			return nil
		}
		if !p.running() {
			return fmt.Errorf("%s exited during start: %v\n---- last lines of %s ----\n%s", p.name, last, p.logPath, p.logTail(4096))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready: %v (%w)\n---- last lines of %s ----\n%s", p.name, last, ctx.Err(), p.logPath, p.logTail(4096))
		case <-tick.C:
		}
	}
}

// etcdReady checks etcd's /health with the API server's etcd client cert.
func (c *Cluster) etcdReady(ctx context.Context) error {
	client, err := c.tlsClient(c.pki.EtcdCA, c.pki.Leaves["apiserver-etcd-client"])
	if err != nil {
		return err
	}
	return probe(ctx, client, "https://127.0.0.1:"+strconv.Itoa(c.ports.EtcdClient)+"/health", `"health":"true"`)
}

// apiServerReady checks /readyz as the admin.
func (c *Cluster) apiServerReady(ctx context.Context) error {
	client, err := c.tlsClient(c.pki.CA, c.pki.Leaves["admin"])
	if err != nil {
		return err
	}
	return probe(ctx, client, c.APIServerURL()+"/readyz", "ok")
}

// healthzReady checks /healthz of a component's secure port. Those serve
// a self-signed certificate from their --cert-dir, so the probe cannot
// verify it; it sends nothing secret and talks to loopback only.
func (c *Cluster) healthzReady(port int) func(context.Context) error {
	client := &http.Client{Transport: &http.Transport{
		DisableKeepAlives: true,
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // loopback health probe, no credentials sent
	}}
	return func(ctx context.Context) error {
		return probe(ctx, client, "https://127.0.0.1:"+strconv.Itoa(port)+"/healthz", "ok")
	}
}

func (c *Cluster) tlsClient(ca, client keyPair) (*http.Client, error) {
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	return &http.Client{Transport: &http.Transport{DisableKeepAlives: true, TLSClientConfig: &tls.Config{
		RootCAs:      pool,
		Certificates: []tls.Certificate{{Certificate: [][]byte{client.Cert.Raw}, PrivateKey: client.Key, Leaf: client.Cert}},
	}}}, nil
}

func probe(ctx context.Context, client *http.Client, url, want string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}
