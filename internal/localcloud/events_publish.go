package localcloud

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// The events the cloud publishes to its bus, with the sources, detail
// types and detail fields EventBridge gives them.
const (
	sourceEC2         = "aws.ec2"
	sourceAutoScaling = "aws.autoscaling"
	sourceHealth      = "aws.health"

	DetailSpotInterruption = "EC2 Spot Instance Interruption Warning"
	DetailRebalance        = "EC2 Instance Rebalance Recommendation"
	DetailStateChange      = "EC2 Instance State-change Notification"
	DetailHealth           = "AWS Health Event"
	DetailTerminateAction  = "EC2 Instance-terminate Lifecycle Action"
	DetailLaunchAction     = "EC2 Instance-launch Lifecycle Action"
)

// Event is an EventBridge event as targets receive it.
type Event struct {
	Version    string   `json:"version"`
	ID         string   `json:"id"`
	DetailType string   `json:"detail-type"`
	Source     string   `json:"source"`
	Account    string   `json:"account"`
	Time       string   `json:"time"` // RFC 3339, seconds, UTC
	Region     string   `json:"region"`
	Resources  []string `json:"resources"`
	Detail     any      `json:"detail"`
}

// newEvent fills the envelope of an event at now.
func (c *Cloud) newEvent(source, detailType string, now time.Time, resources []string, detail any) Event {
	return Event{Version: "0", ID: newRequestID(), DetailType: detailType, Source: source, Account: AccountID,
		Time: now.UTC().Format(time.RFC3339), Region: c.region.Name, Resources: resources, Detail: detail}
}

func (c *Cloud) instanceARN(id string) string {
	return "arn:aws:ec2:" + c.region.Name + ":" + AccountID + ":instance/" + id
}

// spotWarningEvent is the warning of a spot instance interrupted at
// interruptAt. EC2's notice is always DefaultSpotInterruptionNotice, so its
// event does not say when; a local cloud configured with another notice
// adds the time to the detail, as IMDS's spot/instance-action gives it,
// lest consumers count EC2's two minutes from the event's time.
func (c *Cloud) spotWarningEvent(id string, now, interruptAt time.Time) Event {
	detail := map[string]string{"instance-id": id, "instance-action": "terminate"}
	if !interruptAt.Equal(now.Add(DefaultSpotInterruptionNotice)) {
		detail["time"] = interruptAt.UTC().Format(time.RFC3339)
	}
	return c.newEvent(sourceEC2, DetailSpotInterruption, now, []string{c.instanceARN(id)}, detail)
}

func (c *Cloud) rebalanceEvent(id string, now time.Time) Event {
	return c.newEvent(sourceEC2, DetailRebalance, now, []string{c.instanceARN(id)},
		map[string]string{"instance-id": id})
}

func (c *Cloud) stateChangeEvent(id, state string, now time.Time) Event {
	return c.newEvent(sourceEC2, DetailStateChange, now, []string{c.instanceARN(id)},
		map[string]string{"instance-id": id, "state": state})
}

// healthTime is AWS Health's time format in events.
const healthTime = "Mon, 02 Jan 2006 15:04:05 GMT"

// HealthEventCode is the event type code [Cloud.ScheduleHealthEvent] uses
// when given none.
const HealthEventCode = "AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED"

func (c *Cloud) healthEvent(id, code string, start, now time.Time) Event {
	arn := fmt.Sprintf("arn:aws:health:%s::event/EC2/%s/%s_%s", c.region.Name, code, code, newRequestID())
	detail := map[string]any{
		"eventArn":          arn,
		"service":           "EC2",
		"eventTypeCode":     code,
		"eventTypeCategory": "scheduledChange",
		"eventScopeCode":    "ACCOUNT_SPECIFIC",
		"communicationId":   newRequestID(),
		"startTime":         start.UTC().Format(healthTime),
		"endTime":           start.Add(time.Hour).UTC().Format(healthTime),
		"lastUpdatedTime":   now.UTC().Format(healthTime),
		"statusCode":        "upcoming",
		"eventRegion":       c.region.Name,
		"eventDescription": []map[string]string{{"language": "en_US",
			"latestDescription": fmt.Sprintf("EC2 has detected degradation of the underlying hardware hosting your instance %s in the %s region. The instance is scheduled for retirement at %s.", id, c.region.Name, start.UTC().Format(healthTime))}},
		"affectedEntities": []map[string]string{{"entityValue": id}},
	}
	return c.newEvent(sourceHealth, DetailHealth, now, []string{id}, detail)
}

// LifecycleAction is an instance put in a lifecycle hook's wait state, as
// the "EC2 Instance-terminate Lifecycle Action" (or -launch) event tells it.
type LifecycleAction struct {
	Token, GroupName, GroupARN, HookName, InstanceID string
	// Transition is autoscaling:EC2_INSTANCE_TERMINATING or
	// autoscaling:EC2_INSTANCE_LAUNCHING.
	Transition string
	// Metadata is the hook's NotificationMetadata ("" leaves it out).
	Metadata string
}

func (c *Cloud) lifecycleActionEvent(a LifecycleAction, now time.Time) Event {
	detailType, origin, dest := DetailTerminateAction, "AutoScalingGroup", "EC2"
	if a.Transition == "autoscaling:EC2_INSTANCE_LAUNCHING" {
		detailType, origin, dest = DetailLaunchAction, "EC2", "AutoScalingGroup"
	}
	detail := map[string]string{"LifecycleActionToken": a.Token, "AutoScalingGroupName": a.GroupName,
		"LifecycleHookName": a.HookName, "EC2InstanceId": a.InstanceID, "LifecycleTransition": a.Transition,
		"Origin": origin, "Destination": dest}
	if a.Metadata != "" {
		detail["NotificationMetadata"] = a.Metadata
	}
	return c.newEvent(sourceAutoScaling, detailType, now, []string{a.GroupARN}, detail)
}

// RecommendRebalance publishes an "EC2 Instance Rebalance Recommendation"
// for a running spot instance, as EC2 does when its capacity pool is at
// elevated risk of interruption (a test hook: the local cloud never does
// it by itself).
func (c *Cloud) RecommendRebalance(id string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	inst := c.st.instances[id]
	if inst == nil || !inst.Spot || !inst.State.active() {
		return fmt.Errorf("recommend rebalance of %s: not a running spot instance", id)
	}
	c.publish(c.rebalanceEvent(id, c.clock.Now()))
	return nil
}

// ScheduleHealthEvent publishes an "AWS Health Event" of category
// scheduledChange for a running instance, its change starting at start
// (code "" is [HealthEventCode]). A test hook: the event is all it does,
// the instance keeps running.
func (c *Cloud) ScheduleHealthEvent(id, code string, start time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	inst := c.st.instances[id]
	if inst == nil || !inst.State.active() {
		return fmt.Errorf("schedule health event for %s: not a running instance", id)
	}
	if code == "" {
		code = HealthEventCode
	}
	c.publish(c.healthEvent(id, code, start, c.clock.Now()))
	return nil
}

// instanceEvents are the events a commit causes: a state-change
// notification for each instance whose EC2 state changes (or that is
// new), a spot interruption warning for each that got its notice. c.mu
// must be held, before the changes are applied.
func (c *Cloud) instanceEvents(ch *changes, now time.Time) []Event {
	var out []Event
	for _, id := range slices.Sorted(maps.Keys(ch.instances)) {
		next, prev := ch.instances[id], c.st.instances[id]
		if next == nil {
			continue
		}
		_, state := next.State.ec2State()
		if prev == nil || prevState(prev) != state {
			out = append(out, c.stateChangeEvent(id, state, now))
		}
		if !next.InterruptAt.IsZero() && (prev == nil || prev.InterruptAt.IsZero()) {
			out = append(out, c.spotWarningEvent(id, now, next.InterruptAt))
		}
		if waits := next.State == stateTerminatingWait || next.State == statePendingWait; waits && (prev == nil || prev.State != next.State) {
			out = append(out, c.lifecycleActionEvents(ch, next, now)...)
		}
	}
	return out
}

// lifecycleActionEvents are the events of the actions next now waits on,
// one per hook, as Auto Scaling sends them when an instance enters
// Terminating:Wait or Pending:Wait.
func (c *Cloud) lifecycleActionEvents(ch *changes, next *instance, now time.Time) []Event {
	g := ch.groups[next.Group]
	if g == nil {
		g = c.st.groups[next.Group]
	}
	if g == nil {
		return nil
	}
	transition := transitionTerminating
	if next.State == statePendingWait {
		transition = transitionLaunching
	}
	var out []Event
	for _, a := range next.Actions {
		var metadata string
		for _, h := range g.hooksOf(transition) {
			if h.Name == a.Hook {
				metadata = h.NotificationMetadata
			}
		}
		out = append(out, c.lifecycleActionEvent(LifecycleAction{Token: a.Token, GroupName: g.Name, GroupARN: g.ARN, HookName: a.Hook,
			InstanceID: next.ID, Transition: transition, Metadata: metadata}, now))
	}
	return out
}

func prevState(i *instance) string {
	_, s := i.State.ec2State()
	return s
}

// publish sends an event to the targets of every enabled rule it matches.
// A target queue that is gone, or whose policy does not let
// events.amazonaws.com send to it, misses the event (logged), as on AWS.
func (c *Cloud) publish(ev Event) {
	body, err := json.Marshal(ev)
	if err != nil {
		c.log.Error("events: encode", "detailType", ev.DetailType, "error", err)
		return
	}
	var decoded map[string]any
	if err := json.Unmarshal(body, &decoded); err != nil {
		c.log.Error("events: decode", "detailType", ev.DetailType, "error", err)
		return
	}
	c.events.mu.Lock()
	var targets []string
	for _, name := range slices.Sorted(maps.Keys(c.events.rules)) {
		r := c.events.rules[name]
		if r.State == "ENABLED" && matchPattern(r.pattern, decoded) {
			for _, t := range r.Targets {
				targets = append(targets, t.Arn)
			}
		}
	}
	c.events.mu.Unlock()
	for _, arn := range slices.Compact(slices.Sorted(slices.Values(targets))) {
		if err := c.deliver(arn, string(body)); err != nil {
			c.log.Warn("events: delivery failed", "detailType", ev.DetailType, "target", arn, "error", err)
		}
	}
	c.log.Debug("event published", "detailType", ev.DetailType, "source", ev.Source, "targets", len(targets))
}

// deliver sends body to the queue arn names, as events.amazonaws.com.
func (c *Cloud) deliver(arn, body string) error {
	name := arn[strings.LastIndex(arn, ":")+1:]
	c.sqs.mu.Lock()
	defer c.sqs.mu.Unlock()
	q := c.sqs.queues[name]
	if q == nil {
		return fmt.Errorf("queue %s does not exist", arn)
	}
	if !policyAllowsEvents(q.Attributes["Policy"], arn) {
		return fmt.Errorf("the Policy of queue %s does not allow events.amazonaws.com to sqs:SendMessage", arn)
	}
	seq := q.Seq
	m, aerr := c.newMessageLocked(q, body, nil)
	if aerr != nil {
		q.Seq = seq
		return aerr
	}
	if err := c.enqueueLocked(q, m); err != nil {
		q.Seq = seq
		return err
	}
	return nil
}

// policyStatement is the part of an IAM policy statement delivery reads.
type policyStatement struct {
	Effect    string
	Principal any
	Action    any
	Resource  any
}

// policyAllowsEvents reports whether a queue policy allows
// events.amazonaws.com (or everyone) sqs:SendMessage on queueARN and
// denies it nothing. Conditions are not evaluated.
func policyAllowsEvents(policy, queueARN string) bool {
	var doc struct{ Statement json.RawMessage }
	if policy == "" || json.Unmarshal([]byte(policy), &doc) != nil {
		return false
	}
	var stmts []policyStatement
	if json.Unmarshal(doc.Statement, &stmts) != nil {
		var one policyStatement
		if json.Unmarshal(doc.Statement, &one) != nil {
			return false
		}
		stmts = []policyStatement{one}
	}
	allowed := false
	for _, s := range stmts {
		applies := principalIsEvents(s.Principal) &&
			slices.ContainsFunc(stringsOf(s.Action), func(a string) bool {
				a = strings.ToLower(a)
				return a == "*" || a == "sqs:*" || a == "sqs:sendmessage"
			}) &&
			(s.Resource == nil || slices.ContainsFunc(stringsOf(s.Resource), func(r string) bool { return r == "*" || r == queueARN }))
		switch {
		case applies && s.Effect == "Deny":
			return false
		case applies && s.Effect == "Allow":
			allowed = true
		}
	}
	return allowed
}

func principalIsEvents(p any) bool {
	if s, ok := p.(string); ok {
		return s == "*"
	}
	m, ok := p.(map[string]any)
	if !ok {
		return false
	}
	return slices.Contains(stringsOf(m["Service"]), "events.amazonaws.com") || slices.Contains(stringsOf(m["AWS"]), "*")
}

// stringsOf reads a policy value: a string or an array of strings.
func stringsOf(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, x := range v {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}
