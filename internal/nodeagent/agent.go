package nodeagent

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"github.com/kelp-dev/kelp/internal/catalog"
	"github.com/kelp-dev/kelp/internal/userdata"
)

// Phase is where an agent is in its life.
type Phase string

// Phases, in order.
const (
	// PhasePending: created, not running yet.
	PhasePending Phase = "Pending"
	// PhaseJoining: proving the instance's identity to kelp's join
	// endpoint (identity mode) to get a bootstrap token.
	PhaseJoining Phase = "Joining"
	// PhaseBootstrapping: waiting for the client certificate (TLS bootstrap).
	PhaseBootstrapping Phase = "Bootstrapping"
	// PhaseRegistering: registering the Node.
	PhaseRegistering Phase = "Registering"
	// PhaseRunning: registered and holding its Lease.
	PhaseRunning Phase = "Running"
	// PhaseStopped: Run returned.
	PhaseStopped Phase = "Stopped"
)

// Status is a snapshot of an agent, for tests, benchmarks and the local
// cloud's instance view.
type Status struct {
	NodeName string
	Phase    Phase
	// Ready: the Node is registered and the Lease was renewed at least once.
	Ready bool
	// Serving: the serving certificate is issued and HTTPS is listening.
	Serving bool
	// ClientCertSerial and ServingCertSerial are hex serial numbers of the
	// certificates in use; empty before they are issued.
	ClientCertSerial   string
	ClientCertNotAfter time.Time
	ServingCertSerial  string
	// Pods is how many pods the agent reports running.
	Pods int
	// LastError is the most recent failure (a retry follows unless the
	// agent stopped), and LastErrorTime when it happened on the agent's
	// clock.
	LastError     error
	LastErrorTime time.Time
}

// Agent is one simulated kubelet. Create it with New and call Run once.
// Its methods are safe for concurrent use.
type Agent struct {
	tuning    Tuning
	facts     nodeFacts
	paths     paths
	clock     clock.WithTicker
	log       *slog.Logger
	retry     retrier
	api       apiServer
	bootstrap *rest.Config         // nil when there is no bootstrap kubeconfig
	join      *userdata.JoinConfig // set when an identity join comes first
	joiner    Joiner

	clientCert  *certManager
	servingCert *certManager
	transport   *nodeTransport
	pods        atomic.Pointer[podRunner]

	started     atomic.Bool
	ready       chan struct{}
	serving     chan struct{}
	readyOnce   sync.Once
	servingOnce sync.Once

	mu        sync.Mutex
	phase     Phase
	lastErr   error
	lastErrAt time.Time
}

// New reads the agent's inputs under cfg.Root (instance identity, node
// config, bootstrap kubeconfig) and validates them with cfg; the error
// lists every problem found. It does no network IO.
func New(cfg Config) (*Agent, error) {
	if cfg.Root == "" {
		return nil, errors.New("new node agent: root: must not be empty")
	}
	p := newPaths(cfg.Root)
	tuning := cfg.Tuning.withDefaults()
	id, idErr := ReadIdentity(cfg.Root)
	nc, ncErr := readNodeConfig(p.nodeConfig)
	bootstrap, api, joinCfg, apiErr := readServer(p)
	if err := errors.Join(tuning.validate(), idErr, ncErr, apiErr); err != nil {
		return nil, fmt.Errorf("new node agent in %s: %w", cfg.Root, err)
	}
	itype, err := catalog.Lookup(id.InstanceType)
	if err != nil { // validated already; kept for safety
		return nil, fmt.Errorf("new node agent in %s: %w", cfg.Root, err)
	}
	a := &Agent{
		tuning:    tuning,
		facts:     nodeFacts{ID: id, Pool: nc, Type: itype, Port: tuning.ServingPort},
		paths:     p,
		clock:     cfg.Clock,
		log:       cfg.Logger,
		api:       api,
		bootstrap: bootstrap,
		join:      joinCfg,
		joiner:    cfg.Join,
		ready:     make(chan struct{}),
		serving:   make(chan struct{}),
		phase:     PhasePending,
	}
	if a.clock == nil {
		a.clock = clock.RealClock{}
	}
	if a.log == nil {
		a.log = slog.Default()
	}
	a.log = a.log.With("node", id.PrivateDNSName)
	a.retry = retrier{clock: a.clock, log: a.log, record: a.recordError}
	name := id.PrivateDNSName
	a.clientCert = newCertManager(clientCertSpec(name, tuning.ClientCertLifetime, p.clientCert), a.clock, a.log, a.retry)
	a.servingCert = newCertManager(servingCertSpec(name, id.addr().AsSlice(), tuning.ServingCertLifetime, p.servingCert), a.clock, a.log, a.retry)
	a.transport = newNodeTransport(api, a.clientCert.current)
	a.clientCert.onRotate = func(_, _ *tls.Certificate) { a.transport.closeAll() }
	return a, nil
}

// readNodeConfig reads and validates the pool's node config.
func readNodeConfig(path string) (userdata.NodeConfig, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return userdata.NodeConfig{}, fmt.Errorf("read node config: %w", err)
	}
	nc, err := userdata.ParseNodeConfig(data)
	if err != nil {
		return userdata.NodeConfig{}, fmt.Errorf("%s: %w", path, err)
	}
	return nc, nil
}

// NodeName returns the node's name, its private DNS name.
func (a *Agent) NodeName() string { return a.facts.name() }

// Ready is closed once the Node is registered and its Lease renewed.
func (a *Agent) Ready() <-chan struct{} { return a.ready }

// Serving is closed once HTTPS serves with an issued serving certificate.
func (a *Agent) Serving() <-chan struct{} { return a.serving }

// Run runs the agent until ctx ends, then returns nil, leaving the Node and
// its Lease as they are, so the node goes NotReady like a stopped kubelet.
// It returns early with an error when the agent cannot join: its client
// CSR was denied (wrapping ErrCertificateDenied), its identity join was
// refused (a *join.Refusal from the Joiner), or it has neither a usable
// client certificate nor a bootstrap kubeconfig nor a join config. Every other
// failure is retried with jittered backoff and shows in Status. Run may be
// called once.
func (a *Agent) Run(ctx context.Context) error {
	if !a.started.CompareAndSwap(false, true) {
		return fmt.Errorf("run node agent %s: already started", a.NodeName())
	}
	defer a.setPhase(PhaseStopped)
	defer a.transport.closeAll()
	ctx = klog.NewContext(ctx, logr.FromSlogHandler(a.log.Handler()))

	if err := a.ensureClientCert(ctx); err != nil {
		return a.exit(ctx, err)
	}
	client, err := nodeClient(a.api, a.transport, a.tuning, a.userAgent())
	if err != nil {
		return a.exit(ctx, err)
	}
	a.setPhase(PhaseRegistering)
	node, err := a.register(ctx, client)
	if err != nil {
		return a.exit(ctx, err)
	}
	podCIDR, err := nodePodCIDR(a.tuning.PodCIDR, a.facts.ID.addr())
	if err != nil {
		return a.exit(ctx, err)
	}
	pods := newPodRunner(a, client, podCIDR)
	a.pods.Store(pods)

	var wg sync.WaitGroup
	wg.Go(func() { a.clientCert.run(ctx, client) })
	wg.Go(func() { a.leaseLoop(ctx, client, node) })
	wg.Go(func() { a.statusLoop(ctx, client, node) })
	wg.Go(func() { pods.run(ctx) })
	wg.Go(func() { a.serve(ctx, client) })
	wg.Wait()
	a.log.Info("node agent stopped")
	return nil
}

// exit is Run's result for err: nil when ctx ended (a normal stop).
func (a *Agent) exit(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		a.log.Info("node agent stopped")
		return nil
	}
	a.recordError(err)
	return fmt.Errorf("run node agent %s: %w", a.NodeName(), err)
}

// ensureClientCert reuses the saved client certificate when it is still
// valid for this node, and otherwise performs the TLS bootstrap.
func (a *Agent) ensureClientCert(ctx context.Context) error {
	if a.clientCert.loadFromDisk() {
		return writeNodeKubeconfig(a.paths.kubeconfig, a.api, a.paths.clientCert)
	}
	if a.bootstrap == nil && a.join != nil {
		if err := a.identityJoin(ctx); err != nil {
			return err
		}
	}
	if a.bootstrap == nil {
		return fmt.Errorf("tls bootstrap: no valid client certificate at %s and no bootstrap kubeconfig at %s",
			a.paths.clientCert, a.paths.bootstrapKubeconfig)
	}
	a.setPhase(PhaseBootstrapping)
	client, hc, err := bootstrapClient(a.bootstrap, a.tuning, a.userAgent())
	if err != nil {
		return fmt.Errorf("tls bootstrap: %w", err)
	}
	defer utilnet.CloseIdleConnectionsFor(hc.Transport)
	key, err := loadOrCreateKey(a.paths.bootstrapKey)
	if err != nil {
		return fmt.Errorf("tls bootstrap: %w", err)
	}
	spec := a.clientCert.spec
	name, err := csrName(key, spec)
	if err != nil {
		return fmt.Errorf("tls bootstrap: %w", err)
	}
	var got issued
	err = a.retry.do(ctx, "tls bootstrap", backoff(time.Second, 30*time.Second), func(ctx context.Context) error {
		var err error
		got, err = requestCert(ctx, client, spec, key, name, a.log)
		return err
	})
	if err != nil {
		return fmt.Errorf("tls bootstrap: %w", err)
	}
	a.clientCert.install(got)
	if err := os.Remove(a.paths.bootstrapKey); err != nil && !errors.Is(err, os.ErrNotExist) {
		a.log.Warn("remove bootstrap key", "err", err)
	}
	return writeNodeKubeconfig(a.paths.kubeconfig, a.api, a.paths.clientCert)
}

func (a *Agent) userAgent() string {
	return "kelp-node/" + KubeletVersion + " (" + a.NodeName() + ")"
}

// Status returns a snapshot of the agent.
func (a *Agent) Status() Status {
	a.mu.Lock()
	s := Status{NodeName: a.NodeName(), Phase: a.phase, LastError: a.lastErr, LastErrorTime: a.lastErrAt}
	a.mu.Unlock()
	s.Ready = closed(a.ready)
	s.Serving = closed(a.serving)
	if c := a.clientCert.current(); c != nil {
		s.ClientCertSerial, s.ClientCertNotAfter = serial(c), c.Leaf.NotAfter
	}
	s.ServingCertSerial = serial(a.servingCert.current())
	if p := a.pods.Load(); p != nil {
		s.Pods = int(p.running.Load())
	}
	return s
}

func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func (a *Agent) setPhase(p Phase) {
	a.mu.Lock()
	a.phase = p
	a.mu.Unlock()
}

func (a *Agent) recordError(err error) {
	a.mu.Lock()
	a.lastErr, a.lastErrAt = err, a.clock.Now()
	a.mu.Unlock()
}

func (a *Agent) markReady() {
	a.readyOnce.Do(func() {
		a.setPhase(PhaseRunning)
		close(a.ready)
		a.log.Info("node ready")
	})
}

func (a *Agent) markServing() { a.servingOnce.Do(func() { close(a.serving) }) }
