package localcloud

import (
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// EventBridge, minimally: the default event bus, its rules (an event
// pattern of exact values, nested objects allowed) and their SQS queue
// targets, over AWS JSON 1.1 (X-Amz-Target AWSEvents.<Op>) as
// aws-sdk-go-v2's eventbridge client and the AWS CLI speak it. Rules
// persist in the state directory. The cloud publishes its own events (see
// events_publish.go) to the bus; a matching rule sends the event JSON as
// the body of a message to each target queue whose policy lets
// events.amazonaws.com send to it, as EventBridge does. Schedules, input
// transformers, content filters and other target types are not
// implemented: asking for them is an error that says so.

var bucketEventRules = []byte("events-rules")

const defaultEventBus = "default"

// eventRule is an EventBridge rule on the default bus.
type eventRule struct {
	Name, Description string
	Pattern           string // the EventPattern as given
	State             string // ENABLED | DISABLED
	Targets           []eventTarget
	Created           time.Time
	pattern           map[string]any
}

// eventTarget is a rule's target: an SQS queue.
type eventTarget struct {
	Id  string //nolint:revive // the wire name
	Arn string
}

// eventsState is the bus. Its lock is taken after c.mu and before c.sqs.mu.
type eventsState struct {
	mu    sync.Mutex
	rules map[string]*eventRule
}

func eventsErr(code, format string, args ...any) *apiError {
	return errf(code, format, args...)
}

func (c *Cloud) eventsService() *service {
	return &service{signingName: "events", name: "AWSEvents", version: "2015-10-07", proto: jsonProtocol{v11: true},
		actions: map[string]handler{
			"PutRule":           c.eventsPutRule,
			"DescribeRule":      c.eventsDescribeRule,
			"DeleteRule":        c.eventsDeleteRule,
			"ListRules":         c.eventsListRules,
			"EnableRule":        func(in *call) (any, error) { return c.eventsSetState(in, "ENABLED") },
			"DisableRule":       func(in *call) (any, error) { return c.eventsSetState(in, "DISABLED") },
			"PutTargets":        c.eventsPutTargets,
			"RemoveTargets":     c.eventsRemoveTargets,
			"ListTargetsByRule": c.eventsListTargets,
		}}
}

// openEvents loads the rules.
func (c *Cloud) openEvents() error {
	c.events = &eventsState{rules: map[string]*eventRule{}}
	return c.store.db.Update(func(tx *bolt.Tx) error {
		if _, err := tx.CreateBucketIfNotExists(bucketEventRules); err != nil {
			return fmt.Errorf("create bucket %s: %w", bucketEventRules, err)
		}
		if err := loadBucket(tx, bucketEventRules, c.events.rules); err != nil {
			return err
		}
		for name, r := range c.events.rules {
			p, err := parseEventPattern(r.Pattern)
			if err != nil {
				return fmt.Errorf("decode %s/%s: %w", bucketEventRules, name, err)
			}
			r.pattern = p
		}
		return nil
	})
}

// putRuleLocked stores r (nil deletes name). c.events.mu must be held.
func (c *Cloud) putRuleLocked(name string, r *eventRule) error {
	err := c.store.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketEventRules)
		if r == nil {
			return b.Delete([]byte(name))
		}
		v, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("encode rule %s: %w", name, err)
		}
		return b.Put([]byte(name), v)
	})
	if err != nil {
		c.log.Error("events: commit", "error", err)
		return &apiError{Code: "InternalException", Message: "commit rule: " + err.Error(), Status: 500, Server: true}
	}
	if r == nil {
		delete(c.events.rules, name)
	} else {
		c.events.rules[name] = r
	}
	return nil
}

// parseEventPattern reads an event pattern: a JSON object whose leaves
// are arrays of exact values (strings, numbers, booleans, null).
func parseEventPattern(s string) (map[string]any, error) {
	var p map[string]any
	if err := json.Unmarshal([]byte(s), &p); err != nil || len(p) == 0 {
		return nil, fmt.Errorf("Event pattern is not valid. Reason: not a non-empty JSON object") //nolint:staticcheck // AWS's words
	}
	return p, checkPattern("", p)
}

func checkPattern(path string, p map[string]any) error {
	for k, v := range p {
		switch v := v.(type) {
		case map[string]any:
			if err := checkPattern(path+k+".", v); err != nil {
				return err
			}
		case []any:
			for _, x := range v {
				if _, isObj := x.(map[string]any); isObj {
					return fmt.Errorf("Event pattern is not valid. Reason: %s%s: content filters are not implemented by the local cloud (exact values only)", path, k) //nolint:staticcheck // AWS's words
				}
			}
		default:
			return fmt.Errorf("Event pattern is not valid. Reason: %s%s: match value must be put inside a json array", path, k) //nolint:staticcheck // AWS's words
		}
	}
	return nil
}

// matchPattern reports whether event (a decoded JSON object) matches p:
// every field of p is in the event, objects match recursively, and an
// array matches a value equal to one of its elements (or, for an array
// value, sharing one).
func matchPattern(p, event map[string]any) bool {
	for k, want := range p {
		got, ok := event[k]
		if !ok {
			return false
		}
		switch want := want.(type) {
		case map[string]any:
			sub, isObj := got.(map[string]any)
			if !isObj || !matchPattern(want, sub) {
				return false
			}
		case []any:
			values, isArr := got.([]any)
			if !isArr {
				values = []any{got}
			}
			if !slices.ContainsFunc(values, func(v any) bool { return slices.Contains(want, v) }) {
				return false
			}
		}
	}
	return true
}

var ruleNamePattern = regexp.MustCompile(`^[\.\-_A-Za-z0-9]{1,64}$`)

// checkBus accepts the default bus, by name or ARN, or none.
func (c *Cloud) checkBus(name string) *apiError {
	if name == "" || name == defaultEventBus || name == c.busARN() {
		return nil
	}
	return eventsErr("ResourceNotFoundException", "Event bus %s does not exist (the local cloud has the default bus only).", name)
}

func (c *Cloud) busARN() string {
	return "arn:aws:events:" + c.region.Name + ":" + AccountID + ":event-bus/" + defaultEventBus
}

func (c *Cloud) ruleARN(name string) string {
	return "arn:aws:events:" + c.region.Name + ":" + AccountID + ":rule/" + name
}

func errNoRule(name string) *apiError {
	return eventsErr("ResourceNotFoundException", "Rule %s does not exist on EventBus %s.", name, defaultEventBus)
}

func (c *Cloud) eventsPutRule(in *call) (any, error) {
	var p struct {
		Name, EventPattern, State, Description, EventBusName, ScheduleExpression, RoleArn string
	}
	if err := in.decodeJSON(&p); err != nil {
		return nil, err
	}
	switch {
	case !ruleNamePattern.MatchString(p.Name):
		return nil, eventsErr("ValidationException", "1 validation error detected: Value %q at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_A-Za-z0-9]+", p.Name)
	case p.ScheduleExpression != "":
		return nil, eventsErr("ValidationException", "ScheduleExpression is not implemented by the local cloud.")
	case p.EventPattern == "":
		return nil, eventsErr("ValidationException", "Parameter(s) EventPattern or ScheduleExpression must be specified.")
	case p.State == "":
		p.State = "ENABLED"
	case p.State != "ENABLED" && p.State != "DISABLED":
		return nil, eventsErr("ValidationException", "1 validation error detected: Value %q at 'state' failed to satisfy constraint: Member must satisfy enum value set: [ENABLED, DISABLED]", p.State)
	}
	if aerr := c.checkBus(p.EventBusName); aerr != nil {
		return nil, aerr
	}
	pattern, err := parseEventPattern(p.EventPattern)
	if err != nil {
		return nil, eventsErr("InvalidEventPatternException", "%s", err.Error())
	}
	c.events.mu.Lock()
	defer c.events.mu.Unlock()
	r := &eventRule{Name: p.Name, Description: p.Description, Pattern: p.EventPattern, State: p.State,
		Created: c.clock.Now().UTC(), pattern: pattern}
	if old := c.events.rules[p.Name]; old != nil {
		r.Targets, r.Created = old.Targets, old.Created
	}
	if err := c.putRuleLocked(p.Name, r); err != nil {
		return nil, err
	}
	return struct{ RuleArn string }{c.ruleARN(p.Name)}, nil
}

type ruleInput struct {
	Name, Rule, EventBusName, NamePrefix, NextToken string
	Limit                                           int
	Force                                           bool
	Ids                                             []string
	Targets                                         []map[string]any
}

// ruleOf decodes a rule input and finds the rule. c.events.mu must be held.
func (c *Cloud) ruleOf(in *call, p *ruleInput) (*eventRule, error) {
	if err := in.decodeJSON(p); err != nil {
		return nil, err
	}
	if aerr := c.checkBus(p.EventBusName); aerr != nil {
		return nil, aerr
	}
	name := p.Name + p.Rule
	if r := c.events.rules[name]; r != nil {
		return r, nil
	}
	return nil, errNoRule(name)
}

type ruleOutput struct {
	Name, Arn, EventPattern, State, EventBusName string
	Description                                  string `json:",omitempty"`
}

func (c *Cloud) describe(r *eventRule) ruleOutput {
	return ruleOutput{Name: r.Name, Arn: c.ruleARN(r.Name), EventPattern: r.Pattern, State: r.State,
		EventBusName: defaultEventBus, Description: r.Description}
}

func (c *Cloud) eventsDescribeRule(in *call) (any, error) {
	c.events.mu.Lock()
	defer c.events.mu.Unlock()
	r, err := c.ruleOf(in, &ruleInput{})
	if err != nil {
		return nil, err
	}
	return struct {
		ruleOutput
		CreatedBy string
	}{c.describe(r), AccountID}, nil
}

func (c *Cloud) eventsDeleteRule(in *call) (any, error) {
	c.events.mu.Lock()
	defer c.events.mu.Unlock()
	var p ruleInput
	r, err := c.ruleOf(in, &p)
	if err != nil {
		if ae, ok := err.(*apiError); ok && ae.Code == "ResourceNotFoundException" {
			return struct{}{}, nil // deleting a missing rule succeeds, as on EventBridge
		}
		return nil, err
	}
	if len(r.Targets) > 0 {
		return nil, eventsErr("ValidationException", "Rule can't be deleted since it has targets.")
	}
	return struct{}{}, c.putRuleLocked(r.Name, nil)
}

func (c *Cloud) eventsListRules(in *call) (any, error) {
	var p ruleInput
	if err := in.decodeJSON(&p); err != nil {
		return nil, err
	}
	if aerr := c.checkBus(p.EventBusName); aerr != nil {
		return nil, aerr
	}
	c.events.mu.Lock()
	defer c.events.mu.Unlock()
	out := struct{ Rules []ruleOutput }{[]ruleOutput{}}
	for _, name := range slices.Sorted(maps.Keys(c.events.rules)) {
		if strings.HasPrefix(name, p.NamePrefix) {
			out.Rules = append(out.Rules, c.describe(c.events.rules[name]))
		}
	}
	return out, nil
}

func (c *Cloud) eventsSetState(in *call, state string) (any, error) {
	c.events.mu.Lock()
	defer c.events.mu.Unlock()
	r, err := c.ruleOf(in, &ruleInput{})
	if err != nil {
		return nil, err
	}
	next := *r
	next.State = state
	return struct{}{}, c.putRuleLocked(r.Name, &next)
}

type targetFailure struct {
	TargetId                string //nolint:revive // the wire name
	ErrorCode, ErrorMessage string
}

// checkTarget accepts a target that is an SQS queue of this account and
// region, with no input transformation.
func (c *Cloud) checkTarget(t map[string]any) (eventTarget, string) {
	id, _ := t["Id"].(string)
	arn, _ := t["Arn"].(string)
	prefix := "arn:aws:sqs:" + c.region.Name + ":" + AccountID + ":"
	for k := range t {
		if k != "Id" && k != "Arn" {
			return eventTarget{}, "Target parameter " + k + " is not implemented by the local cloud."
		}
	}
	switch {
	case !ruleNamePattern.MatchString(id):
		return eventTarget{}, fmt.Sprintf("Target Id %q is not valid.", id)
	case !strings.HasPrefix(arn, prefix) || !queueNamePattern.MatchString(strings.TrimPrefix(arn, prefix)):
		return eventTarget{}, fmt.Sprintf("Target Arn %q is not an SQS queue of account %s in %s (the only targets the local cloud implements).", arn, AccountID, c.region.Name)
	}
	return eventTarget{Id: id, Arn: arn}, ""
}

func (c *Cloud) eventsPutTargets(in *call) (any, error) {
	c.events.mu.Lock()
	defer c.events.mu.Unlock()
	var p ruleInput
	r, err := c.ruleOf(in, &p)
	if err != nil {
		return nil, err
	}
	if len(p.Targets) == 0 || len(p.Targets) > 10 {
		return nil, eventsErr("ValidationException", "Targets: between 1 and 10 targets are required, not %d.", len(p.Targets))
	}
	next := *r
	next.Targets = slices.Clone(r.Targets)
	failed := []targetFailure{}
	for _, raw := range p.Targets {
		t, msg := c.checkTarget(raw)
		if msg != "" {
			id, _ := raw["Id"].(string)
			failed = append(failed, targetFailure{TargetId: id, ErrorCode: "ValidationException", ErrorMessage: msg})
			continue
		}
		next.Targets = slices.DeleteFunc(next.Targets, func(x eventTarget) bool { return x.Id == t.Id })
		next.Targets = append(next.Targets, t)
	}
	if err := c.putRuleLocked(r.Name, &next); err != nil {
		return nil, err
	}
	return struct {
		FailedEntryCount int
		FailedEntries    []targetFailure
	}{len(failed), failed}, nil
}

func (c *Cloud) eventsRemoveTargets(in *call) (any, error) {
	c.events.mu.Lock()
	defer c.events.mu.Unlock()
	var p ruleInput
	r, err := c.ruleOf(in, &p)
	if err != nil {
		return nil, err
	}
	next := *r
	next.Targets = slices.DeleteFunc(slices.Clone(r.Targets), func(t eventTarget) bool { return slices.Contains(p.Ids, t.Id) })
	if err := c.putRuleLocked(r.Name, &next); err != nil {
		return nil, err
	}
	return struct {
		FailedEntryCount int
		FailedEntries    []targetFailure
	}{0, []targetFailure{}}, nil
}

func (c *Cloud) eventsListTargets(in *call) (any, error) {
	c.events.mu.Lock()
	defer c.events.mu.Unlock()
	r, err := c.ruleOf(in, &ruleInput{})
	if err != nil {
		return nil, err
	}
	return struct{ Targets []eventTarget }{append([]eventTarget{}, r.Targets...)}, nil
}
