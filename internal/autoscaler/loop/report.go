package loop

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"github.com/kelp-dev/kelp/internal/autoscaler"
	"github.com/kelp-dev/kelp/internal/cloud"
)

// Event reasons on pods, as cluster-autoscaler's.
const (
	ReasonTriggeredScaleUp  = "TriggeredScaleUp"
	ReasonNotTriggerScaleUp = "NotTriggerScaleUp"
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

// scaleUpRecord is the last scale-up, for the status.
type scaleUpRecord struct {
	Time      string            `json:"time"`
	DryRun    bool              `json:"dryRun,omitempty"`
	Increases []increaseSummary `json:"increases"`
}

type increaseSummary struct {
	Group        string `json:"group"`
	InstanceType string `json:"instanceType"`
	Delta        int    `json:"delta"`
	Pods         int    `json:"pods"`
	Reason       string `json:"reason"`
}

// report sends the pod events, writes the status and sets the gauges, all
// from the plan.
func (a *Autoscaler) report(ctx context.Context, groups []cloud.NodeGroup, gf groupFacts, facts clusterFacts,
	plan autoscaler.Plan, cyc *Cycle) {
	now := a.d.Clock.Now()
	pods := map[string]*corev1.Pod{}
	keep := map[string]bool{}
	for _, info := range facts.pending {
		k := info.Pod.Namespace + "/" + info.Pod.Name
		pods[k], keep["pod/"+k] = info.Pod, true
	}
	a.events.forget(keep, now)
	event := func(key, typ, reason, msg string) {
		if p := pods[key]; p != nil && a.events.first("pod/"+key, reason+msg, now) {
			a.d.Recorder.Event(p, typ, reason, msg)
		}
	}
	byGroup := map[string]cloud.NodeGroup{}
	for _, g := range groups {
		byGroup[g.ID] = g
	}
	scaled := 0
	var incs []increaseSummary
	for _, inc := range plan.Increases {
		target, applied := cyc.Applied[inc.Group]
		g := byGroup[inc.Group]
		var msg string
		switch {
		case a.o.DryRun:
			msg = fmt.Sprintf("dry run: pod would trigger scale-up: [{%s %d->%d (max: %d)}]", inc.Group, g.TargetSize, g.TargetSize+inc.Delta, g.MaxSize)
		case applied:
			msg = fmt.Sprintf("pod triggered scale-up: [{%s %d->%d (max: %d)}]", inc.Group, g.TargetSize, target, g.MaxSize)
		default:
			msg = fmt.Sprintf("pod didn't trigger scale-up: %s: %s", inc.Group, cyc.BackedOff[inc.Group])
		}
		typ, reason := corev1.EventTypeNormal, ReasonTriggeredScaleUp
		if !applied && !a.o.DryRun {
			typ, reason = corev1.EventTypeWarning, ReasonNotTriggerScaleUp
		}
		for _, k := range inc.Pods {
			event(k, typ, reason, msg)
		}
		if applied || a.o.DryRun {
			scaled += len(inc.Pods)
			incs = append(incs, increaseSummary{inc.Group, inc.InstanceType, inc.Delta, len(inc.Pods), inc.Reason})
		}
	}
	for k, why := range plan.Unschedulable {
		event(k, corev1.EventTypeNormal, ReasonNotTriggerScaleUp, "pod didn't trigger scale-up: "+groupReasons(why))
	}
	for k, why := range plan.Unsupported {
		event(k, corev1.EventTypeWarning, ReasonNotTriggerScaleUp, "pod didn't trigger scale-up: kelp cannot simulate it: "+string(why))
	}
	if len(incs) > 0 {
		a.lastScaleUp = &scaleUpRecord{Time: rfc3339(now), DryRun: a.o.DryRun, Increases: incs}
	}

	m := a.d.Metrics
	m.PodsPlanned.WithLabelValues("fits").Add(float64(len(plan.Placed)))
	m.PodsPlanned.WithLabelValues("scale-up").Add(float64(scaled))
	m.PodsPlanned.WithLabelValues("no-scale-up").Add(float64(len(plan.Unschedulable)))
	m.PodsPlanned.WithLabelValues("unsupported").Add(float64(len(plan.Unsupported)))
	m.Unschedulable.Set(float64(len(facts.pending)))
	upcoming := gf.upcoming(groups)
	active := a.backoffs.Active(now)
	for _, g := range groups {
		m.Upcoming.WithLabelValues(g.ID).Set(float64(upcoming[g.ID]))
		_, off := active[g.ID]
		m.PoolBackedOff.WithLabelValues(g.ID).Set(boolFloat(off))
	}

	st := Status{
		Autoscaler:        autoscalerStatus{Expanders: a.o.Expanders, DryRun: a.o.DryRun},
		UnschedulablePods: len(facts.pending),
		LastScaleUp:       a.lastScaleUp,
		ScaleDown:         cyc.ScaleDown,
		LastDecision: decisionStatus{
			Time: rfc3339(now), FitExisting: len(plan.Placed), ScaleUp: scaled,
			NoScaleUp: len(plan.Unschedulable), Unsupported: len(plan.Unsupported),
			Terminated: cyc.Terminated, Skipped: plan.Skipped,
		},
	}
	failures := a.backoffs.Failures()
	for _, g := range groups {
		ps := poolStatus{
			Group: g.ID, Pool: g.Pool, MinSize: g.MinSize, MaxSize: g.MaxSize, TargetSize: g.TargetSize,
			Ready: len(gf.ready[g.ID]), Upcoming: upcoming[g.ID],
		}
		if b, ok := active[g.ID]; ok {
			ps.Backoff = &backoffStatus{Until: rfc3339(b.Until), Reason: b.Reason, Failures: failures[g.ID]}
		}
		st.Pools = append(st.Pools, ps)
	}
	// At most a few examples of why pods cannot be helped: the events on
	// the pods have them all.
	for _, k := range slices.Sorted(maps.Keys(plan.Unschedulable))[:min(len(plan.Unschedulable), maxStatusExamples)] {
		st.LastDecision.NoScaleUpExamples = append(st.LastDecision.NoScaleUpExamples, podReason{Pod: k, Reason: groupReasons(plan.Unschedulable[k])})
	}
	if err := a.status.write(ctx, st, now); err != nil {
		m.Errors.WithLabelValues("status").Inc()
		a.d.Logger.Error("write status", "configmap", "kube-system/"+StatusConfigMap, "err", err)
	}
}

const maxStatusExamples = 20

// groupReasons renders per-group reasons sorted by group: "a: why; b: why".
func groupReasons(why map[string]string) string {
	if len(why) == 0 {
		return "no node group can grow"
	}
	parts := make([]string, 0, len(why))
	for _, g := range slices.Sorted(maps.Keys(why)) {
		if g == "" {
			parts = append(parts, why[g])
			continue
		}
		parts = append(parts, g+": "+why[g])
	}
	return strings.Join(parts, "; ")
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Status is the content of kube-system/kelp-status (key "status", YAML):
// what the autoscaler saw and did in its last cycle.
type Status struct {
	Time              string           `json:"time"`
	Autoscaler        autoscalerStatus `json:"autoscaler"`
	Pools             []poolStatus     `json:"pools"`
	UnschedulablePods int              `json:"unschedulablePods"`
	LastDecision      decisionStatus   `json:"lastDecision"`
	LastScaleUp       *scaleUpRecord   `json:"lastScaleUp,omitempty"`
	ScaleDown         ScaleDownStatus  `json:"scaleDown"`
}

type autoscalerStatus struct {
	Expanders string `json:"expanders"`
	DryRun    bool   `json:"dryRun"`
}

type poolStatus struct {
	Group      string         `json:"group"`
	Pool       string         `json:"pool,omitempty"`
	MinSize    int            `json:"minSize"`
	MaxSize    int            `json:"maxSize"`
	TargetSize int            `json:"targetSize"`
	Ready      int            `json:"ready"`
	Upcoming   int            `json:"upcoming"`
	Backoff    *backoffStatus `json:"backoff,omitempty"`
}

type backoffStatus struct {
	Until    string `json:"until"`
	Reason   string `json:"reason"`
	Failures int    `json:"failures"`
}

type decisionStatus struct {
	Time              string            `json:"time"`
	FitExisting       int               `json:"fitExistingOrUpcoming"`
	ScaleUp           int               `json:"scaleUp"`
	NoScaleUp         int               `json:"noScaleUp"`
	Unsupported       int               `json:"unsupported"`
	NoScaleUpExamples []podReason       `json:"noScaleUpExamples,omitempty"`
	Skipped           map[string]string `json:"skippedGroups,omitempty"`
	Terminated        []string          `json:"terminatedInstances,omitempty"`
}

type podReason struct {
	Pod    string `json:"pod"`
	Reason string `json:"reason"`
}

// statusWriter writes the status ConfigMap when its content changed (the
// times aside), or every refresh to show the autoscaler is alive.
type statusWriter struct {
	client  kubernetes.Interface
	refresh time.Duration
	last    string
	lastAt  time.Time
}

func (w *statusWriter) write(ctx context.Context, st Status, now time.Time) error {
	st.Time, st.LastDecision.Time = "", ""
	body, err := yaml.Marshal(st)
	if err != nil {
		return fmt.Errorf("render status: %w", err)
	}
	if string(body) == w.last && now.Sub(w.lastAt) < w.refresh {
		return nil
	}
	st.Time, st.LastDecision.Time = rfc3339(now), rfc3339(now)
	full, err := yaml.Marshal(st)
	if err != nil {
		return fmt.Errorf("render status: %w", err)
	}
	cms := w.client.CoreV1().ConfigMaps(metav1.NamespaceSystem)
	cm, err := cms.Get(ctx, StatusConfigMap, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		cm = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: StatusConfigMap, Namespace: metav1.NamespaceSystem,
			Labels: map[string]string{"app.kubernetes.io/managed-by": "kelp"}}, Data: map[string]string{"status": string(full)}}
		_, err = cms.Create(ctx, cm, metav1.CreateOptions{})
	case err == nil:
		cm = cm.DeepCopy()
		if cm.Data == nil {
			cm.Data = map[string]string{}
		}
		cm.Data["status"] = string(full)
		_, err = cms.Update(ctx, cm, metav1.UpdateOptions{})
	}
	if err != nil {
		return fmt.Errorf("write configmap kube-system/%s: %w", StatusConfigMap, err)
	}
	w.last, w.lastAt = string(body), now
	return nil
}
