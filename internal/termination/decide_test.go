package termination

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var t0 = time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)

// scaleIn is an instance its group holds on kelp's hook after a scale-in,
// noticed at t0, with a Node, cordoned, two pods left, drain begun at t0.
func scaleIn(mutate ...func(*Facts)) Facts {
	f := Facts{
		Departure: Departure{InstanceID: "i-0abc", Group: "kelp-dev-general", Hook: "kelp-drain", Cause: CauseScaleIn, NoticedAt: t0},
		Node:      &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "ip-10-0-0-1.ec2.internal"}},
		Cordoned:  true, PodsLeft: 2, DrainStarted: t0, Now: t0.Add(10 * time.Second),
	}
	for _, m := range mutate {
		m(&f)
	}
	return f
}

func TestDecide(t *testing.T) {
	for _, tc := range []struct {
		name  string
		facts Facts
		want  Plan // Message is checked for Want* substrings instead
		in    []string
	}{
		{"a fresh scale-in: cordon, evict, within the bound", scaleIn(func(f *Facts) { f.Cordoned, f.DrainStarted, f.Now = false, time.Time{}, t0 }),
			Plan{Cordon: true, Evict: true, EvictGrace: DefaultMaxGracefulTermination, Reason: ReasonDraining, RetryAfter: defaultRetry},
			[]string{"instance i-0abc is being terminated by its group kelp-dev-general: scale-in", "draining, 2 pods to evict"}},
		{"draining: evict again, no heartbeat yet", scaleIn(),
			Plan{Evict: true, EvictGrace: DefaultMaxGracefulTermination - 10*time.Second, Reason: ReasonDraining, RetryAfter: defaultRetry}, nil},
		{"draining past the heartbeat interval: heartbeat", scaleIn(func(f *Facts) { f.Now = t0.Add(DefaultHeartbeatInterval) }),
			Plan{Evict: true, EvictGrace: DefaultMaxGracefulTermination - DefaultHeartbeatInterval, Heartbeat: true, Reason: ReasonDraining, RetryAfter: defaultRetry}, nil},
		{"a heartbeat sent recently: none now", scaleIn(func(f *Facts) {
			f.Now, f.LastHeartbeat = t0.Add(90*time.Second), t0.Add(60*time.Second)
		}), Plan{Evict: true, EvictGrace: DefaultMaxGracefulTermination - 90*time.Second, Reason: ReasonDraining, RetryAfter: defaultRetry}, nil},
		{"retry no later than the next heartbeat", scaleIn(func(f *Facts) { f.Now = t0.Add(58 * time.Second) }),
			Plan{Evict: true, EvictGrace: DefaultMaxGracefulTermination - 58*time.Second, Reason: ReasonDraining, RetryAfter: 2 * time.Second}, nil},
		{"drained: complete and delete the Node", scaleIn(func(f *Facts) { f.PodsLeft = 0 }),
			Plan{Complete: true, DeleteNode: true, Done: true, Reason: ReasonDrained}, []string{"drained", "CONTINUE"}},
		{"an instance kelp's scale-down already drained: complete at once", scaleIn(func(f *Facts) { f.PodsLeft, f.DrainStarted = 0, time.Time{} }),
			Plan{Complete: true, DeleteNode: true, Done: true, Reason: ReasonDrained}, nil},
		{"cordoned but not by kelp yet, nothing left: cordon, then complete next round", scaleIn(func(f *Facts) { f.PodsLeft, f.Cordoned = 0, false }),
			Plan{Cordon: true, EvictGrace: DefaultMaxGracefulTermination - 10*time.Second, Reason: ReasonDraining, RetryAfter: defaultRetry},
			[]string{"no pod to evict"}},
		{"no Node: complete at once", scaleIn(func(f *Facts) { f.Node = nil }),
			Plan{Complete: true, Done: true, Reason: ReasonNoNode}, []string{"has no Node"}},
		{"a PDB blocks past the bound: give up, let it go", scaleIn(func(f *Facts) { f.Now = t0.Add(DefaultMaxGracefulTermination) }),
			Plan{Complete: true, DeleteNode: true, Done: true, GaveUp: true, Reason: ReasonDrainTimedOut},
			[]string{"2 pods still on the node", "letting it go", "CONTINUE"}},
		{"the bound counts from the drain's start after a restart", scaleIn(func(f *Facts) { f.Now = t0.Add(DefaultMaxGracefulTermination - time.Second) }),
			Plan{Evict: true, EvictGrace: time.Second, Reason: ReasonDraining, RetryAfter: time.Second, Heartbeat: true}, nil},
		{"a spot interruption: the deadline bounds the drain and the grace", Facts{
			Departure: Departure{InstanceID: "i-0spot", Cause: CauseSpotInterruption, NoticedAt: t0, Deadline: t0.Add(2 * time.Minute)},
			Node:      &corev1.Node{}, PodsLeft: 3, Now: t0,
		}, Plan{Cordon: true, Evict: true, EvictGrace: 2*time.Minute - DefaultDeadlineMargin, Reason: ReasonDraining, RetryAfter: defaultRetry},
			[]string{"gets a spot interruption at 2026-12-06T12:02:00Z"}},
		{"a spot interruption at its margin: give up without a hook", Facts{
			Departure: Departure{InstanceID: "i-0spot", Cause: CauseSpotInterruption, NoticedAt: t0, Deadline: t0.Add(2 * time.Minute)},
			Node:      &corev1.Node{}, Cordoned: true, PodsLeft: 1, DrainStarted: t0, Now: t0.Add(2*time.Minute - DefaultDeadlineMargin),
		}, Plan{Done: true, GaveUp: true, Reason: ReasonDrainTimedOut}, nil},
		{"a rebalance recommendation drained: the node stays cordoned", Facts{
			Departure: Departure{InstanceID: "i-0spot", Cause: CauseRebalanceRecommendation, NoticedAt: t0},
			Node:      &corev1.Node{}, Cordoned: true, Now: t0,
		}, Plan{Done: true, Reason: ReasonDrainedWaiting}, []string{"rebalance recommendation", "stays cordoned"}},
		{"a scheduled change names its time", Facts{
			Departure: Departure{InstanceID: "i-0old", Cause: CauseScheduledChange, NoticedAt: t0, Deadline: t0.Add(time.Hour)},
			Node:      &corev1.Node{}, Cordoned: true, PodsLeft: 1, DrainStarted: t0, Now: t0,
		}, Plan{Evict: true, EvictGrace: DefaultMaxGracefulTermination, Reason: ReasonDraining, RetryAfter: defaultRetry},
			[]string{"scheduled maintenance at 2026-12-06T13:00:00Z"}},
		{"a rebalance recommendation: cordon only, pods stay", Facts{
			Departure: Departure{InstanceID: "i-0spot", Cause: CauseRebalanceRecommendation, NoticedAt: t0},
			Node:      &corev1.Node{}, PodsLeft: 2, Now: t0,
		}, Plan{Cordon: true, CordonOnly: true, Done: true, Reason: ReasonCordoned}, []string{"rebalance recommendation", "no new pods land", "pods stay"}},
		{"a rebalance recommendation already cordoned: nothing to do", Facts{
			Departure: Departure{InstanceID: "i-0spot", Cause: CauseRebalanceRecommendation, NoticedAt: t0},
			Node:      &corev1.Node{}, Cordoned: true, PodsLeft: 2, Now: t0.Add(time.Hour),
		}, Plan{CordonOnly: true, Done: true, Reason: ReasonCordoned}, nil},
		{"a rebalance recommendation the group then holds on the hook: drained", Facts{
			Departure: Departure{InstanceID: "i-0spot", Group: "g", Hook: "kelp-drain", Cause: CauseRebalanceRecommendation, NoticedAt: t0},
			Node:      &corev1.Node{}, Cordoned: true, PodsLeft: 2, DrainStarted: t0, Now: t0,
		}, Plan{Evict: true, EvictGrace: DefaultMaxGracefulTermination, Reason: ReasonDraining, RetryAfter: defaultRetry}, nil},
		{"a scheduled change days ahead: cordon now, drain later", Facts{
			Departure: Departure{InstanceID: "i-0old", Cause: CauseScheduledChange, NoticedAt: t0, Deadline: t0.Add(48 * time.Hour)},
			Node:      &corev1.Node{}, PodsLeft: 1, Now: t0,
		}, Plan{Cordon: true, CordonOnly: true, Reason: ReasonCordoned, RetryAfter: 48*time.Hour - DefaultMaxGracefulTermination - DefaultDeadlineMargin},
			[]string{"scheduled maintenance at 2026-12-08T12:00:00Z", "draining from 2026-12-08T11:49:45Z"}},
		{"a scheduled change whose window opened: drain against its start", Facts{
			Departure: Departure{InstanceID: "i-0old", Cause: CauseScheduledChange, NoticedAt: t0, Deadline: t0.Add(5 * time.Minute)},
			Node:      &corev1.Node{}, Cordoned: true, PodsLeft: 1, Now: t0,
		}, Plan{Evict: true, EvictGrace: 5*time.Minute - DefaultDeadlineMargin, Reason: ReasonDraining, RetryAfter: defaultRetry}, nil},
		{"a scheduled change without a start: drain", Facts{
			Departure: Departure{InstanceID: "i-0old", Cause: CauseScheduledChange, NoticedAt: t0},
			Node:      &corev1.Node{}, PodsLeft: 1, Now: t0,
		}, Plan{Cordon: true, Evict: true, EvictGrace: DefaultMaxGracefulTermination, Reason: ReasonDraining, RetryAfter: defaultRetry}, nil},
		{"a spot interruption held on the hook: the deadline still bounds it", scaleIn(func(f *Facts) {
			f.Cause, f.Deadline, f.Now = CauseSpotInterruption, t0.Add(2*time.Minute), t0.Add(2*time.Minute-DefaultDeadlineMargin)
		}), Plan{Complete: true, DeleteNode: true, Done: true, GaveUp: true, Reason: ReasonDrainTimedOut}, []string{"spot interruption at 2026-12-06T12:02:00Z", "CONTINUE"}},
		{"a spot interruption the group reports without a deadline", scaleIn(func(f *Facts) { f.Cause, f.PodsLeft = CauseSpotInterruption, 0 }),
			Plan{Complete: true, DeleteNode: true, Done: true, Reason: ReasonDrained}, []string{"by its group kelp-dev-general: spot-interruption"}},
		{"an unknown cause names none", scaleIn(func(f *Facts) { f.Cause, f.PodsLeft = CauseUnknown, 0 }),
			Plan{Complete: true, DeleteNode: true, Done: true, Reason: ReasonDrained}, []string{"by its group kelp-dev-general: drained"}},
		{"an unhealthy instance", scaleIn(func(f *Facts) { f.Cause, f.PodsLeft = CauseUnhealthy, 0 }),
			Plan{Complete: true, DeleteNode: true, Done: true, Reason: ReasonDrained}, []string{"by its group kelp-dev-general: unhealthy"}},
		{"an instance refresh", scaleIn(func(f *Facts) { f.Cause, f.PodsLeft = CauseInstanceRefresh, 0 }),
			Plan{Complete: true, DeleteNode: true, Done: true, Reason: ReasonDrained}, []string{"by its group kelp-dev-general: instance-refresh"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Decide(tc.facts)
			msg := got.Message
			got.Message = ""
			if got != tc.want {
				t.Errorf("Decide =\n %+v\nwant\n %+v", got, tc.want)
			}
			for _, s := range tc.in {
				if !strings.Contains(msg, s) {
					t.Errorf("message %q lacks %q", msg, s)
				}
			}
			if msg == "" {
				t.Error("no message")
			}
		})
	}
}

// TestDecideNeverHoldsPastTheBound: whatever the facts, a drain that has
// reached its bound is done, and a plan never evicts with a grace period
// that reaches past it.
func TestDecideNeverHoldsPastTheBound(t *testing.T) {
	for elapsed := time.Duration(0); elapsed <= DefaultMaxGracefulTermination+time.Minute; elapsed += 7 * time.Second {
		for _, deadline := range []time.Duration{0, time.Minute, 2 * time.Minute, time.Hour} {
			f := scaleIn(func(f *Facts) {
				f.Now = t0.Add(elapsed)
				if deadline > 0 {
					f.Deadline = t0.Add(deadline)
				}
			})
			p := Decide(f)
			bound := f.bound(f.Options.WithDefaults())
			if !f.Now.Before(bound) && !p.Done {
				t.Fatalf("elapsed %s deadline %s: past the bound %s but not done: %+v", elapsed, deadline, bound, p)
			}
			if p.Evict && f.Now.Add(p.EvictGrace).After(bound) {
				t.Fatalf("elapsed %s deadline %s: grace %s reaches past the bound", elapsed, deadline, p.EvictGrace)
			}
			if !p.Done && p.RetryAfter < minRetry {
				t.Fatalf("elapsed %s: retry %s", elapsed, p.RetryAfter)
			}
		}
	}
}

func TestOptionsValidate(t *testing.T) {
	if err := (Options{}).Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	err := Options{MaxGracefulTermination: time.Millisecond, HeartbeatInterval: time.Second, DeadlineMargin: -1}.Validate()
	for _, want := range []string{"max graceful termination", "heartbeat interval", "deadline margin"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate = %v, want it to name %s", err, want)
		}
	}
}
