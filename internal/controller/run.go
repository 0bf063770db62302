package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	certlisters "k8s.io/client-go/listers/certificates/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"

	"github.com/kelp-dev/kelp/internal/approver"
	"github.com/kelp-dev/kelp/internal/autoscaler/loop"
	"github.com/kelp-dev/kelp/internal/cachetrim"
	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/competingapprovers"
	"github.com/kelp-dev/kelp/internal/joincleanup"
	"github.com/kelp-dev/kelp/internal/nodelifecycle"
	"github.com/kelp-dev/kelp/internal/termination"
	"github.com/kelp-dev/kelp/internal/terminationctl"
	"github.com/kelp-dev/kelp/internal/tokenrotation"
)

// approverWorkers decide CSRs in parallel: each decision waits mostly on
// the cloud and the API server, so a burst of joins needs many, and the
// more wait at once, the more the approver's cloud lookups and record
// writes are batched (BenchmarkApproverBurst). Flood control admits Nodes
// + --flood-headroom joins at a time anyway.
const approverWorkers = 64

// Options configure the controller process. Validate once, then Run.
type Options struct {
	// ClusterName drives tags and token groups.
	ClusterName string
	// ProbeAddr serves /metrics, /healthz and /readyz ("" disables).
	ProbeAddr string
	// Profiling also serves Go's profiles on ProbeAddr, under /debug/pprof/.
	Profiling bool
	// LeaderElect runs the controllers only while holding the Lease
	// kube-system/kelp-controller.
	LeaderElect bool
	// NodeLifecyclePeriod is the node lifecycle refresh; default 10s.
	NodeLifecyclePeriod time.Duration
	// Approve is auto (the policy decides) or manual (humans do).
	Approve approver.Mode
	// Approver tunes the CSR policy.
	Approver approver.Config
	// TokenTTL is the lifetime of the bootstrap tokens rotated into pool
	// launch templates; default 24h. Zero Pools in Deps disables rotation.
	TokenTTL time.Duration
	// TokenRotationPeriod is how often pool tokens are checked; default 1m.
	TokenRotationPeriod time.Duration
	// AllowCompetingApprovers starts in auto approve mode even when
	// kube-controller-manager's csrapproving would approve kelp's joins
	// (internal/competingapprovers); the checks still report it.
	AllowCompetingApprovers bool
	// Termination bounds the drains of instances held on kelp's drain hook
	// (internal/terminationctl); TerminationPeriod is how often they are
	// looked for, default 5s.
	Termination       termination.Options
	TerminationPeriod time.Duration
	// InterruptionQueue is the URL of the SQS queue that EventBridge fills
	// with interruption and lifecycle events (internal/interruption); ""
	// finds departing instances by polling the groups only.
	InterruptionQueue string
	// Autoscaler configures the autoscaler; nil runs none (another
	// autoscaler, such as the upstream cluster-autoscaler, may drive the
	// pools while kelp approves and cleans up).
	Autoscaler *loop.Options
	// KubeAPI limits the rate of the controller's Kubernetes client; the
	// roots apply it when they build the client.
	KubeAPI ClientLimits
	// Health bounds what /healthz tolerates of the leader's loops.
	Health HealthOptions
	// Join serves the identity join endpoint on every replica; nil: off.
	Join *JoinOptions
	// WebAddr serves the live web view on every replica (package
	// webview); "" disables it. Off loopback it asks for a bearer token.
	WebAddr string
}

// Validate reports every problem at once.
func (o Options) Validate() error {
	var errs []error
	if o.ClusterName == "" {
		errs = append(errs, errors.New("cluster name: required"))
	}
	if o.TokenTTL < 0 || (o.TokenTTL > 0 && o.TokenTTL < time.Minute) {
		errs = append(errs, fmt.Errorf("token ttl %s: must be at least 1m", o.TokenTTL))
	}
	if o.TokenTTL > 0 && o.TokenRotationPeriod > 0 && o.TokenTTL < 3*o.TokenRotationPeriod {
		errs = append(errs, fmt.Errorf("token ttl %s: must be at least three rotation periods (%s)", o.TokenTTL, o.TokenRotationPeriod))
	}
	if o.NodeLifecyclePeriod < 0 {
		errs = append(errs, fmt.Errorf("node lifecycle period %s: must not be negative", o.NodeLifecyclePeriod))
	}
	if o.TerminationPeriod < 0 {
		errs = append(errs, fmt.Errorf("termination period %s: must not be negative", o.TerminationPeriod))
	}
	if err := o.Termination.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("termination: %w", err))
	}
	switch o.Approve {
	case approver.ModeAuto, approver.ModeManual, approver.ModeOff:
	default:
		errs = append(errs, fmt.Errorf("approve %q: want auto, manual or off", o.Approve))
	}
	a := o.Approver
	a.ClusterName = o.ClusterName
	if err := a.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("approver: %w", err))
	}
	if o.Autoscaler != nil {
		if err := o.Autoscaler.WithDefaults().Validate(); err != nil {
			errs = append(errs, fmt.Errorf("autoscaler: %w", err))
		}
	}
	if err := o.KubeAPI.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := o.Health.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("health: %w", err))
	}
	if o.ProbeAddr != "" {
		if _, _, err := net.SplitHostPort(o.ProbeAddr); err != nil {
			errs = append(errs, fmt.Errorf("probe address %q: %w", o.ProbeAddr, err))
		}
	}
	if o.Join != nil {
		if err := o.Join.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if o.WebAddr != "" {
		if _, _, err := net.SplitHostPort(o.WebAddr); err != nil {
			errs = append(errs, fmt.Errorf("web address %q: %w", o.WebAddr, err))
		}
	}
	return errors.Join(errs...)
}

// Deps are what the controller runs against.
type Deps struct {
	Client kubernetes.Interface
	// EventClient sends the Events, with a rate limit of its own so that a
	// backlog of events (one per pending pod in a large scale-up) never
	// delays the work behind Client's; Client when nil. kube-scheduler
	// keeps its events apart the same way.
	EventClient kubernetes.Interface
	// Cloud is the provider every controller reads through.
	Cloud cloud.Provider
	// Scaler changes the pools; required when the autoscaler runs.
	Scaler cloud.Scaler
	// Pools, when set, get their bootstrap tokens rotated.
	Pools  tokenrotation.Pools
	Logger *slog.Logger
	// Registry receives the metrics; a new one when nil.
	Registry *prometheus.Registry
	// InterruptionQueue builds the consumer of the interruption queue at
	// url (Options.InterruptionQueue), handing every Notice to handler
	// (the drain controller's Notify) and registering its metrics with
	// reg; required when that option is set. An *interruption.Queue is
	// such a consumer.
	InterruptionQueue func(url string, handler func(context.Context, termination.Notice) error, reg prometheus.Registerer) (QueueConsumer, error)
	// JoinSTSClient sends the join endpoint's proofs to STS;
	// http.DefaultClient when nil.
	JoinSTSClient *http.Client
}

// QueueConsumer consumes the interruption queue until ctx ends.
type QueueConsumer interface {
	Run(ctx context.Context) error
}

// Run runs the controllers until ctx ends.
func Run(ctx context.Context, o Options, d Deps) error {
	if err := o.Validate(); err != nil {
		return fmt.Errorf("invalid controller options: %w", err)
	}
	if o.Autoscaler != nil && d.Scaler == nil {
		return errors.New("the autoscaler needs a cloud scaler")
	}
	if o.InterruptionQueue != "" && d.InterruptionQueue == nil {
		return fmt.Errorf("interruption queue %s: this controller has no queue consumer", o.InterruptionQueue)
	}
	if o.NodeLifecyclePeriod == 0 {
		o.NodeLifecyclePeriod = 10 * time.Second
	}
	if o.TokenTTL == 0 {
		o.TokenTTL = 24 * time.Hour
	}
	if o.TokenRotationPeriod == 0 {
		o.TokenRotationPeriod = time.Minute
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.Registry == nil {
		d.Registry = prometheus.NewRegistry()
		d.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	rivals, err := startCompetingApprovers(ctx, o, d)
	if err != nil {
		return err
	}
	if o.Join != nil {
		stop, err := serveJoin(ctx, o, d)
		if err != nil {
			return err
		}
		defer stop()
	}
	replica := newReplicaState(o, clock.RealClock{}, d.Registry)
	if o.ProbeAddr != "" {
		stop, err := serveProbes(o.ProbeAddr, d.Registry, replica, o.Profiling)
		if err != nil {
			return err
		}
		defer stop()
	}
	if o.WebAddr != "" {
		if err := serveWeb(ctx, o, d, replica); err != nil {
			return err
		}
	}
	run := func(ctx context.Context) {
		replica.startedLeading()
		defer replica.stoppedLeading()
		runControllers(ctx, o, d, rivals, replica)
	}
	if !o.LeaderElect {
		run(ctx)
		return nil
	}
	return runWithLeaderElection(ctx, d, run)
}

func runControllers(ctx context.Context, o Options, d Deps, rivals *competingapprovers.Monitor, replica *replicaState) {
	// Every controller reads the same trimmed caches (package cachetrim).
	factory := informers.NewSharedInformerFactoryWithOptions(d.Client, 0, informers.WithTransform(cachetrim.Transform))
	// The broadcaster outlives ctx until Shutdown, so events of the last
	// decisions are still sent.
	broadcaster := record.NewBroadcaster(record.WithContext(context.WithoutCancel(ctx)))
	events := d.EventClient
	if events == nil {
		events = d.Client
	}
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: events.CoreV1().Events("")})
	defer broadcaster.Shutdown()
	recorder := broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "kelp-controller"})
	metrics := NewMetrics(d.Registry)
	// Failed launches are level-triggered (cloud.NodeGroup.Errors): every
	// controller refreshes the one provider, and the autoscaler keeps its
	// own cursor.
	nodes := factory.Core().V1().Nodes()
	lifecycle := &nodelifecycle.Controller{
		Client: d.Client, Nodes: nodes.Lister(), Cloud: d.Cloud, Recorder: recorder,
		Logger: d.Logger.With("controller", "node-lifecycle"), Metrics: nodelifecycle.NewMetrics(d.Registry), Period: o.NodeLifecyclePeriod,
	}
	var drains *terminationctl.Controller
	if actions, ok := d.Cloud.(terminationctl.Cloud); ok {
		drains = &terminationctl.Controller{
			Client: d.Client, Nodes: nodes.Lister(), Cloud: actions, Recorder: recorder, Clock: clock.RealClock{},
			Logger: d.Logger.With("controller", "termination"), Metrics: terminationctl.NewMetrics(d.Registry),
			Options: o.Termination, Period: o.TerminationPeriod,
		}
		if hooks, ok := d.Cloud.(terminationctl.HookReader); ok {
			drains.Hooks = hooks
		}
	} else {
		d.Logger.Warn("the cloud has no lifecycle actions: instances held on kelp's drain hook wait for its timeout")
	}
	runApprover := newApprover(o, d, factory, recorder, replica)
	scaler := newAutoscaler(o, d, factory, recorder, replica)
	var wg sync.WaitGroup
	if runApprover != nil {
		wg.Go(func() { runApprover(ctx) })
	}
	if rivals != nil {
		wg.Go(func() { rivals.Run(ctx, d.Client, recorder) })
	}
	var synced atomic.Bool
	replica.addSynced("shared informers", synced.Load)
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	synced.Store(ctx.Err() == nil)
	wg.Go(func() { lifecycle.Run(ctx) })
	if drains != nil {
		wg.Go(func() { drains.Run(ctx) })
		startInterruptionQueue(ctx, &wg, o, d, drains)
	}
	if scaler != nil {
		wg.Go(func() { scaler.Run(ctx) })
	}
	startTokenControllers(ctx, &wg, o, d, metrics, nodes.Lister(), recorder)
	d.Logger.Info("controllers running", "cluster", o.ClusterName)
	<-ctx.Done()
	wg.Wait()
	factory.Shutdown()
}

// startTokenControllers starts the rotation of pool tokens, when there
// are pools, and the cleanup after identity joins, when the join endpoint
// is served.
func startTokenControllers(ctx context.Context, wg *sync.WaitGroup, o Options, d Deps, metrics *Metrics, nodes corelisters.NodeLister, recorder record.EventRecorder) {
	joinWindow := o.Approver.WithDefaults().JoinWindow
	if d.Pools != nil {
		rotator := &tokenrotation.Rotator{
			Client: d.Client, Pools: d.Pools, TTL: o.TokenTTL, JoinWindow: joinWindow,
			Clock: clock.RealClock{}, Logger: d.Logger.With("controller", "token-rotation"),
			Rotations: metrics.TokenRotations, Period: o.TokenRotationPeriod,
		}
		wg.Go(func() { rotator.Run(ctx) })
	}
	if o.Join != nil {
		cleaner := &joincleanup.Cleaner{
			Client: d.Client, Nodes: nodes, Recorder: recorder, Clock: clock.RealClock{},
			Logger: d.Logger.With("controller", "join-cleanup"), Actions: metrics.JoinCleanups,
			Period: o.Join.CleanupPeriod, JoinWindow: joinWindow,
		}
		if cleaner.Period == 0 {
			cleaner.Period = joincleanup.DefaultPeriod
		}
		wg.Go(func() { cleaner.Run(ctx) })
	}
}

// newAutoscaler builds the autoscaler on the factory's informers, and
// hands it to the health checks; nil when none runs.
func newAutoscaler(o Options, d Deps, factory informers.SharedInformerFactory, recorder record.EventRecorder, replica *replicaState) *loop.Autoscaler {
	if o.Autoscaler == nil {
		return nil
	}
	scaler, err := loop.New(*o.Autoscaler, loop.Deps{
		Client: d.Client, Informers: factory, Groups: d.Cloud, Scaler: d.Scaler,
		Recorder: recorder, Metrics: loop.NewMetrics(d.Registry), Logger: d.Logger.With("controller", "autoscaler"),
		Registry: d.Registry,
	})
	if err != nil { // validated before; a missing Scaler is a wiring bug
		d.Logger.Error("autoscaler not started: /healthz fails once --max-inactivity passes", "err", err)
		return nil
	}
	replica.setAutoscaler(scaler)
	return scaler
}

// startInterruptionQueue consumes the interruption queue, when there is
// one, into the drain controller.
func startInterruptionQueue(ctx context.Context, wg *sync.WaitGroup, o Options, d Deps, drains *terminationctl.Controller) {
	if o.InterruptionQueue == "" {
		return
	}
	q, err := d.InterruptionQueue(o.InterruptionQueue, drains.Notify, d.Registry)
	if err != nil {
		d.Logger.Error("interruption queue not consumed: departing instances are found by polling the groups only", "queue", o.InterruptionQueue, "err", err)
		return
	}
	wg.Go(func() {
		if err := q.Run(ctx); err != nil && ctx.Err() == nil {
			d.Logger.Error("interruption queue stopped", "queue", o.InterruptionQueue, "err", err)
		}
	})
	d.Logger.Info("consuming the interruption queue", "queue", o.InterruptionQueue)
}

func approverSources(client kubernetes.Interface, nodes corelisters.NodeLister, csrs certlisters.CertificateSigningRequestLister, provider approver.Cloud, joinWindow time.Duration) approver.Sources {
	// Remember approvals well past the join window, the only span in which
	// a replay could pass the launch-time check.
	retention := max(approver.RecordRetention, 2*joinWindow)
	return approver.Sources{
		Node: func(name string) (*corev1.Node, error) {
			n, err := nodes.Get(name)
			if apierrors.IsNotFound(err) {
				return nil, nil
			}
			return n, err
		},
		CSRs: func() ([]*certificatesv1.CertificateSigningRequest, error) { return csrs.List(labels.Everything()) },
		NodeCount: func() (int, error) {
			all, err := nodes.List(labels.Everything())
			return len(all), err
		},
		Cloud:   approver.NewBoundedCloud(provider, clock.RealClock{}),
		Record:  &approver.ApprovalRecord{Client: client, Retention: retention},
		Screens: approver.NewScreenCache(),
	}
}

// csrInformers are the approver's CSR informers: one factory per kubelet
// signer, each listing and watching only that signer's CSRs (a field
// selector the API server applies) and trimming what it caches
// (approver.TrimDecided), so CSRs of other signers never reach kelp and
// decided CSRs cost no more than their metadata and certificate.
type csrInformers struct {
	factories []informers.SharedInformerFactory
	listers   []certlisters.CertificateSigningRequestLister
	cache     approver.CSRCache
}

func newCSRInformers(client kubernetes.Interface) *csrInformers {
	c := &csrInformers{}
	for _, signer := range approver.Signers {
		selector := approver.SignerSelector(signer)
		f := informers.NewSharedInformerFactoryWithOptions(client, 0,
			informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.FieldSelector = selector }),
			informers.WithTransform(approver.TrimDecided))
		csrs := f.Certificates().V1().CertificateSigningRequests()
		c.factories = append(c.factories, f)
		c.listers = append(c.listers, csrs.Lister())
		c.cache.Informers = append(c.cache.Informers, csrs.Informer())
	}
	c.cache.Get = c.get
	return c
}

// get reads a CSR of either signer by name.
func (c *csrInformers) get(name string) (*certificatesv1.CertificateSigningRequest, error) {
	var err error
	for _, l := range c.listers {
		var csr *certificatesv1.CertificateSigningRequest
		if csr, err = l.Get(name); err == nil {
			return csr, nil
		}
		if !apierrors.IsNotFound(err) {
			return nil, err
		}
	}
	return nil, err
}

// clientCSRs is the lister of kubelet client CSRs (the first signer).
func (c *csrInformers) clientCSRs() certlisters.CertificateSigningRequestLister { return c.listers[0] }

// newApprover builds the CSR approver on its own CSR informers and the
// factory's Node informer, and returns the function that runs it, or nil
// with --approve off: then no CSR informer is made, so kelp does not even
// watch CSRs.
func newApprover(o Options, d Deps, factory informers.SharedInformerFactory, recorder record.EventRecorder, replica *replicaState) func(context.Context) {
	if o.Approve == approver.ModeOff {
		d.Logger.Info("csr approver off: kelp does not watch CSRs")
		return nil
	}
	nodes := factory.Core().V1().Nodes()
	csrs := newCSRInformers(d.Client)
	config := o.Approver
	config.ClusterName = o.ClusterName
	config = config.WithDefaults()
	c := &approver.Controller{
		Client: d.Client, Sources: approverSources(d.Client, nodes.Lister(), csrs.clientCSRs(), d.Cloud, config.JoinWindow),
		Recorder: recorder, Metrics: approver.NewMetrics(d.Registry), Clock: clock.RealClock{},
		Config: config, Mode: o.Approve, Logger: d.Logger.With("controller", "csr-approver"), Instances: d.Cloud,
	}
	synced := nodes.Informer().HasSynced
	replica.setApprover(c)
	for i, informer := range csrs.cache.Informers {
		replica.addSynced("csrs of "+approver.Signers[i], informer.HasSynced)
	}
	return func(ctx context.Context) {
		for _, f := range csrs.factories {
			f.Start(ctx.Done())
		}
		defer func() {
			for _, f := range csrs.factories {
				f.Shutdown()
			}
		}()
		if err := c.Run(ctx, csrs.cache, approverWorkers, synced); err != nil && ctx.Err() == nil {
			d.Logger.Error("csr approver stopped", "err", err)
		}
	}
}
