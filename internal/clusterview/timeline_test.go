package clusterview

import (
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func nodeEvent(node, reason, msg, rv string, at time.Time, mutate ...func(*corev1.Event)) *corev1.Event {
	e := &corev1.Event{ObjectMeta: metav1.ObjectMeta{ResourceVersion: rv}, InvolvedObject: corev1.ObjectReference{Kind: "Node", Name: node},
		Reason: reason, Message: msg, Type: corev1.EventTypeNormal, FirstTimestamp: metav1.NewTime(at), LastTimestamp: metav1.NewTime(at)}
	for _, m := range mutate {
		m(e)
	}
	return e
}

// TestTimelineObjectsAndOrder: an entry grouping several objects' events
// names them all; events of one second read in the order they happened.
func TestTimelineObjectsAndOrder(t *testing.T) {
	at := now.Add(-time.Minute)
	const removing, removed = "kelp is removing the node: evicting 0 pod(s)", "kelp removed the node"
	tests := []struct {
		name   string
		events []*corev1.Event
		want   []string // reason|object|count message, newest first
	}{{
		name: "three nodes removed at once: one entry naming the three",
		events: []*corev1.Event{nodeEvent("ip-a", "ScaleDown", removing, "10", at), nodeEvent("ip-b", "ScaleDown", removing, "11", at),
			nodeEvent("ip-c", "ScaleDown", removing, "12", at)},
		want: []string{"ScaleDown|node/ip-a, node/ip-b, node/ip-c|3 " + removing},
	}, {
		name:   "one node's events repeated: one object, counted",
		events: []*corev1.Event{nodeEvent("ip-a", "ScaleDownBlocked", "pdb", "10", at), nodeEvent("ip-a", "ScaleDownBlocked", "pdb", "11", at)},
		want:   []string{"ScaleDownBlocked|node/ip-a|2 pdb"},
	}, {
		name: "seven objects: the first five, then how many more",
		events: []*corev1.Event{nodeEvent("a", "X", "m", "1", at), nodeEvent("b", "X", "m", "2", at), nodeEvent("c", "X", "m", "3", at),
			nodeEvent("d", "X", "m", "4", at), nodeEvent("e", "X", "m", "5", at), nodeEvent("f", "X", "m", "6", at), nodeEvent("g", "X", "m", "7", at)},
		want: []string{"X|node/a, node/b, node/c, node/d, node/e and 2 more|7 m"},
	}, {
		name: "same second: the later write first (resourceVersion), whatever the list order",
		events: []*corev1.Event{nodeEvent("ip-a", "ScaleDown", removing, "9", at),
			nodeEvent("ip-a", "ScaleDown", removed, "20", at)},
		want: []string{"ScaleDown|node/ip-a|1 " + removed, "ScaleDown|node/ip-a|1 " + removing},
	}, {
		name: "same second: the event time's microseconds order first",
		events: []*corev1.Event{
			nodeEvent("ip-a", "ScaleDown", removing, "30", at, func(e *corev1.Event) { e.EventTime = metav1.NewMicroTime(at.Add(100 * time.Millisecond)) }),
			nodeEvent("ip-a", "ScaleDown", removed, "20", at, func(e *corev1.Event) { e.EventTime = metav1.NewMicroTime(at.Add(900 * time.Millisecond)) }),
		},
		want: []string{"ScaleDown|node/ip-a|1 " + removed, "ScaleDown|node/ip-a|1 " + removing},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, d := range Build(Input{Now: now, Events: tt.events}).Timeline {
				got = append(got, d.Reason+"|"+d.Object+"|"+itoa(d.Count)+" "+d.Message)
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("timeline\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// TestLastScaleUpAndDown: the last scale-up and scale-down stay in the
// view however many decisions came after them.
func TestLastScaleUpAndDown(t *testing.T) {
	at := now.Add(-time.Minute)
	var events []*corev1.Event
	events = append(events, nodeEvent("ip-old", "ScaleDown", "kelp removed the node", "1", at.Add(-time.Minute)),
		nodeEvent("ip-new", "ScaleDown", "kelp removed the node", "2", at),
		nodeEvent("ip-x", "ScaleDownBlocked", "pdb", "3", at.Add(time.Second)))
	for i := range MaxTimeline {
		events = append(events, &corev1.Event{InvolvedObject: corev1.ObjectReference{Kind: "CertificateSigningRequest", Name: "csr-" + itoa(i)},
			Reason: "AutoApproved", Message: "approved", LastTimestamp: metav1.NewTime(now)})
	}
	tests := []struct {
		name           string
		in             Input
		wantUp, wantDn string // reason|object, "" for nil
	}{
		{"nothing known", Input{Now: now}, "", ""},
		{"status and events, the timeline full of approvals", Input{Now: now, Status: status, Events: events},
			"LastScaleUp|status", "ScaleDown|node/ip-new"},
		{"events expired: the status's last removal", Input{Now: now,
			Status: strings.Replace(status, "scaleDown: {enabled: true}", `scaleDown: {enabled: true, lastRemoval: "2026-05-01T11:30:00Z"}`, 1)},
			"LastScaleUp|status", "LastRemoval|status"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := Build(tt.in)
			str := func(d *Decision) string {
				if d == nil {
					return ""
				}
				return d.Reason + "|" + d.Object
			}
			if str(v.LastScaleUp) != tt.wantUp || str(v.LastScaleDown) != tt.wantDn {
				t.Errorf("last scale-up %q, scale-down %q; want %q, %q", str(v.LastScaleUp), str(v.LastScaleDown), tt.wantUp, tt.wantDn)
			}
		})
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
