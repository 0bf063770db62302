package clusterview

import (
	"fmt"
	"slices"
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
// reason and message on several objects at once counted as one), or a fact
// of the leader's status.
type Decision struct {
	Time    time.Time `json:"time"`
	Kind    string    `json:"kind"`
	Warning bool      `json:"warning,omitempty"`
	Reason  string    `json:"reason"`
	// Object is the object of the event (kind/namespace/name), the first
	// one when Count > 1.
	Object  string `json:"object,omitempty"`
	Count   int    `json:"count"`
	Message string `json:"message"`
}

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

// eventTime is when the event last happened.
func eventTime(e *corev1.Event) time.Time {
	switch {
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	case !e.FirstTimestamp.IsZero():
		return e.FirstTimestamp.Time
	}
	return e.CreationTimestamp.Time
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

// timelineOf merges the events (grouped by second, reason and message)
// and the status's facts, newest first, at most MaxTimeline.
func timelineOf(in Input, st *autoscaler.Status) []Decision {
	type key struct {
		at              int64
		reason, message string
	}
	index := map[key]int{}
	out := []Decision{}
	for _, e := range in.Events {
		at := eventTime(e)
		k := key{at.Unix(), e.Reason, e.Message}
		if i, ok := index[k]; ok {
			out[i].Count++
			continue
		}
		index[k] = len(out)
		out = append(out, Decision{Time: at, Kind: kindOf(e), Warning: e.Type == corev1.EventTypeWarning, Reason: e.Reason,
			Object: Redact(objectOf(e.InvolvedObject)), Count: 1, Message: Redact(e.Message)})
	}
	out = append(out, statusDecisions(st)...)
	slices.SortStableFunc(out, func(a, b Decision) int { return b.Time.Compare(a.Time) })
	if len(out) > MaxTimeline {
		out = out[:MaxTimeline]
	}
	return out
}

// statusDecisions are the status's last scale-up (with the expander's
// choice), its running backoffs and its last scale-down failure.
func statusDecisions(st *autoscaler.Status) []Decision {
	if st == nil {
		return nil
	}
	var out []Decision
	if s := st.LastScaleUp; s != nil {
		var parts []string
		for _, inc := range s.Increases {
			parts = append(parts, fmt.Sprintf("%s +%d %s for %d pod(s): %s", inc.Group, inc.Delta, inc.InstanceType, inc.Pods, inc.Reason))
		}
		msg := "expanders " + expanders(st) + " chose " + strings.Join(parts, "; ")
		if s.DryRun {
			msg = "(dry run) " + msg
		}
		out = append(out, Decision{Time: parseTime(s.Time), Kind: KindScaleUp, Reason: "LastScaleUp", Object: "status",
			Count: len(s.Increases), Message: Redact(msg)})
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

func parseTime(s string) time.Time {
	t, _ := time.Parse(time.RFC3339, s)
	return t
}
