package competingapprovers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/clock"
)

const (
	// StatusConfigMap is kelp's status ConfigMap in kube-system, shared
	// with the autoscaler (its key "status"); the checks write StatusKey
	// and their Events are about this ConfigMap.
	StatusConfigMap = "kelp-status"
	StatusKey       = "competingApprovers"
	// DefaultPeriod is how often the checks run after the first.
	DefaultPeriod = 10 * time.Minute
)

// Event reasons, on the status ConfigMap.
const (
	EventNodeClient     = "CompetingNodeClientApprover"     // Warning
	EventSelfNodeClient = "CompetingSelfNodeClientApprover" // Warning
	EventGone           = "CompetingApproverGone"           // Normal
)

// ErrCompetingApprover is wrapped by [Monitor.Start]'s error when it
// refuses to start.
var ErrCompetingApprover = errors.New("a competing approver would approve kelp's joins unchecked")

// Metrics are the checks' Prometheus metrics.
type Metrics struct {
	// Competing is 1 while a check finds a competing approver.
	Competing *prometheus.GaugeVec
	// Errors counts checks that could not run.
	Errors prometheus.Counter
}

// NewMetrics creates the metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Competing: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "kelp_competing_approvers",
			Help: "1 when kube-controller-manager's csrapproving would approve node CSRs kelp decides, by check (nodeclient: kelp's joins, selfnodeclient: renewals).",
		}, []string{"check"}),
		Errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kelp_competing_approvers_check_errors_total",
			Help: "Checks for competing approvers that could not ask the API server.",
		}),
	}
	reg.MustRegister(m.Competing, m.Errors)
	return m
}

// Monitor runs the checks at start and every Period, and says what they
// found. Start and Run are called by one goroutine, in that order.
type Monitor struct {
	Checker Checker
	// Pools returns the names of kelp's pools; nil, or an error, probes
	// RepresentativePool only.
	Pools func(context.Context) ([]string, error)
	// Refuse makes Start fail when kelp's joins would be approved
	// unchecked (auto approve mode without --allow-competing-approvers).
	Refuse  bool
	Period  time.Duration    // DefaultPeriod when zero
	Logger  *slog.Logger     // slog.Default() when nil
	Metrics *Metrics         // required
	Clock   clock.WithTicker // the real clock when nil

	report   Report
	checkErr error
	checked  bool
	status   *statusWriter
	previous map[Check]bool
}

// Start runs the first check. With Refuse, it returns an error when the
// check finds that kelp's joins would be approved unchecked (naming the
// bindings to remove, and wrapping ErrCompetingApprover) or cannot run;
// without, it only logs, and Run reports.
func (m *Monitor) Start(ctx context.Context) error {
	m.defaults()
	err := m.check(ctx)
	if err != nil {
		if m.Refuse {
			return fmt.Errorf("check for competing approvers: %w", err)
		}
		m.Logger.Error("check for competing approvers", "err", err)
		return nil
	}
	if f, ok := m.report.Fatal(); ok && m.Refuse {
		return fmt.Errorf("%w: %s (if kube-controller-manager runs without its csrapproving controller, start kelp with --allow-competing-approvers)", ErrCompetingApprover, f.Message)
	}
	return nil
}

// Run reports the first check's findings and checks again every Period
// until ctx ends. recorder emits the Events.
func (m *Monitor) Run(ctx context.Context, client kubernetes.Interface, recorder record.EventRecorder) {
	m.defaults()
	m.status = &statusWriter{client: client}
	if !m.checked {
		_ = m.check(ctx)
	}
	m.publish(ctx, recorder)
	ticker := m.Clock.NewTicker(m.Period)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C():
			_ = m.check(ctx)
			m.publish(ctx, recorder)
		}
	}
}

func (m *Monitor) defaults() {
	if m.Period == 0 {
		m.Period = DefaultPeriod
	}
	if m.Logger == nil {
		m.Logger = slog.Default()
	}
	if m.Clock == nil {
		m.Clock = clock.RealClock{}
	}
}

// check asks again; on error the last report stays and the error is kept.
func (m *Monitor) check(ctx context.Context) error {
	var pools []string
	if m.Pools != nil {
		var err error
		if pools, err = m.Pools(ctx); err != nil {
			m.Logger.Debug("competing approvers: pools unknown, probing a representative pool", "err", err)
		}
	}
	var r Report
	err := retry.OnError(retry.DefaultBackoff, func(err error) bool { return !apierrors.IsForbidden(err) && ctx.Err() == nil }, func() error {
		var err error
		r, err = m.Checker.Check(ctx, pools)
		return err
	})
	m.checked, m.checkErr = true, err
	if err != nil {
		m.Metrics.Errors.Inc()
		return err
	}
	m.report = r
	return nil
}

// publish says what the last check found: log, metric, status, Events.
func (m *Monitor) publish(ctx context.Context, recorder record.EventRecorder) {
	if m.checkErr != nil {
		m.Logger.Error("check for competing approvers", "err", m.checkErr)
	}
	for _, c := range Checks {
		if m.checkErr == nil {
			m.Metrics.Competing.WithLabelValues(string(c)).Set(boolFloat(m.report.Allowed[c]))
		}
	}
	for _, f := range m.report.Findings {
		log := m.Logger.Warn
		if f.Fatal {
			log = m.Logger.Error
		}
		log("competing approver", "check", f.Check, "message", f.Message)
	}
	cm, err := m.status.write(ctx, StatusOf(m.report, m.checkErr, m.Clock.Now()))
	if err != nil {
		m.Logger.Error("write competing approvers status", "configmap", "kube-system/"+StatusConfigMap, "err", err)
	}
	for _, f := range m.report.Findings {
		reason := EventSelfNodeClient
		if f.Check == NodeClient {
			reason = EventNodeClient
		}
		recorder.Event(cm, corev1.EventTypeWarning, reason, f.Message)
	}
	for c, was := range m.previous {
		if was && !m.report.Allowed[c] {
			recorder.Eventf(cm, corev1.EventTypeNormal, EventGone, "csrapproving would no longer approve certificatesigningrequests/%s: the competing approver is gone", c)
		}
	}
	m.previous = m.report.Allowed
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// statusWriter writes StatusKey of the status ConfigMap when its content
// changed (the time aside).
type statusWriter struct {
	client kubernetes.Interface
	last   string
	cm     *corev1.ConfigMap
}

// write returns the ConfigMap to attach Events to: the one written, or a
// reference by name when it could not be written.
func (w *statusWriter) write(ctx context.Context, st Status) (*corev1.ConfigMap, error) {
	if w.cm == nil {
		w.cm = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: metav1.NamespaceSystem, Name: StatusConfigMap}}
	}
	body, err := st.Render(true)
	if err != nil || body == w.last {
		return w.cm, err
	}
	full, err := st.Render(false)
	if err != nil {
		return w.cm, err
	}
	cms := w.client.CoreV1().ConfigMaps(metav1.NamespaceSystem)
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cm, err := cms.Get(ctx, StatusConfigMap, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			cm = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: metav1.NamespaceSystem, Name: StatusConfigMap,
				Labels: map[string]string{"app.kubernetes.io/managed-by": "kelp"}}, Data: map[string]string{StatusKey: full}}
			cm, err = cms.Create(ctx, cm, metav1.CreateOptions{})
			if apierrors.IsAlreadyExists(err) {
				return apierrors.NewConflict(corev1.Resource("configmaps"), StatusConfigMap, err)
			}
		} else if err == nil {
			cm = cm.DeepCopy()
			if cm.Data == nil {
				cm.Data = map[string]string{}
			}
			cm.Data[StatusKey] = full
			cm, err = cms.Update(ctx, cm, metav1.UpdateOptions{})
		}
		if err == nil {
			w.cm = cm
		}
		return err
	})
	if err != nil {
		return w.cm, fmt.Errorf("write configmap kube-system/%s: %w", StatusConfigMap, err)
	}
	w.last = body
	return w.cm, nil
}
