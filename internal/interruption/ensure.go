package interruption

import (
	"context"
	"errors"
	"fmt"
	"slices"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// EnsureQueue sets the interruption queue of spec up, idempotently: the
// queue (MessageRetention, SQS-managed encryption; an existing queue keeps
// its other attributes), its rules (Spec.Rules, enabled, the pattern
// reset), the queue's policy letting EventBridge send on behalf of those
// rules (QueuePolicy), and the queue as each rule's target. It returns
// the result as DescribeQueue would.
func EnsureQueue(ctx context.Context, sq SQSAdminAPI, eb EventBridgeAPI, spec Spec) (State, error) {
	sq, eb = throttleTolerant(sq, eb)
	spec = spec.WithDefaults()
	if err := spec.Validate(); err != nil {
		return State{}, fmt.Errorf("interruption queue: %w", err)
	}
	url, err := createQueue(ctx, sq, spec.Name)
	if err != nil {
		return State{}, err
	}
	attrs, err := queueAttributes(ctx, sq, url)
	if err != nil {
		return State{}, err
	}
	queueARN := attrs["QueueArn"]
	var ruleARNs []string
	for _, r := range spec.Rules() {
		out, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: sdkaws.String(r.Name), EventPattern: sdkaws.String(r.Pattern),
			State: ebtypes.RuleStateEnabled, Description: sdkaws.String("kelp: " + r.Kind + " events to the interruption queue " + spec.Name)})
		if err != nil {
			return State{}, fmt.Errorf("put rule %s: %w", r.Name, err)
		}
		ruleARNs = append(ruleARNs, sdkaws.ToString(out.RuleArn))
	}
	if _, err := sq.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: sdkaws.String(url),
		Attributes: map[string]string{string(sqstypes.QueueAttributeNamePolicy): QueuePolicy(queueARN, ruleARNs)}}); err != nil {
		return State{}, fmt.Errorf("set the policy of queue %s: %w", spec.Name, err)
	}
	for _, r := range spec.Rules() {
		out, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: sdkaws.String(r.Name),
			Targets: []ebtypes.Target{{Id: sdkaws.String(TargetID), Arn: sdkaws.String(queueARN)}}})
		if err == nil && out.FailedEntryCount > 0 && len(out.FailedEntries) > 0 {
			f := out.FailedEntries[0]
			err = fmt.Errorf("%s: %s", sdkaws.ToString(f.ErrorCode), sdkaws.ToString(f.ErrorMessage))
		}
		if err != nil {
			return State{}, fmt.Errorf("put queue %s as the target of rule %s: %w", spec.Name, r.Name, err)
		}
	}
	return DescribeQueue(ctx, sq, eb, spec)
}

// createQueue creates the queue, or finds it and sets its retention when
// it exists with other attributes.
func createQueue(ctx context.Context, sq SQSAdminAPI, name string) (string, error) {
	attrs := map[string]string{
		string(sqstypes.QueueAttributeNameMessageRetentionPeriod): MessageRetention,
		string(sqstypes.QueueAttributeNameSqsManagedSseEnabled):   "true",
	}
	out, err := sq.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: sdkaws.String(name), Attributes: attrs})
	if err == nil {
		return sdkaws.ToString(out.QueueUrl), nil
	}
	var exists *sqstypes.QueueNameExists
	if !errors.As(err, &exists) {
		return "", fmt.Errorf("create queue %s: %w", name, err)
	}
	url, err := queueURL(ctx, sq, name)
	if err != nil {
		return "", err
	}
	if _, err := sq.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: sdkaws.String(url), Attributes: attrs}); err != nil {
		return "", fmt.Errorf("set the attributes of queue %s: %w", name, err)
	}
	return url, nil
}

// DescribeQueue returns the interruption queue of spec as AWS has it, its
// rules whether or not they exist; an error wrapping ErrNotFound when the
// queue does not exist.
func DescribeQueue(ctx context.Context, sq SQSAdminAPI, eb EventBridgeAPI, spec Spec) (State, error) {
	sq, eb = throttleTolerant(sq, eb)
	spec = spec.WithDefaults()
	if err := spec.Validate(); err != nil {
		return State{}, fmt.Errorf("interruption queue: %w", err)
	}
	url, err := queueURL(ctx, sq, spec.Name)
	if err != nil {
		return State{}, err
	}
	attrs, err := queueAttributes(ctx, sq, url)
	if err != nil {
		return State{}, err
	}
	st := State{URL: url, ARN: attrs["QueueArn"], Attributes: attrs}
	for _, r := range spec.Rules() {
		rs := RuleState{Rule: r}
		out, err := eb.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: sdkaws.String(r.Name)})
		switch {
		case isRuleMissing(err):
			st.Rules = append(st.Rules, rs)
			continue
		case err != nil:
			return State{}, fmt.Errorf("describe rule %s: %w", r.Name, err)
		}
		rs.ARN, rs.State, rs.Pattern = sdkaws.ToString(out.Arn), string(out.State), sdkaws.ToString(out.EventPattern)
		targets, err := eb.ListTargetsByRule(ctx, &eventbridge.ListTargetsByRuleInput{Rule: sdkaws.String(r.Name)})
		if err != nil {
			return State{}, fmt.Errorf("list the targets of rule %s: %w", r.Name, err)
		}
		rs.Targeted = slices.ContainsFunc(targets.Targets, func(t ebtypes.Target) bool { return sdkaws.ToString(t.Arn) == st.ARN })
		st.Rules = append(st.Rules, rs)
	}
	return st, nil
}

// DeleteQueue tears the interruption queue of spec down: the queue's
// target from each rule, the rules, then the queue. What is already gone
// is skipped, so it may be run again after a partial failure. A rule that
// has other targets is left (an error says so).
func DeleteQueue(ctx context.Context, sq SQSAdminAPI, eb EventBridgeAPI, spec Spec) error {
	sq, eb = throttleTolerant(sq, eb)
	spec = spec.WithDefaults()
	if err := spec.Validate(); err != nil {
		return fmt.Errorf("interruption queue: %w", err)
	}
	for _, r := range spec.Rules() {
		_, err := eb.RemoveTargets(ctx, &eventbridge.RemoveTargetsInput{Rule: sdkaws.String(r.Name), Ids: []string{TargetID}})
		switch {
		case isRuleMissing(err):
			continue
		case err != nil:
			return fmt.Errorf("remove the queue from rule %s: %w", r.Name, err)
		}
		if _, err := eb.DeleteRule(ctx, &eventbridge.DeleteRuleInput{Name: sdkaws.String(r.Name)}); err != nil && !isRuleMissing(err) {
			return fmt.Errorf("delete rule %s: %w", r.Name, err)
		}
	}
	url, err := queueURL(ctx, sq, spec.Name)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if _, err := sq.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: sdkaws.String(url)}); err != nil && !isQueueMissing(err) {
		return fmt.Errorf("delete queue %s: %w", spec.Name, err)
	}
	return nil
}
