package approver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
)

// Mode says whether the controller approves by itself.
type Mode string

const (
	// ModeAuto approves and denies with the policy.
	ModeAuto Mode = "auto"
	// ModeManual leaves every CSR to a human (`kelp csr approve`); the
	// controller only counts what it would have decided.
	ModeManual Mode = "manual"
	// ModeOff runs no approver: kelp does not watch CSRs at all (another
	// approver, or a human with kubectl, decides them).
	ModeOff Mode = "off"
)

// Metrics count every decision.
type Metrics struct {
	Decisions *prometheus.CounterVec
	Latency   *prometheus.HistogramVec
	Pending   prometheus.Gauge
}

// NewMetrics registers the approver's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kelp_csr_decisions_total",
			Help: "CSR decisions by signer, decision (approve, deny, pending) and reason.",
		}, []string{"signer", "decision", "reason"}),
		Latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "kelp_csr_decision_latency_seconds",
			Help:    "Time from CSR creation to its approval or denial.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 16),
		}, []string{"signer", "decision"}),
		Pending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "kelp_csr_pending_new_node",
			Help: "Pending new-node CSRs; above nodes+100, new-node approvals pause (reason FloodControl).",
		}),
	}
	reg.MustRegister(m.Decisions, m.Latency, m.Pending)
	return m
}

// Controller decides kubelet CSRs with Decide, one decision per CSR per
// state, and acts: approval (after recording it), denial, or a timed retry.
type Controller struct {
	Client   kubernetes.Interface
	Sources  Sources
	Recorder record.EventRecorder
	Metrics  *Metrics
	Clock    clock.Clock
	Config   Config
	Mode     Mode
	Logger   *slog.Logger

	queue       workqueue.TypedRateLimitingInterface[string]
	lastPending sync.Map // csr name -> reason of the last Pending event
	getCSR      func(name string) (*certificatesv1.CertificateSigningRequest, error)
}

// Run watches CSRs through informer and decides them with workers until
// ctx ends. informer must be the shared CSR informer (the caller starts
// the factory); get reads a CSR from its lister. No CSR is decided before
// informer and every cache in synced (the Nodes the facts come from) have
// synced: an empty Node cache would deny every renewal.
func (c *Controller) Run(ctx context.Context, informer cache.SharedIndexInformer, get func(string) (*certificatesv1.CertificateSigningRequest, error), workers int, synced ...cache.InformerSynced) error {
	if err := c.Sources.validate(); err != nil {
		return err
	}
	c.getCSR = get
	c.queue = workqueue.NewTypedRateLimitingQueueWithConfig(
		workqueue.NewTypedItemExponentialFailureRateLimiter[string](200*time.Millisecond, time.Minute),
		workqueue.TypedRateLimitingQueueConfig[string]{Name: "csr-approver"})
	defer c.queue.ShutDown()
	enqueue := func(obj any) {
		if csr, ok := obj.(*certificatesv1.CertificateSigningRequest); ok {
			c.queue.Add(csr.Name)
		}
	}
	if _, err := informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, obj any) { enqueue(obj) },
		DeleteFunc: func(obj any) {
			if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = tomb.Obj
			}
			if csr, ok := obj.(*certificatesv1.CertificateSigningRequest); ok {
				c.lastPending.Delete(csr.Name)
			}
		},
	}); err != nil {
		return fmt.Errorf("watch csrs: %w", err)
	}
	if !cache.WaitForCacheSync(ctx.Done(), append(synced, informer.HasSynced)...) {
		return ctx.Err()
	}
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for c.processNext(ctx) {
			}
		})
	}
	<-ctx.Done()
	c.queue.ShutDown()
	wg.Wait()
	return nil
}

func (c *Controller) processNext(ctx context.Context) bool {
	name, quit := c.queue.Get()
	if quit {
		return false
	}
	defer c.queue.Done(name)
	retryAfter, err := c.sync(ctx, name)
	switch {
	case err != nil:
		c.Logger.Warn("csr sync failed; retrying", "csr", name, "err", err)
		c.queue.AddRateLimited(name)
	case retryAfter > 0:
		c.queue.Forget(name)
		c.queue.AddAfter(name, retryAfter)
	default:
		c.queue.Forget(name)
	}
	return true
}

// sync decides one CSR. It is idempotent: a decided or missing CSR is
// left alone. It returns when to look again for a pending CSR.
func (c *Controller) sync(ctx context.Context, name string) (time.Duration, error) {
	csr, err := c.getCSR(name)
	if apierrors.IsNotFound(err) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("get csr %s: %w", name, err)
	}
	if ConditionOf(csr) != Pending || Classify(csr) == KindOther {
		return 0, nil
	}
	facts, err := c.Sources.Gather(ctx, csr, c.Clock.Now(), c.Config)
	if err != nil {
		return 0, err
	}
	c.Metrics.Pending.Set(float64(facts.PendingNodeCSRs))
	v := Decide(facts)
	if c.Mode == ModeManual {
		// Count what the policy would have decided, once per state.
		if prev, _ := c.lastPending.Swap(csr.Name, "manual/"+v.Reason); prev != "manual/"+v.Reason {
			c.Metrics.Decisions.WithLabelValues(csr.Spec.SignerName, "manual-"+strings.ToLower(string(v.Action)), v.Reason).Inc()
		}
		return 0, nil
	}
	return c.act(ctx, csr, v)
}

// act carries out a verdict.
func (c *Controller) act(ctx context.Context, csr *certificatesv1.CertificateSigningRequest, v Verdict) (time.Duration, error) {
	signer := csr.Spec.SignerName
	log := c.Logger.With("csr", csr.Name, "node", v.NodeName, "kind", v.Kind, "instance", v.InstanceID)
	if v.Action == ActionPending {
		if prev, _ := c.lastPending.Swap(csr.Name, v.Reason); prev != v.Reason {
			c.Recorder.Event(csr, corev1.EventTypeNormal, "CSRPending", v.Message)
			c.Metrics.Decisions.WithLabelValues(signer, "pending", v.Reason).Inc()
			log.Info("csr pending", "reason", v.Reason, "message", v.Message)
		}
		return max(v.RetryAfter, time.Second), nil
	}
	d, ok := v.Decision()
	if !ok {
		return 0, nil // ActionIgnore
	}
	if d.Approve && v.Kind == KindNewNode {
		// Record first: a crash after this can only refuse a replay.
		err := c.Sources.Record.Add(ctx, v.InstanceID, Approval{CSRName: csr.Name, CSRUID: csr.UID, At: c.Clock.Now()}, c.Clock.Now())
		if errors.Is(err, ErrAlreadyRecorded) {
			// Another CSR for this instance won the race: decide again
			// with the record that now holds it.
			log.Info("another CSR was approved for this instance first; deciding again")
			return time.Millisecond, nil
		}
		if err != nil {
			return 0, err
		}
	}
	decision, eventType, event := "approve", corev1.EventTypeNormal, "CSRApproved"
	if !d.Approve {
		decision, eventType, event = "deny", corev1.EventTypeWarning, "CSRDenied"
	}
	if err := d.write(ctx, c.Client, csr, c.Clock.Now()); err != nil {
		if apierrors.IsNotFound(err) {
			return 0, nil
		}
		return 0, fmt.Errorf("%s csr %s: %w", decision, csr.Name, err)
	}
	c.lastPending.Delete(csr.Name)
	c.Recorder.Event(csr, eventType, event, v.Message)
	c.Metrics.Decisions.WithLabelValues(signer, decision, v.Reason).Inc()
	c.Metrics.Latency.WithLabelValues(signer, decision).Observe(c.Clock.Since(csr.CreationTimestamp.Time).Seconds())
	log.Info("csr decided", "decision", decision, "reason", v.Reason, "message", v.Message)
	return 0, nil
}
