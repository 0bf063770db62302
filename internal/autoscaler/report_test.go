package autoscaler

import (
	"reflect"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/simulator"
)

func TestReport(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	groups := []cloud.NodeGroup{{ID: "a", Pool: "a", MaxSize: 10, TargetSize: 1}, {ID: "b", MaxSize: 5, TargetSize: 0}}
	plan := Plan{
		Increases: []Increase{
			{Group: "a", InstanceType: "m5.large", Delta: 2, Pods: []string{"ns/p1", "ns/p2"}, Reason: "least waste"},
			{Group: "b", InstanceType: "m5.large", Delta: 1, Pods: []string{"ns/p3"}},
		},
		Placed:        map[string]string{"ns/p0": "node-1"},
		Unschedulable: map[string]map[string]string{"ns/huge": {"a": "Insufficient cpu", "b": "Insufficient cpu"}},
		Unsupported:   map[string]simulator.Reason{"ns/odd": "a reason"},
		Skipped:       map[string]string{"c": "backed off"},
	}
	base := ReportInput{
		Plan: plan, Groups: groups, Applied: map[string]int{"a": 3}, BackedOff: map[string]string{"b": "quota exceeded"},
		Terminated: []string{"i-1"}, Pending: 5, Ready: map[string]int{"a": 1}, Upcoming: map[string]int{"a": 2},
		Backoffs: map[string]Backoff{"b": {Until: now.Add(5 * time.Minute), Reason: "quota exceeded"}}, Failures: map[string]int{"b": 1},
		Expanders: "least-waste", Now: now,
	}
	type ev struct{ key, typ, reason, msg string }
	for _, tc := range []struct {
		name        string
		in          func(ReportInput) ReportInput
		events      []ev
		scaleUp     int
		lastScaleUp []string // groups of the last scale-up's increases
	}{
		{
			name: "applied and backed off increases",
			in:   func(in ReportInput) ReportInput { return in },
			events: []ev{
				{"ns/p1", corev1.EventTypeNormal, ReasonTriggeredScaleUp, "pod triggered scale-up: [{a 1->3 (max: 10)}]"},
				{"ns/p2", corev1.EventTypeNormal, ReasonTriggeredScaleUp, "pod triggered scale-up: [{a 1->3 (max: 10)}]"},
				{"ns/p3", corev1.EventTypeWarning, ReasonNotTriggerScaleUp, "pod didn't trigger scale-up: b: quota exceeded"},
				{"ns/huge", corev1.EventTypeNormal, ReasonNotTriggerScaleUp, "pod didn't trigger scale-up: a: Insufficient cpu; b: Insufficient cpu"},
				{"ns/odd", corev1.EventTypeWarning, ReasonNotTriggerScaleUp, "pod didn't trigger scale-up: kelp cannot simulate it: a reason"},
			},
			scaleUp: 2, lastScaleUp: []string{"a"},
		},
		{
			name: "dry run: every increase would trigger",
			in: func(in ReportInput) ReportInput {
				in.DryRun, in.Applied, in.BackedOff = true, map[string]int{}, map[string]string{}
				return in
			},
			events: []ev{
				{"ns/p1", corev1.EventTypeNormal, ReasonTriggeredScaleUp, "dry run: pod would trigger scale-up: [{a 1->3 (max: 10)}]"},
				{"ns/p2", corev1.EventTypeNormal, ReasonTriggeredScaleUp, "dry run: pod would trigger scale-up: [{a 1->3 (max: 10)}]"},
				{"ns/p3", corev1.EventTypeNormal, ReasonTriggeredScaleUp, "dry run: pod would trigger scale-up: [{b 0->1 (max: 5)}]"},
				{"ns/huge", corev1.EventTypeNormal, ReasonNotTriggerScaleUp, "pod didn't trigger scale-up: a: Insufficient cpu; b: Insufficient cpu"},
				{"ns/odd", corev1.EventTypeWarning, ReasonNotTriggerScaleUp, "pod didn't trigger scale-up: kelp cannot simulate it: a reason"},
			},
			scaleUp: 3, lastScaleUp: []string{"a", "b"},
		},
		{
			name: "nothing grown keeps the previous scale-up",
			in: func(in ReportInput) ReportInput {
				in.Plan = Plan{}
				in.LastScaleUp = &ScaleUpRecord{Time: "earlier", Increases: []IncreaseSummary{{Group: "b"}}}
				return in
			},
			lastScaleUp: []string{"b"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, events := Report(tc.in(base))
			var got []ev
			for _, e := range events {
				if e.Kind != KindPod {
					t.Errorf("event on a %s", e.Kind)
				}
				got = append(got, ev{e.Key, e.Type, e.Reason, e.Message})
			}
			if !reflect.DeepEqual(got, tc.events) {
				t.Errorf("events\n%v\nwant\n%v", got, tc.events)
			}
			if st.LastDecision.ScaleUp != tc.scaleUp {
				t.Errorf("scale-up pods %d, want %d", st.LastDecision.ScaleUp, tc.scaleUp)
			}
			var last []string
			if st.LastScaleUp != nil {
				for _, inc := range st.LastScaleUp.Increases {
					last = append(last, inc.Group)
				}
			}
			if !reflect.DeepEqual(last, tc.lastScaleUp) {
				t.Errorf("last scale-up %v, want %v", last, tc.lastScaleUp)
			}
		})
	}

	st, _ := Report(base)
	want := []PoolStatus{
		{Group: "a", Pool: "a", MaxSize: 10, TargetSize: 1, Ready: 1, Upcoming: 2},
		{Group: "b", MaxSize: 5, Backoff: &BackoffStatus{Until: "2026-11-26T12:05:00Z", Reason: "quota exceeded", Failures: 1}},
	}
	if !reflect.DeepEqual(st.Pools, want) {
		t.Errorf("pools %+v, want %+v", st.Pools, want)
	}
	if d := st.LastDecision; d.FitExisting != 1 || d.NoScaleUp != 1 || d.Unsupported != 1 || st.UnschedulablePods != 5 ||
		!reflect.DeepEqual(d.Terminated, []string{"i-1"}) || d.Skipped["c"] != "backed off" || len(d.NoScaleUpExamples) != 1 {
		t.Errorf("decision %+v", d)
	}
	stable, err := st.Render(true)
	if err != nil || strings.Count(stable, "time: \"2026-11-26T12:00:00Z\"") != 1 { // the last scale-up's only
		t.Errorf("stable rendering has the cycle's time: %v\n%s", err, stable)
	}
	full, err := st.Render(false)
	if err != nil || strings.Count(full, "time: \"2026-11-26T12:00:00Z\"") != 3 { // status, decision, last scale-up
		t.Errorf("full rendering: %v\n%s", err, full)
	}
}

func TestReportScaleDown(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	plan := ScaleDownPlan{
		Unneeded: map[string]time.Time{"n2": now, "n1": now},
		Blocked: map[string]Blocker{
			"n3": {BlockedPDB, "pdb ns/web"}, "n4": {BlockedNotUnneededLongEnough, ""}, "n5": {BlockedNotSafeToEvict, "pod ns/x"},
		},
	}
	for _, tc := range []struct {
		name string
		in   ScaleDownReportInput
		want ScaleDownStatus
		// events are the nodes with a ScaleDownBlocked event.
		events []string
	}{
		{name: "skipped: no plan, no events",
			in:   ScaleDownReportInput{Skipped: "scaled up in this cycle", Plan: plan, Removing: []string{"n9"}},
			want: ScaleDownStatus{Enabled: true, Skipped: "scaled up in this cycle", Removing: []string{"n9"}}},
		{name: "planned: user blockers get events and examples",
			in: ScaleDownReportInput{Plan: plan, Removing: []string{"n9", "n1", "n9"}, LastRemoval: now,
				LastFailure: now.Add(-time.Minute), FailedNode: "n7", FailureErr: "boom"},
			want: ScaleDownStatus{Enabled: true, Unneeded: []string{"n1", "n2"}, Removing: []string{"n1", "n9"},
				Blocked:         map[string]int{"NotEnoughPdb": 1, "NotUnneededLongEnough": 1, "NotSafeToEvictAnnotation": 1},
				BlockedExamples: []NodeReason{{"n3", "NotEnoughPdb: pdb ns/web"}, {"n5", "NotSafeToEvictAnnotation: pod ns/x"}},
				LastRemoval:     "2026-11-26T12:00:00Z", LastFailure: "2026-11-26T11:59:00Z: n7: boom"},
			events: []string{"n3", "n5"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, events := ReportScaleDown(tc.in)
			if !reflect.DeepEqual(st, tc.want) {
				t.Errorf("status %+v\nwant %+v", st, tc.want)
			}
			var got []string
			for _, e := range events {
				if e.Kind != KindNode || e.Reason != ReasonScaleDownBlocked || !strings.HasPrefix(e.Message, "kelp keeps the node: ") {
					t.Errorf("event %+v", e)
				}
				got = append(got, e.Key)
			}
			if !reflect.DeepEqual(got, tc.events) {
				t.Errorf("events on %v, want %v", got, tc.events)
			}
		})
	}
}

func TestScaleDownSkip(t *testing.T) {
	for _, tc := range []struct {
		scaledUp   bool
		onUpcoming int
		want       string
	}{
		{false, 0, ""},
		{true, 0, "scaled up in this cycle"},
		{true, 3, "scaled up in this cycle"},
		{false, 2, "2 pending pod(s) wait for upcoming nodes"},
	} {
		if got := ScaleDownSkip(tc.scaledUp, tc.onUpcoming); got != tc.want {
			t.Errorf("ScaleDownSkip(%t, %d) = %q, want %q", tc.scaledUp, tc.onUpcoming, got, tc.want)
		}
	}
}

func TestBindPlaced(t *testing.T) {
	snap := simulator.NewSnapshot()
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "real", Labels: map[string]string{corev1.LabelHostname: "real"}},
		Status: corev1.NodeStatus{Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourcePods: resource.MustParse("10")}}}
	if err := snap.AddNode(node); err != nil {
		t.Fatal(err)
	}
	var pending []simulator.PodInfo
	for _, name := range []string{"a", "b"} {
		pending = append(pending, simulator.PodInfo{Pod: &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Resources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m")}}}}}}})
	}
	plan := Plan{Placed: map[string]string{"ns/a": "real", "ns/b": "g-upcoming-0"}}
	got, onUpcoming := BindPlaced(snap, pending, plan)
	if onUpcoming != 1 {
		t.Fatalf("%d pods on upcoming nodes, want 1", onUpcoming)
	}
	if info, _ := got.Node("real"); len(info.Pods) != 1 || info.Requested.MilliCPU != 500 {
		t.Fatalf("real node in the scale-down snapshot: %d pods, %dm requested; want the placed pod", len(info.Pods), info.Requested.MilliCPU)
	}
	if info, _ := snap.Node("real"); len(info.Pods) != 0 {
		t.Fatal("the cycle's snapshot was modified")
	}
	if same, n := BindPlaced(snap, pending, Plan{}); same != snap || n != 0 {
		t.Fatal("a plan that placed nothing must not fork")
	}
}
