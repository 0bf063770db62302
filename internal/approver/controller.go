package approver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

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

// Controller decides kubelet CSRs with Decide, one decision per CSR per
// state, and acts: approval (after recording it), denial, or a timed retry.
// It also records the certificates issued through the client CSRs it
// approved, collects the record's garbage (record_gc.go), and deletes the
// CSRs it denied as contested joins once their grace has passed
// (contested.go), so their kubelets can ask again.
type Controller struct {
	Client   kubernetes.Interface
	Sources  Sources
	Recorder record.EventRecorder
	Metrics  *Metrics
	Clock    clock.Clock
	Config   Config
	Mode     Mode
	Logger   *slog.Logger
	// Instances, when set, is asked by the record's garbage collection
	// whether recorded instances still live; nil keeps entries until
	// their certificates expire.
	Instances InstanceGetter
	// ContestedGrace is how long after a ReasonContestedJoin denial the
	// denied CSR is deleted; zero means ContestedDeleteGrace.
	ContestedGrace time.Duration

	queue       workqueue.TypedRateLimitingInterface[string]
	lastPending sync.Map // csr name -> reason of the last Pending event
	denials     denyLimiter
	contested   sync.Map // csr name -> UID of a pending CSR on the other side of a contested join
	// decided holds csr name -> UID of the CSRs this controller wrote a
	// decision on that its cache may still show pending: they are not
	// decided again on a stale view (whose approval would record the
	// instance for a CSR already denied).
	decided sync.Map
	turns   waitingTurns
	getCSR  func(name string) (*certificatesv1.CertificateSigningRequest, error)
	// queued holds csr name -> when a pending CSR was queued, until a
	// worker takes it (Metrics.QueueWait).
	queued sync.Map
}

// CSRCache is where the controller reads CSRs: the informers it watches
// (one per kubelet signer, see [TrimDecided]) and the function that reads
// one CSR by name from their listers.
type CSRCache struct {
	Informers []cache.SharedIndexInformer
	Get       func(name string) (*certificatesv1.CertificateSigningRequest, error)
}

// Run watches CSRs through csrs and decides them with workers until ctx
// ends. The caller starts the informers. No CSR is decided before every
// informer and every cache in synced (the Nodes the facts come from) have
// synced: an empty Node cache would deny every renewal.
func (c *Controller) Run(ctx context.Context, csrs CSRCache, workers int, synced ...cache.InformerSynced) error {
	if err := c.Sources.validate(); err != nil {
		return err
	}
	c.getCSR = csrs.Get
	c.queue = workqueue.NewTypedRateLimitingQueueWithConfig(
		workqueue.NewTypedItemExponentialFailureRateLimiter[string](200*time.Millisecond, time.Minute),
		workqueue.TypedRateLimitingQueueConfig[string]{Name: "csr-approver"})
	defer c.queue.ShutDown()
	enqueue := func(obj any) {
		if csr, ok := obj.(*certificatesv1.CertificateSigningRequest); ok {
			if ConditionOf(csr) == Pending && Classify(csr) != KindOther {
				c.enqueue(csr.Name)
			} else {
				c.queue.Add(csr.Name)
			}
		}
	}
	handler := cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, obj any) { enqueue(obj) },
		DeleteFunc: func(obj any) {
			if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = tomb.Obj
			}
			if csr, ok := obj.(*certificatesv1.CertificateSigningRequest); ok {
				c.forget(csr)
				c.decided.CompareAndDelete(csr.Name, csr.UID)
			}
		},
	}
	for _, informer := range csrs.Informers {
		if _, err := informer.AddEventHandler(handler); err != nil {
			return fmt.Errorf("watch csrs: %w", err)
		}
		synced = append(synced, informer.HasSynced)
	}
	if !cache.WaitForCacheSync(ctx.Done(), synced...) {
		return ctx.Err()
	}
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for c.processNext(ctx) {
			}
		})
	}
	wg.Go(func() { c.collectRecord(ctx) })
	<-ctx.Done()
	c.queue.ShutDown()
	wg.Wait()
	return nil
}

// forget drops what the controller keeps about a CSR decided or deleted.
// A new-node CSR decided or deleted frees a place in flood control: the
// oldest CSRs waiting their turn are decided again now.
func (c *Controller) forget(csr *certificatesv1.CertificateSigningRequest) {
	c.lastPending.Delete(csr.Name)
	c.denials.forget(csr.Name)
	c.contested.Delete(csr.Name)
	if c.Sources.Screens != nil {
		c.Sources.Screens.Forget(csr.UID)
	}
	c.turns.done(csr.Name)
	if Classify(csr) == KindNewNode && c.queue != nil {
		for _, name := range c.turns.next(turnsPerDecision) {
			c.enqueue(name)
		}
	}
}

// OldestQueued returns when the CSR that has waited longest in the queue
// for a worker was queued, zero when none waits. Timed retries do not
// count: a CSR is waiting from the event that queued it until a worker
// takes it. The controller's /healthz reads it: a queue whose oldest CSR
// grows old means the workers are stuck.
func (c *Controller) OldestQueued() time.Time {
	var oldest time.Time
	c.queued.Range(func(_, v any) bool {
		if at := v.(time.Time); oldest.IsZero() || at.Before(oldest) {
			oldest = at
		}
		return true
	})
	return oldest
}

// enqueue queues a pending CSR, timing its wait (Metrics.QueueWait).
func (c *Controller) enqueue(name string) {
	c.queued.LoadOrStore(name, c.Clock.Now())
	c.queue.Add(name)
}

func (c *Controller) processNext(ctx context.Context) bool {
	name, quit := c.queue.Get()
	if quit {
		return false
	}
	defer c.queue.Done(name)
	if at, ok := c.queued.LoadAndDelete(name); ok {
		c.Metrics.QueueWait.Observe(c.Clock.Since(at.(time.Time)).Seconds())
	}
	retryAfter, err := c.sync(ctx, name)
	switch {
	case err != nil:
		c.Logger.Warn("csr sync failed; retrying", "csr", name, "err", BoundText(err.Error()))
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
// left alone, except that the certificate of an issued client CSR of a
// recorded instance is recorded (ApprovalRecord.Issued) and a CSR denied
// as a contested join is deleted after its grace. It returns when to look
// again.
func (c *Controller) sync(ctx context.Context, name string) (time.Duration, error) {
	csr, err := c.getCSR(name)
	if apierrors.IsNotFound(err) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("get csr %s: %w", name, err)
	}
	if Classify(csr) == KindOther {
		return 0, nil
	}
	if ConditionOf(csr) != Pending {
		c.decided.CompareAndDelete(csr.Name, csr.UID) // the cache caught up
	} else if uid, ok := c.decided.Load(csr.Name); ok && uid == csr.UID {
		return 0, nil // decided; the cache's update is on its way
	}
	switch cond := ConditionOf(csr); {
	case cond == Issued && csr.Spec.SignerName == certificatesv1.KubeAPIServerClientKubeletSignerName:
		return 0, c.recordIssued(ctx, csr)
	case cond == Denied:
		return c.deleteContested(ctx, csr)
	case cond != Pending:
		return 0, nil
	}
	v, err := c.decide(ctx, csr)
	if err != nil {
		return 0, err
	}
	if c.Mode == ModeManual {
		// Count what the policy would have decided, once per state.
		if prev, _ := c.lastPending.Swap(csr.Name, "manual/"+v.Reason); prev != "manual/"+v.Reason {
			c.Metrics.Decisions.WithLabelValues(csr.Spec.SignerName, "manual-"+strings.ToLower(string(v.Action)), v.Reason).Inc()
		}
		return 0, nil
	}
	return c.act(ctx, csr, v)
}

// decide returns the policy's verdict on the pending csr, or the denial of
// the other side of a contested join already decided.
func (c *Controller) decide(ctx context.Context, csr *certificatesv1.CertificateSigningRequest) (Verdict, error) {
	if v, ok := c.contestedVerdict(csr); ok {
		return v, nil
	}
	start := c.Clock.Now()
	var cloudTook time.Duration
	facts, err := c.Sources.gather(ctx, csr, start, c.Config, func(read func()) {
		at := c.Clock.Now()
		read()
		cloudTook = c.Clock.Since(at)
		c.Metrics.Phase.WithLabelValues(PhaseCloud).Observe(cloudTook.Seconds())
	})
	if err != nil {
		return Verdict{}, err
	}
	c.Metrics.Pending.Set(float64(facts.PendingNodeCSRs))
	v := Decide(facts)
	v.Message = BoundText(v.Message)
	c.Metrics.Phase.WithLabelValues(PhaseFacts).Observe((c.Clock.Since(start) - cloudTook).Seconds())
	if v.Action == ActionApprove {
		// Marked while the facts were gathered? The other side's denial
		// may already hide the contest from the cache.
		if cv, ok := c.contestedVerdict(csr); ok {
			return cv, nil
		}
	}
	return v, nil
}

// contestedVerdict is the denial of csr when contestOthers marked it as
// the other side of a contested join.
func (c *Controller) contestedVerdict(csr *certificatesv1.CertificateSigningRequest) (Verdict, bool) {
	if uid, ok := c.contested.Load(csr.Name); !ok || uid != csr.UID {
		return Verdict{}, false
	}
	name, _ := NodeName(csr)
	return Verdict{Action: ActionDeny, Reason: ReasonContestedJoin, Kind: KindNewNode, NodeName: name,
		Message: BoundText(fmt.Sprintf("contested join: another pending CSR asks for node %s too; neither is approved", name))}, true
}

// act carries out a verdict.
func (c *Controller) act(ctx context.Context, csr *certificatesv1.CertificateSigningRequest, v Verdict) (time.Duration, error) {
	log := c.Logger.With("csr", csr.Name, "node", BoundText(v.NodeName), "kind", v.Kind, "instance", v.InstanceID)
	if v.Action == ActionPending {
		if v.Reason == ReasonFloodControl {
			c.turns.wait(csr)
		} else {
			c.turns.done(csr.Name)
		}
		if prev, _ := c.lastPending.Swap(csr.Name, v.Reason); prev != v.Reason {
			c.Recorder.Event(csr, corev1.EventTypeNormal, "CSRPending", v.Message)
			c.Metrics.Decisions.WithLabelValues(csr.Spec.SignerName, "pending", v.Reason).Inc()
			log.Info("csr pending", "reason", v.Reason, "message", v.Message)
		}
		return max(v.RetryAfter, time.Second), nil
	}
	d, ok := v.Decision()
	if !ok { // ActionIgnore: not kelp's, said once per CSR
		if prev, _ := c.lastPending.Swap(csr.Name, "ignored"); prev != "ignored" {
			log.Debug("csr left alone", "reason", v.Reason, "message", v.Message)
		}
		return 0, nil
	}
	if !d.Approve {
		if wait := c.denials.wait(csr, c.Clock.Now()); wait > 0 {
			if prev, _ := c.lastPending.Swap(csr.Name, "deferred"); prev != "deferred" {
				c.Metrics.DeniesDeferred.Inc()
				log.Debug("csr denial deferred by the rate limit of failed checks", "reason", v.Reason, "wait", wait)
			}
			return wait, nil
		}
	}
	if d.Approve {
		at := c.Clock.Now()
		retry, err := c.recordApproval(ctx, csr, v)
		c.Metrics.Phase.WithLabelValues(PhaseRecord).Observe(c.Clock.Since(at).Seconds())
		if retry > 0 || err != nil {
			return retry, err
		}
	}
	if v.Reason == ReasonContestedJoin {
		// Mark the other side before this denial can reach the cache, so
		// a worker deciding it then still denies it.
		c.contestOthers(v)
	}
	if err := c.write(ctx, csr, v, d, log); err != nil {
		return 0, err
	}
	if v.Reason == ReasonContestedJoin {
		c.Metrics.Contested.Inc()
		return c.contestedGrace(), nil // then delete it (contested.go)
	}
	return 0, nil
}

// recordApproval records, before csr is approved, what kelp's record must
// know: the instance a new node joins as, or that the certificate of a
// renewal is awaited for the Node's instance. A positive duration means
// decide again soon: another CSR was recorded for the instance first.
func (c *Controller) recordApproval(ctx context.Context, csr *certificatesv1.CertificateSigningRequest, v Verdict) (time.Duration, error) {
	now := c.Clock.Now()
	var err error
	switch {
	case v.Kind == KindNewNode:
		// Record first: a crash after this can only refuse a replay.
		err = c.Sources.Record.Add(ctx, v.InstanceID, Approval{CSRName: csr.Name, CSRUID: csr.UID, At: now, NodeName: v.NodeName}, now)
		if errors.Is(err, ErrAlreadyRecorded) {
			// Another CSR for this instance won the race: decide again
			// with the record that now holds it.
			c.Logger.Info("another CSR was approved for this instance first; deciding again", "csr", csr.Name, "instance", v.InstanceID)
			return time.Millisecond, nil
		}
	case v.Kind == KindRenewal && v.InstanceID != "":
		err = c.Sources.Record.Await(ctx, v.InstanceID, Approval{CSRName: csr.Name, CSRUID: csr.UID, At: now, NodeName: v.NodeName}, now)
	}
	c.observeRecord()
	return 0, err
}

// write records the decision d of v on csr, with its Event, metrics and
// log line. A CSR deleted meanwhile is not an error.
func (c *Controller) write(ctx context.Context, csr *certificatesv1.CertificateSigningRequest, v Verdict, d Decision, log *slog.Logger) error {
	decision, eventType, event := "approve", corev1.EventTypeNormal, "CSRApproved"
	if !d.Approve {
		decision, eventType, event = "deny", corev1.EventTypeWarning, "CSRDenied"
	}
	d.Message = BoundText(d.Message)
	at := c.Clock.Now()
	err := d.write(ctx, c.Client, csr, at)
	c.Metrics.Phase.WithLabelValues(PhaseWrite).Observe(c.Clock.Since(at).Seconds())
	if err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("%s csr %s: %w", decision, csr.Name, err)
	}
	c.forget(csr)
	c.decided.Store(csr.Name, csr.UID)
	c.Recorder.Event(csr, eventType, event, d.Message)
	c.Metrics.Decisions.WithLabelValues(csr.Spec.SignerName, decision, v.Reason).Inc()
	c.Metrics.Latency.WithLabelValues(csr.Spec.SignerName, decision).Observe(c.Clock.Since(csr.CreationTimestamp.Time).Seconds())
	log.Info("csr decided", "decision", decision, "reason", v.Reason, "message", d.Message)
	return nil
}

// contestOthers marks the other side of a contested join, every CSR
// v.Contested names that is still a pending new-node CSR, to be denied
// with the same reason, and queues it: neither side is approved, even
// when the contest is gone by the time it is decided again. The mark is
// kept in memory only, until the CSR is decided or deleted.
func (c *Controller) contestOthers(v Verdict) {
	for _, name := range v.Contested {
		other, err := c.getCSR(name)
		if err != nil || ConditionOf(other) != Pending || Classify(other) != KindNewNode {
			continue // gone or decided; a failed read of the lister is a miss
		}
		c.contested.Store(other.Name, other.UID)
		if c.queue != nil {
			c.enqueue(other.Name)
		}
	}
}
