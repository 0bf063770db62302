package loop

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"

	"github.com/kelp-dev/kelp/internal/autoscaler"
	"github.com/kelp-dev/kelp/internal/cloud"
)

// Event reasons on pods, as cluster-autoscaler's.
const (
	ReasonTriggeredScaleUp  = autoscaler.ReasonTriggeredScaleUp
	ReasonNotTriggerScaleUp = autoscaler.ReasonNotTriggerScaleUp
)

// eventRepeat is how often an unchanged event is repeated for the same
// object; a changed message is sent at once.
const eventRepeat = 5 * time.Minute

// eventLog remembers the last message sent per object, so that a pod that
// stays pending does not get an event every cycle.
type eventLog struct {
	mu   sync.Mutex
	sent map[string]sentEvent
}

type sentEvent struct {
	msg string
	at  time.Time
}

func newEventLog() *eventLog { return &eventLog{sent: map[string]sentEvent{}} }

// first reports whether msg for key should be sent at now: it differs from
// the last one, or that one is older than eventRepeat.
func (l *eventLog) first(key, msg string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s, ok := l.sent[key]; ok && s.msg == msg && now.Sub(s.at) < eventRepeat {
		return false
	}
	l.sent[key] = sentEvent{msg, now}
	return true
}

// forget drops the pod keys not in keep and every entry older than
// eventRepeat (it would be sent again anyway), so the log does not grow
// with pods and nodes long gone.
func (l *eventLog) forget(keep map[string]bool, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for k, e := range l.sent {
		if (strings.HasPrefix(k, "pod/") && !keep[k]) || now.Sub(e.at) >= eventRepeat {
			delete(l.sent, k)
		}
	}
}

// report computes the cycle's status and events from the plan
// (autoscaler.Report) and writes them: the status ConfigMap, the events
// (deduplicated; a truncated plan's Warning goes on the ConfigMap) and the
// gauges.
func (a *Autoscaler) report(ctx context.Context, groups []cloud.NodeGroup, gf groupFacts, facts clusterFacts,
	plan autoscaler.Plan, health *autoscaler.Health, cyc *Cycle) {
	now := a.d.Clock.Now()
	ready := make(map[string]int, len(gf.ready))
	for id, nodes := range gf.ready {
		ready[id] = len(nodes)
	}
	st, events := autoscaler.Report(autoscaler.ReportInput{
		Plan: plan, Groups: groups, Applied: cyc.Applied, BackedOff: cyc.BackedOff, Terminated: cyc.Terminated,
		Pending: len(facts.pending) + skippedTotal(facts.skipped), Ignored: facts.skipped, Ready: ready, Upcoming: gf.upcoming(groups),
		Backoffs: a.backoffs.Active(now), Failures: a.backoffs.Failures(), LastScaleUp: a.lastScaleUp,
		ScaleDown: cyc.ScaleDown, Health: health, Expanders: a.o.Expanders, DryRun: a.o.DryRun, Now: now,
	})
	a.lastScaleUp = st.LastScaleUp
	cyc.Status, cyc.Events = st, events
	if a.sim != nil {
		return
	}
	pods := make(map[string]*corev1.Pod, len(facts.pending))
	keep := make(map[string]bool, len(facts.pending))
	for _, info := range facts.pending {
		k := info.Pod.Namespace + "/" + info.Pod.Name
		pods[k], keep["pod/"+k] = info.Pod, true
	}
	a.events.forget(keep, now)
	m := a.d.Metrics
	if err := a.status.write(ctx, st, now); err != nil {
		m.Errors.WithLabelValues("status").Inc()
		a.d.Logger.Error("write status", "configmap", "kube-system/"+StatusConfigMap, "err", err)
	}
	a.emit(events, func(e autoscaler.Event) (runtime.Object, bool) {
		if e.Kind == autoscaler.KindStatus {
			return a.status.cm, a.status.cm != nil
		}
		p, ok := pods[e.Key]
		return p, ok
	}, now)

	d := st.LastDecision
	m.PodsPlanned.WithLabelValues("fits").Add(float64(d.FitExisting))
	m.PodsPlanned.WithLabelValues("scale-up").Add(float64(d.ScaleUp))
	m.PodsPlanned.WithLabelValues("no-scale-up").Add(float64(d.NoScaleUp))
	m.PodsPlanned.WithLabelValues("unsupported").Add(float64(d.Unsupported))
	m.PodsPlanned.WithLabelValues("deferred").Add(float64(len(plan.Deferred)))
	for _, why := range []autoscaler.PendingSkip{autoscaler.SkipExpendable, autoscaler.SkipPreempting, autoscaler.SkipTooNew} {
		m.PodsPlanned.WithLabelValues(string(why)).Add(float64(facts.skipped[why]))
	}
	m.Unschedulable.Set(float64(st.UnschedulablePods))
	for _, p := range st.Pools {
		m.Upcoming.WithLabelValues(p.Group).Set(float64(p.Upcoming))
		m.PoolBackedOff.WithLabelValues(p.Group).Set(boolFloat(p.Backoff != nil))
	}
}

// emit records the events whose object resolves (a pod still pending, a
// node still listed), each unless the same was sent for the object within
// eventRepeat.
func (a *Autoscaler) emit(events []autoscaler.Event, object func(autoscaler.Event) (runtime.Object, bool), now time.Time) {
	for _, e := range events {
		obj, ok := object(e)
		if !ok {
			continue
		}
		if a.events.first(strings.ToLower(e.Kind)+"/"+e.Key, e.Reason+e.Message, now) {
			a.d.Recorder.Event(obj, e.Type, e.Reason, e.Message)
		}
	}
}

func skippedTotal(m map[autoscaler.PendingSkip]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// statusWriter writes the status ConfigMap when its content changed (the
// times aside), or every refresh to show the autoscaler is alive.
type statusWriter struct {
	client  kubernetes.Interface
	refresh time.Duration
	last    string
	lastAt  time.Time
	// cm is the ConfigMap last written, the object of status events.
	cm *corev1.ConfigMap
}

func (w *statusWriter) write(ctx context.Context, st autoscaler.Status, now time.Time) error {
	body, err := st.Render(true)
	if err != nil {
		return err
	}
	if body == w.last && now.Sub(w.lastAt) < w.refresh {
		return nil
	}
	full, err := st.Render(false)
	if err != nil {
		return err
	}
	cms := w.client.CoreV1().ConfigMaps(metav1.NamespaceSystem)
	cm, err := cms.Get(ctx, StatusConfigMap, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		cm = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: StatusConfigMap, Namespace: metav1.NamespaceSystem,
			Labels: map[string]string{"app.kubernetes.io/managed-by": "kelp"}}, Data: map[string]string{"status": full}}
		cm, err = cms.Create(ctx, cm, metav1.CreateOptions{})
	case err == nil:
		cm = cm.DeepCopy()
		if cm.Data == nil {
			cm.Data = map[string]string{}
		}
		cm.Data["status"] = full
		cm, err = cms.Update(ctx, cm, metav1.UpdateOptions{})
	}
	if err != nil {
		return fmt.Errorf("write configmap kube-system/%s: %w", StatusConfigMap, err)
	}
	w.last, w.lastAt, w.cm = body, now, cm
	return nil
}
