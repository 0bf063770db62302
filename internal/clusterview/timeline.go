package clusterview

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/kelp-dev/kelp/internal/autoscaler"
)

// MaxTimeline bounds the decisions a View carries, newest first.
const MaxTimeline = 200

// Decision kinds of the timeline.
const (
	KindScaleUp   = "scale-up"
	KindNoScaleUp = "no-scale-up"
	KindScaleDown = "scale-down"
	KindCSR       = "csr"
	KindDrain     = "drain"
	KindCloud     = "cloud"
	KindNode      = "node"
	KindOther     = "other"
)

// Decision is one entry of the timeline: an Event kelp recorded (the same
// reason and message in the same second counted as one, listing the
// objects), or a fact of the leader's status.
type Decision struct {
	Time    time.Time `json:"time"`
	Kind    string    `json:"kind"`
	Warning bool      `json:"warning,omitempty"`
	Reason  string    `json:"reason"`
	// Object is the object of the event (kind/namespace/name); when the
	// entry counts events of several objects, it lists them (the first
	// maxObjects, then how many more), comma-separated.
	Object  string `json:"object,omitempty"`
	Count   int    `json:"count"`
	Message string `json:"message"`
}

// maxObjects bounds the objects one entry names.
const maxObjects = 5

// kinds classifies event reasons; CSR events are KindCSR by their object.
var kinds = map[string]string{
	autoscaler.ReasonTriggeredScaleUp: KindScaleUp, autoscaler.ReasonNotTriggerScaleUp: KindNoScaleUp,
	autoscaler.ReasonScaleUpBudgetExhausted: KindNoScaleUp, autoscaler.ReasonClusterUnhealthy: KindOther,
	autoscaler.ReasonScaleDownBlocked: KindScaleDown, "ScaleDown": KindScaleDown, "ScaleDownFailed": KindScaleDown,
	"ScaleDownAborted": KindScaleDown, "InstanceTerminated": KindNode, "InstanceGone": KindNode, "NotInCloud": KindNode,
	"DeletingNode": KindNode, "IdentityJoined": KindNode,
}

func kindOf(e *corev1.Event) string {
	if e.InvolvedObject.Kind == "CertificateSigningRequest" {
		return KindCSR
	}
	if k, ok := kinds[e.Reason]; ok {
		return k
	}
	r := strings.ToLower(e.Reason)
	switch {
	case strings.Contains(r, "drain") || strings.Contains(r, "evict") || strings.Contains(r, "terminat"):
		return KindDrain
	case strings.Contains(r, "launch") || strings.Contains(r, "backoff") || strings.Contains(r, "cloud"):
		return KindCloud
	}
	return KindOther
}

// eventTime is when the event last happened: its last timestamp, or its
// event time (microseconds) when that is the more precise of the two.
func eventTime(e *corev1.Event) time.Time {
	last := e.LastTimestamp.Time
	if s := e.Series; s != nil && s.LastObservedTime.Time.After(last) {
		last = s.LastObservedTime.Time
	}
	switch et := e.EventTime.Time; {
	case !et.IsZero() && (last.IsZero() || et.Truncate(time.Second).Equal(last.Truncate(time.Second))):
		return et
	case !last.IsZero():
		return last
	case !e.FirstTimestamp.IsZero():
		return e.FirstTimestamp.Time
	}
	return e.CreationTimestamp.Time
}

// resourceVersion orders the writes of events of one second (etcd's
// revision); 0 when it is not a number.
func resourceVersion(e *corev1.Event) uint64 {
	rv, _ := strconv.ParseUint(e.ResourceVersion, 10, 64)
	return rv
}

// firstTime is when the event first happened.
func firstTime(e *corev1.Event) time.Time {
	switch {
	case !e.FirstTimestamp.IsZero():
		return e.FirstTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	}
	return eventTime(e)
}

func objectOf(r corev1.ObjectReference) string {
	if r.Namespace != "" {
		return strings.ToLower(r.Kind) + "/" + r.Namespace + "/" + r.Name
	}
	return strings.ToLower(r.Kind) + "/" + r.Name
}

// timelineOf merges the events (grouped by second, reason and message,
// naming every object) and the status's facts, newest first — within a
// second by event time, then by the order the API server wrote them — at
// most MaxTimeline.
func timelineOf(in Input, st *autoscaler.Status) []Decision {
	type key struct {
		at              int64
		reason, message string
	}
	type entry struct {
		Decision
		objects []string
		rv      uint64
	}
	index := map[key]int{}
	var entries []entry
	for _, e := range in.Events {
		at, obj, rv := eventTime(e), Redact(objectOf(e.InvolvedObject)), resourceVersion(e)
		k := key{at.Unix(), e.Reason, e.Message}
		if i, ok := index[k]; ok {
			en := &entries[i]
			en.Count++
			if !slices.Contains(en.objects, obj) {
				en.objects = append(en.objects, obj)
			}
			if at.After(en.Time) {
				en.Time = at
			}
			en.rv = max(en.rv, rv)
			continue
		}
		index[k] = len(entries)
		entries = append(entries, entry{Decision: Decision{Time: at, Kind: kindOf(e), Warning: e.Type == corev1.EventTypeWarning,
			Reason: e.Reason, Count: 1, Message: Redact(e.Message)}, objects: []string{obj}, rv: rv})
	}
	for _, d := range statusDecisions(st) {
		entries = append(entries, entry{Decision: d})
	}
	slices.SortStableFunc(entries, func(a, b entry) int {
		return cmp.Or(b.Time.Compare(a.Time), cmp.Compare(b.rv, a.rv))
	})
	out := make([]Decision, 0, min(len(entries), MaxTimeline))
	for _, en := range entries[:min(len(entries), MaxTimeline)] {
		if en.objects != nil {
			en.Object = listObjects(en.objects)
		}
		out = append(out, en.Decision)
	}
	return out
}

// listObjects names the objects of an entry, the first maxObjects of them.
func listObjects(objs []string) string {
	if len(objs) <= maxObjects {
		return strings.Join(objs, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(objs[:maxObjects], ", "), len(objs)-maxObjects)
}

// statusDecisions are the status's last scale-up (with the expander's
// choice), its running backoffs and its last scale-down failure.
func statusDecisions(st *autoscaler.Status) []Decision {
	if st == nil {
		return nil
	}
	var out []Decision
	if d := lastScaleUp(st); d != nil {
		out = append(out, *d)
	}
	for _, p := range st.Pools {
		if b := p.Backoff; b != nil {
			until := parseTime(b.Until)
			out = append(out, Decision{Time: until, Kind: KindCloud, Warning: true, Reason: "BackedOff", Object: "group/" + p.Group,
				Count: b.Failures, Message: Redact(fmt.Sprintf("scale-up skips %s until %s: %s", p.Group, b.Until, b.Reason))})
		}
	}
	if f := st.ScaleDown.LastFailure; f != "" {
		out = append(out, Decision{Time: parseTime(st.Time), Kind: KindScaleDown, Warning: true, Reason: "ScaleDownFailed",
			Object: "status", Count: 1, Message: Redact(f)})
	}
	return out
}

// lastScaleUp is the status's last scale-up with the expanders' choice,
// nil when there was none.
func lastScaleUp(st *autoscaler.Status) *Decision {
	s := st.LastScaleUp
	if s == nil {
		return nil
	}
	var parts []string
	for _, inc := range s.Increases {
		parts = append(parts, fmt.Sprintf("%s +%d %s for %d pod(s): %s", inc.Group, inc.Delta, inc.InstanceType, inc.Pods, inc.Reason))
	}
	msg := "expanders " + expanders(st) + " chose " + strings.Join(parts, "; ")
	if s.DryRun {
		msg = "(dry run) " + msg
	}
	return &Decision{Time: parseTime(s.Time), Kind: KindScaleUp, Reason: "LastScaleUp", Object: "status",
		Count: len(s.Increases), Message: Redact(msg)}
}

// lastScaleDown is the newest removal of a node the timeline holds (its
// ScaleDown, ScaleDownFailed or ScaleDownAborted event), else the time of
// the status's last removal; nil when neither says one.
func lastScaleDown(timeline []Decision, st *autoscaler.Status) *Decision {
	for _, d := range timeline {
		if d.Kind == KindScaleDown && d.Reason != autoscaler.ReasonScaleDownBlocked && strings.HasPrefix(d.Object, "node/") {
			return &d
		}
	}
	if st == nil || st.ScaleDown.LastRemoval == "" {
		return nil
	}
	return &Decision{Time: parseTime(st.ScaleDown.LastRemoval), Kind: KindScaleDown, Reason: "LastRemoval", Object: "status",
		Count: 1, Message: "kelp removed a node (its events have expired)"}
}

func parseTime(s string) time.Time {
	t, _ := time.Parse(time.RFC3339, s)
	return t
}
