package interruption

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/kelp-dev/kelp/internal/pool"
)

// SQSAdminAPI is what setting a queue up and tearing it down calls:
// aws-sdk-go-v2's *sqs.Client.
type SQSAdminAPI interface {
	CreateQueue(ctx context.Context, in *sqs.CreateQueueInput, opts ...func(*sqs.Options)) (*sqs.CreateQueueOutput, error)
	GetQueueUrl(ctx context.Context, in *sqs.GetQueueUrlInput, opts ...func(*sqs.Options)) (*sqs.GetQueueUrlOutput, error) //nolint:revive // the SDK's name
	GetQueueAttributes(ctx context.Context, in *sqs.GetQueueAttributesInput, opts ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
	SetQueueAttributes(ctx context.Context, in *sqs.SetQueueAttributesInput, opts ...func(*sqs.Options)) (*sqs.SetQueueAttributesOutput, error)
	DeleteQueue(ctx context.Context, in *sqs.DeleteQueueInput, opts ...func(*sqs.Options)) (*sqs.DeleteQueueOutput, error)
}

// EventBridgeAPI is what setting the rules up and tearing them down
// calls: aws-sdk-go-v2's *eventbridge.Client.
type EventBridgeAPI interface {
	PutRule(ctx context.Context, in *eventbridge.PutRuleInput, opts ...func(*eventbridge.Options)) (*eventbridge.PutRuleOutput, error)
	DescribeRule(ctx context.Context, in *eventbridge.DescribeRuleInput, opts ...func(*eventbridge.Options)) (*eventbridge.DescribeRuleOutput, error)
	DeleteRule(ctx context.Context, in *eventbridge.DeleteRuleInput, opts ...func(*eventbridge.Options)) (*eventbridge.DeleteRuleOutput, error)
	PutTargets(ctx context.Context, in *eventbridge.PutTargetsInput, opts ...func(*eventbridge.Options)) (*eventbridge.PutTargetsOutput, error)
	RemoveTargets(ctx context.Context, in *eventbridge.RemoveTargetsInput, opts ...func(*eventbridge.Options)) (*eventbridge.RemoveTargetsOutput, error)
	ListTargetsByRule(ctx context.Context, in *eventbridge.ListTargetsByRuleInput, opts ...func(*eventbridge.Options)) (*eventbridge.ListTargetsByRuleOutput, error)
}

var (
	_ SQSAdminAPI    = (*sqs.Client)(nil)
	_ EventBridgeAPI = (*eventbridge.Client)(nil)
)

// Setup defaults.
const (
	// MessageRetention is the queue's MessageRetentionPeriod in seconds: an
	// event older than that is of no use (a spot warning's deadline has
	// passed), as Karpenter's queue has it.
	MessageRetention = "300"
	// TargetID is the id of the queue among each rule's targets.
	TargetID = "kelp-interruption-queue"
	// maxNameLen keeps the longest rule name (Name-spot-interruption)
	// within EventBridge's 64 characters.
	maxNameLen = 64 - len("-spot-interruption")
)

// ErrNotFound: the queue does not exist.
var ErrNotFound = errors.New("interruption queue does not exist")

// Spec names an interruption queue.
type Spec struct {
	// Name is the queue's name; its rules are Name-<kind> (Rules).
	Name string
	// HookName is the lifecycle hook whose terminate actions the queue
	// receives, whatever the group; default pool.DrainHookName, the hook
	// kelp puts on every pool.
	HookName string
}

var (
	queueName = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
	hookName  = regexp.MustCompile(`^[A-Za-z0-9\-_/]{1,255}$`)
)

// WithDefaults returns s with HookName defaulted.
func (s Spec) WithDefaults() Spec {
	if s.HookName == "" {
		s.HookName = pool.DrainHookName
	}
	return s
}

// Validate returns every problem of s, each naming its field, or nil.
func (s Spec) Validate() error {
	var errs []error
	switch {
	case s.Name == "":
		errs = append(errs, errors.New("queue name is required"))
	case len(s.Name) > maxNameLen || !queueName.MatchString(s.Name):
		errs = append(errs, fmt.Errorf("queue name %q: must be 1 to %d letters, digits, '-' or '_' (its rules are named after it)", s.Name, maxNameLen))
	}
	if s.HookName != "" && !hookName.MatchString(s.HookName) {
		errs = append(errs, fmt.Errorf("hook name %q: must be 1 to 255 letters, digits, '-', '_' or '/'", s.HookName))
	}
	return errors.Join(errs...)
}

// Rule is one EventBridge rule of an interruption queue.
type Rule struct {
	// Name is Spec.Name-Kind; Kind says which events the rule sends.
	Name, Kind string
	// Pattern is the rule's event pattern (JSON).
	Pattern string
}

// Rules returns the queue's rules, one per kind of event Parse reads:
// spot-interruption, rebalance, lifecycle (terminate actions of
// Spec.HookName, in any group), state-change (to stopping, stopped,
// shutting-down or terminated) and scheduled-change (AWS Health, EC2).
func (s Spec) Rules() []Rule {
	s = s.WithDefaults()
	type pattern map[string]any
	kinds := []struct {
		kind string
		p    pattern
	}{
		{"spot-interruption", pattern{"source": []string{SourceEC2}, "detail-type": []string{DetailSpotInterruption}}},
		{"rebalance", pattern{"source": []string{SourceEC2}, "detail-type": []string{DetailRebalance}}},
		{"lifecycle", pattern{"source": []string{SourceAutoScaling}, "detail-type": []string{DetailTerminateAction},
			"detail": pattern{"LifecycleHookName": []string{s.HookName}}}},
		{"state-change", pattern{"source": []string{SourceEC2}, "detail-type": []string{DetailStateChange},
			"detail": pattern{"state": []string{"stopping", "stopped", "shutting-down", "terminated"}}}},
		{"scheduled-change", pattern{"source": []string{SourceHealth}, "detail-type": []string{DetailHealth},
			"detail": pattern{"service": []string{"EC2"}, "eventTypeCategory": []string{"scheduledChange"}}}},
	}
	out := make([]Rule, 0, len(kinds))
	for _, k := range kinds {
		b, _ := json.Marshal(k.p) // maps of strings: cannot fail; keys sorted
		out = append(out, Rule{Name: s.Name + "-" + k.kind, Kind: k.kind, Pattern: string(b)})
	}
	return out
}

// QueuePolicy is the queue's access policy: events.amazonaws.com (and
// sqs.amazonaws.com) may send to queueARN, on behalf of the rules only.
func QueuePolicy(queueARN string, ruleARNs []string) string {
	doc := map[string]any{
		"Version": "2012-10-17",
		"Id":      "kelp-interruption-queue",
		"Statement": []any{map[string]any{
			"Sid":       "EventBridgeSendsInterruptions",
			"Effect":    "Allow",
			"Principal": map[string]any{"Service": []string{"events.amazonaws.com", "sqs.amazonaws.com"}},
			"Action":    "sqs:SendMessage",
			"Resource":  queueARN,
			"Condition": map[string]any{"ArnEquals": map[string]any{"aws:SourceArn": ruleARNs}},
		}},
	}
	b, _ := json.Marshal(doc) // plain values: cannot fail
	return string(b)
}

// State is an interruption queue as AWS has it.
type State struct {
	URL, ARN string
	// Attributes are the queue's (GetQueueAttributes All).
	Attributes map[string]string
	Rules      []RuleState
}

// RuleState is one of the queue's rules as EventBridge has it.
type RuleState struct {
	Rule
	// ARN and State ("ENABLED", "DISABLED") are "" when the rule is
	// missing; Targeted is whether the queue is among its targets.
	ARN, State string
	Targeted   bool
}

// Complete reports whether every rule exists, is enabled and sends to the
// queue.
func (s State) Complete() bool {
	for _, r := range s.Rules {
		if r.State != string(ebtypes.RuleStateEnabled) || !r.Targeted {
			return false
		}
	}
	return s.URL != "" && len(s.Rules) > 0
}

func isQueueMissing(err error) bool {
	var missing *sqstypes.QueueDoesNotExist
	return errors.As(err, &missing)
}

func isRuleMissing(err error) bool {
	var missing *ebtypes.ResourceNotFoundException
	return errors.As(err, &missing)
}

// queueURL looks the queue up: ErrNotFound when it does not exist.
func queueURL(ctx context.Context, sq SQSAdminAPI, name string) (string, error) {
	out, err := sq.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: sdkaws.String(name)})
	if isQueueMissing(err) {
		return "", fmt.Errorf("queue %s: %w", name, ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("get url of queue %s: %w", name, err)
	}
	return sdkaws.ToString(out.QueueUrl), nil
}

func queueAttributes(ctx context.Context, sq SQSAdminAPI, url string) (map[string]string, error) {
	out, err := sq.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: sdkaws.String(url),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll}})
	if err != nil {
		return nil, fmt.Errorf("get attributes of queue %s: %w", url, err)
	}
	if out.Attributes["QueueArn"] == "" {
		return nil, fmt.Errorf("get attributes of queue %s: no QueueArn", url)
	}
	return out.Attributes, nil
}
