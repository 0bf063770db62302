package interruption

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go"
	"k8s.io/utils/clock"

	"github.com/kelp-dev/kelp/internal/cloud"
)

// The setup's calls go through kelp's throttling policy
// (cloud.RetryThrottled): when the SDK's retryer gives up on a throttled
// call, it is tried again after a jittered backoff, as every call through
// the cloud provider is. Setting a queue up is a dozen calls; under heavy
// throttling one of them would otherwise fail the whole setup.

// setupRetry is the setup calls' policy, kelp's default; tests shorten it.
var setupRetry = cloud.ThrottleRetry{Rounds: cloud.DefaultThrottleRounds, Backoff: cloud.DefaultThrottleBackoff}

// retried runs one setup call under setupRetry.
func retried[T any](ctx context.Context, op string, f func(context.Context) (T, error)) (T, error) {
	return cloud.RetryThrottled(ctx, setupRetry, clock.RealClock{}, slog.Default().With("component", "interruption"), op,
		func(ctx context.Context) (T, error) {
			out, err := f(ctx)
			return out, markThrottled(err)
		})
}

// markThrottled marks an error the SDK counts as throttling (its
// DefaultThrottleErrorCodes) as cloud.ErrThrottled; errors.As still finds
// the SDK's types in it.
func markThrottled(err error) error {
	var ae smithy.APIError
	if err == nil || !errors.As(err, &ae) {
		return err
	}
	if _, ok := retry.DefaultThrottleErrorCodes[ae.ErrorCode()]; ok {
		return fmt.Errorf("%w: %w", cloud.ErrThrottled, err)
	}
	return err
}

// throttleTolerantSQS is an SQSAdminAPI whose calls are retried.
type throttleTolerantSQS struct{ api SQSAdminAPI }

func (s throttleTolerantSQS) CreateQueue(ctx context.Context, in *sqs.CreateQueueInput, opts ...func(*sqs.Options)) (*sqs.CreateQueueOutput, error) {
	return retried(ctx, "sqs.CreateQueue", func(ctx context.Context) (*sqs.CreateQueueOutput, error) {
		return s.api.CreateQueue(ctx, in, opts...)
	})
}

func (s throttleTolerantSQS) GetQueueUrl(ctx context.Context, in *sqs.GetQueueUrlInput, opts ...func(*sqs.Options)) (*sqs.GetQueueUrlOutput, error) { //nolint:revive // the SDK's name
	return retried(ctx, "sqs.GetQueueUrl", func(ctx context.Context) (*sqs.GetQueueUrlOutput, error) {
		return s.api.GetQueueUrl(ctx, in, opts...)
	})
}

func (s throttleTolerantSQS) GetQueueAttributes(ctx context.Context, in *sqs.GetQueueAttributesInput, opts ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error) {
	return retried(ctx, "sqs.GetQueueAttributes", func(ctx context.Context) (*sqs.GetQueueAttributesOutput, error) {
		return s.api.GetQueueAttributes(ctx, in, opts...)
	})
}

func (s throttleTolerantSQS) SetQueueAttributes(ctx context.Context, in *sqs.SetQueueAttributesInput, opts ...func(*sqs.Options)) (*sqs.SetQueueAttributesOutput, error) {
	return retried(ctx, "sqs.SetQueueAttributes", func(ctx context.Context) (*sqs.SetQueueAttributesOutput, error) {
		return s.api.SetQueueAttributes(ctx, in, opts...)
	})
}

func (s throttleTolerantSQS) DeleteQueue(ctx context.Context, in *sqs.DeleteQueueInput, opts ...func(*sqs.Options)) (*sqs.DeleteQueueOutput, error) {
	return retried(ctx, "sqs.DeleteQueue", func(ctx context.Context) (*sqs.DeleteQueueOutput, error) {
		return s.api.DeleteQueue(ctx, in, opts...)
	})
}

// throttleTolerantEventBridge is an EventBridgeAPI whose calls are retried.
type throttleTolerantEventBridge struct{ api EventBridgeAPI }

func (e throttleTolerantEventBridge) PutRule(ctx context.Context, in *eventbridge.PutRuleInput, opts ...func(*eventbridge.Options)) (*eventbridge.PutRuleOutput, error) {
	return retried(ctx, "events.PutRule", func(ctx context.Context) (*eventbridge.PutRuleOutput, error) {
		return e.api.PutRule(ctx, in, opts...)
	})
}

func (e throttleTolerantEventBridge) DescribeRule(ctx context.Context, in *eventbridge.DescribeRuleInput, opts ...func(*eventbridge.Options)) (*eventbridge.DescribeRuleOutput, error) {
	return retried(ctx, "events.DescribeRule", func(ctx context.Context) (*eventbridge.DescribeRuleOutput, error) {
		return e.api.DescribeRule(ctx, in, opts...)
	})
}

func (e throttleTolerantEventBridge) DeleteRule(ctx context.Context, in *eventbridge.DeleteRuleInput, opts ...func(*eventbridge.Options)) (*eventbridge.DeleteRuleOutput, error) {
	return retried(ctx, "events.DeleteRule", func(ctx context.Context) (*eventbridge.DeleteRuleOutput, error) {
		return e.api.DeleteRule(ctx, in, opts...)
	})
}

func (e throttleTolerantEventBridge) PutTargets(ctx context.Context, in *eventbridge.PutTargetsInput, opts ...func(*eventbridge.Options)) (*eventbridge.PutTargetsOutput, error) {
	return retried(ctx, "events.PutTargets", func(ctx context.Context) (*eventbridge.PutTargetsOutput, error) {
		return e.api.PutTargets(ctx, in, opts...)
	})
}

func (e throttleTolerantEventBridge) RemoveTargets(ctx context.Context, in *eventbridge.RemoveTargetsInput, opts ...func(*eventbridge.Options)) (*eventbridge.RemoveTargetsOutput, error) {
	return retried(ctx, "events.RemoveTargets", func(ctx context.Context) (*eventbridge.RemoveTargetsOutput, error) {
		return e.api.RemoveTargets(ctx, in, opts...)
	})
}

func (e throttleTolerantEventBridge) ListTargetsByRule(ctx context.Context, in *eventbridge.ListTargetsByRuleInput, opts ...func(*eventbridge.Options)) (*eventbridge.ListTargetsByRuleOutput, error) {
	return retried(ctx, "events.ListTargetsByRule", func(ctx context.Context) (*eventbridge.ListTargetsByRuleOutput, error) {
		return e.api.ListTargetsByRule(ctx, in, opts...)
	})
}

// throttleTolerant wraps both APIs, once.
func throttleTolerant(sq SQSAdminAPI, eb EventBridgeAPI) (SQSAdminAPI, EventBridgeAPI) {
	if _, ok := sq.(throttleTolerantSQS); !ok {
		sq = throttleTolerantSQS{sq}
	}
	if _, ok := eb.(throttleTolerantEventBridge); !ok {
		eb = throttleTolerantEventBridge{eb}
	}
	return sq, eb
}
