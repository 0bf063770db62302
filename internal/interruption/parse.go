package interruption

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/kelp-dev/kelp/internal/termination"
)

// The sources and detail types of the events Parse reads, as EventBridge
// names them.
const (
	SourceEC2         = "aws.ec2"
	SourceAutoScaling = "aws.autoscaling"
	SourceHealth      = "aws.health"

	DetailSpotInterruption = "EC2 Spot Instance Interruption Warning"
	DetailRebalance        = "EC2 Instance Rebalance Recommendation"
	DetailStateChange      = "EC2 Instance State-change Notification"
	DetailTerminateAction  = "EC2 Instance-terminate Lifecycle Action"
	DetailHealth           = "AWS Health Event"
)

// SpotNotice is how long before its termination EC2 warns of a spot
// interruption: a warning's Deadline is its time plus SpotNotice.
const SpotNotice = 2 * time.Minute

// ErrUnsupported marks a well-formed event that kelp does not act on: one
// of another source or detail type, the launch lifecycle action, an AWS
// Health event that is not an EC2 scheduled change, or one that is closed.
// Parse wraps it; errors.Is tells it from a malformed event.
var ErrUnsupported = errors.New("not an event kelp acts on")

// event is the EventBridge envelope.
type event struct {
	ID         string          `json:"id"`
	DetailType string          `json:"detail-type"`
	Source     string          `json:"source"`
	Time       string          `json:"time"`
	Resources  []string        `json:"resources"`
	Detail     json.RawMessage `json:"detail"`
}

// Parse reads one EventBridge event, the body of an interruption queue
// message, as the Notices it carries, each with the event's id as EventID
// and its time as NoticedAt:
//
//   - "EC2 Spot Instance Interruption Warning" (aws.ec2): a NoticeWarning
//     with CauseSpotInterruption, its Deadline the event's time plus
//     SpotNotice (or detail.time when the event has one, as IMDS's
//     spot/instance-action does);
//   - "EC2 Instance Rebalance Recommendation" (aws.ec2): a NoticeWarning
//     with CauseRebalanceRecommendation and no Deadline;
//   - "EC2 Instance-terminate Lifecycle Action" (aws.autoscaling): a
//     NoticeLifecycleAction with the Group, Hook and Token of the action
//     and CauseUnknown (the event does not say why the group terminates
//     the instance; its scaling activity does);
//   - "EC2 Instance State-change Notification" (aws.ec2): a
//     NoticeStateChange with the new State and CauseUnknown;
//   - "AWS Health Event" (aws.health) of service EC2 and category
//     scheduledChange, not closed: one NoticeWarning with
//     CauseScheduledChange per affected instance, its Deadline the
//     change's startTime. This is why Parse returns a slice.
//
// Every other Notice field is zero. A body that is not an event, or an
// event missing what its kind needs (the instance id, the token, a
// parsable time), is an error naming what is wrong; an event kelp does
// not act on is an error wrapping ErrUnsupported.
func Parse(body []byte) ([]termination.Notice, error) {
	var ev event
	if err := json.Unmarshal(body, &ev); err != nil {
		return nil, fmt.Errorf("parse event: body is not an EventBridge event: %w", err)
	}
	if ev.Source == "" || ev.DetailType == "" {
		return nil, fmt.Errorf("parse event %q: source %q, detail-type %q: both are required", ev.ID, ev.Source, ev.DetailType)
	}
	at, err := time.Parse(time.RFC3339, ev.Time)
	if err != nil {
		return nil, fmt.Errorf("parse event %s (%s): time %q is not RFC 3339", ev.ID, ev.DetailType, ev.Time)
	}
	base := termination.Notice{EventID: ev.ID, Departure: termination.Departure{NoticedAt: at.UTC(), Cause: termination.CauseUnknown}}
	var out []termination.Notice
	switch {
	case ev.Source == SourceEC2 && ev.DetailType == DetailSpotInterruption:
		out, err = parseSpot(ev, base)
	case ev.Source == SourceEC2 && ev.DetailType == DetailRebalance:
		out, err = parseRebalance(ev, base)
	case ev.Source == SourceEC2 && ev.DetailType == DetailStateChange:
		out, err = parseStateChange(ev, base)
	case ev.Source == SourceAutoScaling && ev.DetailType == DetailTerminateAction:
		out, err = parseLifecycleAction(ev, base)
	case ev.Source == SourceHealth && ev.DetailType == DetailHealth:
		out, err = parseHealth(ev, base)
	default:
		err = fmt.Errorf("source %s, detail-type %q: %w", ev.Source, ev.DetailType, ErrUnsupported)
	}
	if err != nil {
		return nil, fmt.Errorf("parse event %s (%s): %w", ev.ID, ev.DetailType, err)
	}
	return out, nil
}

// decodeDetail decodes the event's detail into v.
func decodeDetail(ev event, v any) error {
	if len(ev.Detail) == 0 || string(ev.Detail) == "null" {
		return errors.New("no detail")
	}
	if err := json.Unmarshal(ev.Detail, v); err != nil {
		return fmt.Errorf("detail: %w", err)
	}
	return nil
}

// ec2Detail is the detail of the aws.ec2 events.
type ec2Detail struct {
	InstanceID     string `json:"instance-id"`
	InstanceAction string `json:"instance-action"`
	State          string `json:"state"`
	Time           string `json:"time"`
}

func decodeEC2(ev event) (ec2Detail, error) {
	var d ec2Detail
	if err := decodeDetail(ev, &d); err != nil {
		return d, err
	}
	if !isInstanceID(d.InstanceID) {
		return d, fmt.Errorf("detail.instance-id %q: not an instance id", d.InstanceID)
	}
	return d, nil
}

func parseSpot(ev event, n termination.Notice) ([]termination.Notice, error) {
	d, err := decodeEC2(ev)
	if err != nil {
		return nil, err
	}
	n.Kind, n.InstanceID, n.Cause = termination.NoticeWarning, d.InstanceID, termination.CauseSpotInterruption
	n.Deadline = n.NoticedAt.Add(SpotNotice)
	if d.Time != "" {
		t, err := time.Parse(time.RFC3339, d.Time)
		if err != nil {
			return nil, fmt.Errorf("detail.time %q is not RFC 3339", d.Time)
		}
		n.Deadline = t.UTC()
	}
	return []termination.Notice{n}, nil
}

func parseRebalance(ev event, n termination.Notice) ([]termination.Notice, error) {
	d, err := decodeEC2(ev)
	if err != nil {
		return nil, err
	}
	n.Kind, n.InstanceID, n.Cause = termination.NoticeWarning, d.InstanceID, termination.CauseRebalanceRecommendation
	return []termination.Notice{n}, nil
}

func parseStateChange(ev event, n termination.Notice) ([]termination.Notice, error) {
	d, err := decodeEC2(ev)
	if err != nil {
		return nil, err
	}
	if d.State == "" {
		return nil, errors.New("detail.state is missing")
	}
	n.Kind, n.InstanceID, n.State = termination.NoticeStateChange, d.InstanceID, d.State
	return []termination.Notice{n}, nil
}

// transitionTerminating is the LifecycleTransition of a terminate action.
const transitionTerminating = "autoscaling:EC2_INSTANCE_TERMINATING"

func parseLifecycleAction(ev event, n termination.Notice) ([]termination.Notice, error) {
	var d struct {
		LifecycleActionToken, AutoScalingGroupName, LifecycleHookName, EC2InstanceId, LifecycleTransition string //nolint:revive // the wire names
	}
	if err := decodeDetail(ev, &d); err != nil {
		return nil, err
	}
	var errs []error
	if !isInstanceID(d.EC2InstanceId) {
		errs = append(errs, fmt.Errorf("detail.EC2InstanceId %q: not an instance id", d.EC2InstanceId))
	}
	for _, f := range [][2]string{{"LifecycleActionToken", d.LifecycleActionToken},
		{"AutoScalingGroupName", d.AutoScalingGroupName}, {"LifecycleHookName", d.LifecycleHookName}} {
		if f[1] == "" {
			errs = append(errs, fmt.Errorf("detail.%s is missing", f[0]))
		}
	}
	if d.LifecycleTransition != "" && d.LifecycleTransition != transitionTerminating {
		errs = append(errs, fmt.Errorf("detail.LifecycleTransition %q, want %s", d.LifecycleTransition, transitionTerminating))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	n.Kind, n.InstanceID, n.Group, n.Hook, n.Token = termination.NoticeLifecycleAction, d.EC2InstanceId,
		d.AutoScalingGroupName, d.LifecycleHookName, d.LifecycleActionToken
	return []termination.Notice{n}, nil
}

// healthTimeLayouts are the layouts AWS Health's startTime comes in.
var healthTimeLayouts = []string{time.RFC1123, time.RFC3339}

func parseHealth(ev event, n termination.Notice) ([]termination.Notice, error) {
	var d struct {
		Service, EventTypeCode, EventTypeCategory, StatusCode, StartTime string
		AffectedEntities                                                 []struct{ EntityValue string }
	}
	if err := decodeDetail(ev, &d); err != nil {
		return nil, err
	}
	switch {
	case d.Service != "EC2":
		return nil, fmt.Errorf("service %q: %w", d.Service, ErrUnsupported)
	case d.EventTypeCategory != "scheduledChange":
		return nil, fmt.Errorf("eventTypeCategory %q: %w", d.EventTypeCategory, ErrUnsupported)
	case d.StatusCode == "closed":
		return nil, fmt.Errorf("%s is closed: %w", d.EventTypeCode, ErrUnsupported)
	}
	if d.StartTime != "" {
		start, err := parseHealthTime(d.StartTime)
		if err != nil {
			return nil, err
		}
		n.Deadline = start
	}
	ids := make([]string, 0, len(d.AffectedEntities))
	for _, e := range d.AffectedEntities {
		ids = append(ids, e.EntityValue)
	}
	if len(ids) == 0 {
		ids = ev.Resources
	}
	var out []termination.Notice
	for _, id := range ids {
		if isInstanceID(id) {
			n.Kind, n.InstanceID, n.Cause = termination.NoticeWarning, id, termination.CauseScheduledChange
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("detail.affectedEntities %v: names no instance", ids)
	}
	return out, nil
}

func parseHealthTime(s string) (time.Time, error) {
	for _, layout := range healthTimeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("detail.startTime %q is neither %q nor RFC 3339", s, time.RFC1123)
}

// isInstanceID reports whether s looks like an EC2 instance id.
func isInstanceID(s string) bool {
	rest, ok := strings.CutPrefix(s, "i-")
	if !ok || len(rest) < 8 || len(rest) > 17 {
		return false
	}
	for _, r := range rest {
		if !('0' <= r && r <= '9' || 'a' <= r && r <= 'f') {
			return false
		}
	}
	return true
}
