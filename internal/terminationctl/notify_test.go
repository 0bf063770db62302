package terminationctl

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/pool"
	"github.com/kelp-dev/kelp/internal/termination"
	"github.com/kelp-dev/kelp/internal/testenv"
)

const spotCause = "At 2026-12-06T12:00:00Z an instance was taken out of service in response to an EC2 Spot Instance interruption notice."

// running is the fixture's instance in service, not leaving (yet).
func running() cloud.Instance {
	return cloud.Instance{ID: "i-0001", ProviderID: providerID, GroupName: "g", State: cloud.InstanceStateRunning, CloudState: "InService"}
}

// waiting is the fixture's instance held on the hook, for cause.
func waiting(cause string) cloud.Instance {
	i := running()
	i.State, i.CloudState, i.LeaveCause = cloud.InstanceStateTerminating, cloud.LifecycleTerminatingWait, cause
	return i
}

// setInstance puts inst in group g of the cloud and refreshes.
func (f *fixture) setInstance(inst cloud.Instance) {
	f.t.Helper()
	f.clouds.SetGroups(cloud.NodeGroup{ID: "g", Instances: []cloud.Instance{inst}})
	if err := f.clouds.Refresh(context.Background()); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) notify(n termination.Notice) {
	f.t.Helper()
	f.sync()
	if err := f.c.Notify(context.Background(), n); err != nil {
		f.t.Fatalf("notify %s: %v", n.Kind, err)
	}
}

func spotWarning(deadline time.Duration) termination.Notice {
	return termination.Notice{Kind: termination.NoticeWarning, EventID: "e1", Departure: termination.Departure{
		InstanceID: "i-0001", Cause: termination.CauseSpotInterruption, NoticedAt: t0, Deadline: t0.Add(deadline)}}
}

// TestSpotWarningDrainsAgainstTheDeadline: a spot interruption 60 s ahead
// evicts at once with the grace period capped to what is left before the
// margin; once the group holds the instance, it is let go before the
// deadline.
func TestSpotWarningDrainsAgainstTheDeadline(t *testing.T) {
	f := newFixture(t, testNode(nil), testPod("slow", 3600, ""), testPod("web", 30, "ReplicaSet"))
	f.setInstance(running())
	f.notify(spotWarning(time.Minute))
	if a := f.node().Annotations; a[AnnotationWarningCause] != "spot-interruption" || a[AnnotationWarningDeadline] != "2026-12-06T12:01:00Z" {
		t.Fatalf("annotations %v do not keep the warning", a)
	}
	f.round(0)
	want := int64((time.Minute - termination.DefaultDeadlineMargin) / time.Second)
	if f.evicted["slow"] != want || f.evicted["web"] != 30 {
		t.Errorf("evicted (grace seconds) = %v, want slow capped at %d, web 30", f.evicted, want)
	}
	if !cordoned(f.node()) {
		t.Error("not cordoned")
	}
	if len(f.clouds.Completed()) != 0 {
		t.Fatal("completed an action no hook holds")
	}
	f.setInstance(waiting(spotCause)) // the group's hook holds it at once, as the local cloud does
	f.round(5 * time.Second)
	done := f.clouds.Completed()
	if len(done) != 1 || done[0].Result != cloud.LifecycleContinue || done[0].Hook != pool.DrainHookName {
		t.Fatalf("completed = %+v, want CONTINUE before the deadline", done)
	}
	if f.node() != nil {
		t.Error("the Node was not deleted")
	}
	testenv.Contains(t, "events", f.events(), "Normal Draining instance i-0001 gets a spot interruption at 2026-12-06T12:01:00Z", "Normal Drained")
	if got := testutil.ToFloat64(f.metrics.Drains.WithLabelValues("spot-interruption", termination.ReasonDrained)); got != 1 {
		t.Errorf("drains{spot-interruption,Drained} = %v, want 1", got)
	}
	if got := testutil.ToFloat64(f.metrics.Notices.WithLabelValues("warning", "accepted")); got != 1 {
		t.Errorf("notices{warning,accepted} = %v, want 1", got)
	}
}

// TestSpotWarningHeldGivesUpAtTheMargin: a PDB blocks; the held instance
// is let go DeadlineMargin before the deadline, not at the longer bound.
func TestSpotWarningHeldGivesUpAtTheMargin(t *testing.T) {
	f := newFixture(t, testNode(nil), testPod("web", 30, "ReplicaSet"))
	f.refuse = true
	f.setInstance(waiting(spotCause))
	f.notify(spotWarning(time.Minute))
	f.round(0)
	f.round(44 * time.Second)
	if len(f.clouds.Completed()) != 0 {
		t.Fatal("let go before the margin")
	}
	f.round(45 * time.Second)
	if done := f.clouds.Completed(); len(done) != 1 {
		t.Fatalf("completed = %+v, want the drain ended at the deadline's margin", done)
	}
	testenv.Contains(t, "events", f.events(), "Warning DrainTimedOut")
}

// TestWarningResumesAfterRestart: a new controller finds the warning on
// the Node and drains against the same deadline.
func TestWarningResumesAfterRestart(t *testing.T) {
	f := newFixture(t, testNode(nil), testPod("slow", 3600, ""))
	f.setInstance(running())
	f.refuse = true
	f.notify(spotWarning(time.Minute))
	f.round(0)
	f.c = f.controller() // restarted: nothing in memory
	f.refuse = false
	f.round(10 * time.Second)
	want := int64((time.Minute - termination.DefaultDeadlineMargin - 10*time.Second) / time.Second)
	if got := f.evicted["slow"]; got != want {
		t.Errorf("grace after the restart = %d s, want %d (the kept deadline)", got, want)
	}
}

// TestLifecycleActionNoticeWakesTheLoop: with a period of an hour, a
// lifecycle action notice starts a round at once, and its token names the
// action.
func TestLifecycleActionNoticeWakesTheLoop(t *testing.T) {
	f := newFixture(t, nil)
	f.setInstance(running())
	f.c.Period = time.Hour
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { f.c.Run(ctx) })
	defer func() { cancel(); wg.Wait() }()
	testenv.EventuallyTrue(t, 10*time.Second, "the first round", func() bool { return f.clouds.Refreshes() >= 2 })
	f.clouds.SetGroups(cloud.NodeGroup{ID: "g", Instances: []cloud.Instance{waiting("")}})
	err := f.c.Notify(context.Background(), termination.Notice{Kind: termination.NoticeLifecycleAction, Token: "tok-1",
		Departure: termination.Departure{InstanceID: "i-0001", Group: "g", Hook: pool.DrainHookName, Cause: termination.CauseScaleIn, NoticedAt: t0}})
	if err != nil {
		t.Fatal(err)
	}
	testenv.EventuallyTrue(t, 10*time.Second, "the action completed", func() bool { return len(f.clouds.Completed()) == 1 })
	if a := f.clouds.Completed()[0]; a.Token != "tok-1" {
		t.Errorf("completed %+v, want the notice's token", a)
	}
	if got := testutil.ToFloat64(f.metrics.Drains.WithLabelValues("scale-in", termination.ReasonNoNode)); got != 1 {
		t.Errorf("drains{scale-in,NoNode} = %v, want 1: the notice's cause when the group says none", got)
	}
}

// TestNoticesForInstancesNewerThanTheSnapshot: a notice may arrive before
// the groups' snapshot holds its instance (the group just launched it): a
// lifecycle action of a managed group is taken on the group's word; a
// warning refreshes the cloud, at most once per interval; another
// group's instance stays unmanaged.
func TestNoticesForInstancesNewerThanTheSnapshot(t *testing.T) {
	f := newFixture(t, testNode(nil), testPod("web", 30, "ReplicaSet"))
	f.setInstance(cloud.Instance{ID: "i-0000", GroupName: "g", State: cloud.InstanceStateRunning})
	refreshes := f.clouds.Refreshes()
	f.notify(termination.Notice{Kind: termination.NoticeLifecycleAction, Token: "tok-1",
		Departure: termination.Departure{InstanceID: "i-0001", Group: "g", Hook: pool.DrainHookName, NoticedAt: t0}})
	if got := testutil.ToFloat64(f.metrics.Notices.WithLabelValues("lifecycle-action", "accepted")); got != 1 {
		t.Errorf("notices{lifecycle-action,accepted} = %v, want 1: its group is managed", got)
	}
	if f.clouds.Refreshes() != refreshes {
		t.Error("a lifecycle action of a managed group refreshed the cloud")
	}
	f.clouds.SetGroups(cloud.NodeGroup{ID: "g", Instances: []cloud.Instance{running()}}) // launched; not refreshed yet
	f.notify(spotWarning(time.Minute))
	if got := testutil.ToFloat64(f.metrics.Notices.WithLabelValues("warning", "accepted")); got != 1 {
		t.Errorf("notices{warning,accepted} = %v, want 1 after a refresh found the instance", got)
	}
	if f.node().Annotations[AnnotationWarningCause] != string(termination.CauseSpotInterruption) {
		t.Errorf("node annotations %v: the warning is not kept", f.node().Annotations)
	}
	refreshes = f.clouds.Refreshes()
	other := spotWarning(time.Minute)
	other.InstanceID = "i-0999"
	f.notify(other) // within the interval of the last refresh
	stranger := termination.Notice{Kind: termination.NoticeLifecycleAction,
		Departure: termination.Departure{InstanceID: "i-0998", Group: "another-cluster", Hook: pool.DrainHookName}}
	f.notify(stranger)
	if f.clouds.Refreshes() != refreshes {
		t.Errorf("unmanaged notices within %s refreshed the cloud %d times", noticeRefreshInterval, f.clouds.Refreshes()-refreshes)
	}
	if got := testutil.ToFloat64(f.metrics.Notices.WithLabelValues("lifecycle-action", "unmanaged")) +
		testutil.ToFloat64(f.metrics.Notices.WithLabelValues("warning", "unmanaged")); got != 2 {
		t.Errorf("unmanaged notices = %v, want 2", got)
	}
}

// fakeHooks is a HookReader with one drain hook per group.
type fakeHooks struct {
	timeout time.Duration
	mu      sync.Mutex
	reads   int
}

func (h *fakeHooks) DescribeLifecycleHooks(_ context.Context, group string) ([]cloud.LifecycleHook, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.reads++
	return []cloud.LifecycleHook{{Name: "other", HeartbeatTimeout: time.Hour},
		{Name: pool.DrainHookName, Transition: "autoscaling:EC2_INSTANCE_TERMINATING", HeartbeatTimeout: h.timeout}}, nil
}

// TestHeartbeatAtAThirdOfTheHooksTimeout: a 30 s hook is heartbeated
// every 10 s; the hook is read once.
func TestHeartbeatAtAThirdOfTheHooksTimeout(t *testing.T) {
	f := newFixture(t, testNode(nil), testPod("web", 30, "ReplicaSet"))
	f.refuse = true
	hooks := &fakeHooks{timeout: 30 * time.Second}
	f.c.Hooks = hooks
	steps := []struct {
		at   time.Duration
		want int
	}{{0, 0}, {9 * time.Second, 0}, {10 * time.Second, 1}, {15 * time.Second, 1}, {20 * time.Second, 2}, {31 * time.Second, 3}}
	for _, s := range steps {
		f.round(s.at)
		if got := len(f.clouds.Heartbeats()); got != s.want {
			t.Fatalf("heartbeats at %s = %d, want %d", s.at, got, s.want)
		}
	}
	if hooks.reads != 1 {
		t.Errorf("hook read %d times, want once (cached)", hooks.reads)
	}
}

func TestHeartbeatInterval(t *testing.T) {
	for _, tc := range []struct{ timeout, upper, want time.Duration }{
		{30 * time.Second, time.Minute, 10 * time.Second},
		{20 * time.Second, time.Minute, 10 * time.Second}, // never below 10 s
		{90 * time.Second, time.Minute, 30 * time.Second},
		{time.Hour, time.Minute, time.Minute}, // the option bounds it
		{0, time.Minute, time.Minute},         // unknown hook
	} {
		if got := HeartbeatInterval(tc.timeout, tc.upper); got != tc.want {
			t.Errorf("HeartbeatInterval(%s, %s) = %s, want %s", tc.timeout, tc.upper, got, tc.want)
		}
	}
}

// TestRebalanceRecommendationCordonsOnly: the Node is cordoned, no pod is
// evicted, no drain begins; a spot interruption after it drains.
func TestRebalanceRecommendationCordonsOnly(t *testing.T) {
	f := newFixture(t, testNode(nil), testPod("web", 30, "ReplicaSet"))
	f.setInstance(running())
	f.notify(termination.Notice{Kind: termination.NoticeWarning, Departure: termination.Departure{
		InstanceID: "i-0001", Cause: termination.CauseRebalanceRecommendation, NoticedAt: t0}})
	f.round(0)
	f.round(5 * time.Second)
	n := f.node()
	if !cordoned(n) || !drainStarted(n).IsZero() || len(f.evicted) != 0 {
		t.Fatalf("cordoned %v, drain started %v, evicted %v: want cordoned only", cordoned(n), drainStarted(n), f.evicted)
	}
	testenv.Contains(t, "events", f.events(), "Normal Cordoned instance i-0001 has a rebalance recommendation")
	f.notify(spotWarning(2 * time.Minute))
	if n := f.node(); n.Annotations[AnnotationWarningCause] != "spot-interruption" {
		t.Fatalf("the spot interruption did not replace the recommendation: %v", n.Annotations)
	}
	f.round(10 * time.Second)
	if len(f.evicted) != 1 {
		t.Errorf("evicted %v after the spot interruption, want web", f.evicted)
	}
	f.notify(termination.Notice{Kind: termination.NoticeWarning, Departure: termination.Departure{
		InstanceID: "i-0001", Cause: termination.CauseRebalanceRecommendation, NoticedAt: t0.Add(time.Minute)}})
	if n := f.node(); n.Annotations[AnnotationWarningCause] != "spot-interruption" {
		t.Errorf("a later recommendation replaced the spot interruption: %v", n.Annotations)
	}
}

func TestNoticesIgnoredAndForgotten(t *testing.T) {
	f := newFixture(t, testNode(nil), testPod("web", 30, "ReplicaSet"))
	f.setInstance(running())
	other := spotWarning(time.Minute)
	other.InstanceID = "i-0999"
	f.notify(other)
	if got := testutil.ToFloat64(f.metrics.Notices.WithLabelValues("warning", "unmanaged")); got != 1 {
		t.Errorf("notices{warning,unmanaged} = %v, want 1", got)
	}
	f.refuse = true
	f.notify(spotWarning(time.Minute))
	f.round(0)
	if got := testutil.ToFloat64(f.metrics.InProgress); got != 1 {
		t.Fatalf("in progress = %v, want 1", got)
	}
	f.notify(termination.Notice{Kind: termination.NoticeStateChange, State: "shutting-down", Departure: termination.Departure{InstanceID: "i-0001"}})
	f.round(5 * time.Second)
	if got := testutil.ToFloat64(f.metrics.InProgress); got != 0 {
		t.Errorf("in progress = %v after shutting-down, want 0", got)
	}
	if got := testutil.ToFloat64(f.metrics.Notices.WithLabelValues("state-change", "forgotten")); got != 1 {
		t.Errorf("notices{state-change,forgotten} = %v, want 1", got)
	}
}

// TestDrainsInTheStatus: a drain in progress is in the status ConfigMap's
// drains key, next to the other keys; the key goes when the drain ends.
func TestDrainsInTheStatus(t *testing.T) {
	f := newFixture(t, testNode(nil), testPod("web", 30, "ReplicaSet"))
	cms := f.client.CoreV1().ConfigMaps(metav1.NamespaceSystem)
	ctx := context.Background()
	_, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: metav1.NamespaceSystem, Name: StatusConfigMap},
		Data: map[string]string{"status": "kept"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f.refuse = true
	f.round(0)
	cm, err := cms.Get(ctx, StatusConfigMap, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var drains []DrainStatus
	if err := json.Unmarshal([]byte(cm.Data[StatusKey]), &drains); err != nil {
		t.Fatalf("drains %q: %v", cm.Data[StatusKey], err)
	}
	want := DrainStatus{Node: "n1", Instance: "i-0001", Group: "g", Cause: "scale-in", Started: t0, PodsLeft: 1, Reason: termination.ReasonDraining}
	if len(drains) != 1 || drains[0] != want {
		t.Errorf("drains = %+v, want %+v", drains, want)
	}
	if cm.Data["status"] != "kept" {
		t.Errorf("the autoscaler's key was lost: %v", cm.Data)
	}
	f.refuse = false
	f.round(5 * time.Second)  // evicts
	f.round(10 * time.Second) // drained: completes
	cm, err = cms.Get(ctx, StatusConfigMap, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := cm.Data[StatusKey]; ok || cm.Data["status"] != "kept" {
		t.Errorf("after the drain: %v, want no drains key", cm.Data)
	}
}

func TestWarningOf(t *testing.T) {
	for _, tc := range []struct {
		name string
		a    map[string]string
		ok   bool
		want termination.Departure
	}{
		{"none", nil, false, termination.Departure{}},
		{"spot", warningAnnotations(spotWarning(time.Minute).Departure), true,
			termination.Departure{Cause: termination.CauseSpotInterruption, NoticedAt: t0, Deadline: t0.Add(time.Minute)}},
		{"no deadline", map[string]string{AnnotationWarningCause: "rebalance-recommendation", AnnotationWarningNoticed: "2026-12-06T12:00:00Z"}, true,
			termination.Departure{Cause: termination.CauseRebalanceRecommendation, NoticedAt: t0}},
		{"not a warning's cause", map[string]string{AnnotationWarningCause: "scale-in", AnnotationWarningNoticed: "2026-12-06T12:00:00Z"}, false, termination.Departure{}},
		{"bad deadline", map[string]string{AnnotationWarningCause: "spot-interruption", AnnotationWarningNoticed: "2026-12-06T12:00:00Z", AnnotationWarningDeadline: "soon"}, false, termination.Departure{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := warningOf(testNode(tc.a))
			if ok != tc.ok || got != tc.want {
				t.Errorf("warningOf = %+v, %v; want %+v, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}
