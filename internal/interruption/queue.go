package interruption

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/kelp-dev/kelp/internal/termination"
)

// SQSAPI is what Queue calls: aws-sdk-go-v2's *sqs.Client.
type SQSAPI interface {
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, opts ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessage(ctx context.Context, in *sqs.DeleteMessageInput, opts ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error)
}

var _ SQSAPI = (*sqs.Client)(nil)

// Handler takes one Notice. It returns nil once the Notice is in hand
// (acted on, queued for action, or of an instance it does not manage):
// the message is then deleted. An error leaves the message for
// redelivery after the visibility timeout, so a Handler must be
// idempotent: the same Notice may come again (a failed delete, a Health
// event whose other instance's Notice failed, SQS's at-least-once
// delivery).
type Handler func(context.Context, termination.Notice) error

// Defaults of Queue's tuning.
const (
	DefaultWaitTime          = 20 * time.Second
	DefaultVisibilityTimeout = 60 * time.Second
	DefaultMinBackoff        = time.Second
	DefaultMaxBackoff        = time.Minute
	// maxMessages is the most ReceiveMessage returns at once.
	maxMessages = 10
)

// Queue consumes an interruption queue: it long-polls it and hands the
// Notices of every message to its Handler, in the order received.
type Queue struct {
	// WaitTime is the long poll of each ReceiveMessage (at most 20s);
	// VisibilityTimeout hides a received message from other receives
	// until it is handled (and is how long a failed one waits before it
	// comes again). Set them, if at all, before Run.
	WaitTime, VisibilityTimeout time.Duration
	// MinBackoff and MaxBackoff bound the jittered, doubling wait after a
	// failed ReceiveMessage.
	MinBackoff, MaxBackoff time.Duration

	client  SQSAPI
	url     string
	handle  Handler
	log     *slog.Logger
	metrics *Metrics
}

// NewQueue returns the consumer of the queue at url (a QueueUrl, as
// EnsureQueue or GetQueueUrl return it) through client, handing Notices to
// handle. A nil logger discards; nil metrics count nothing.
func NewQueue(client SQSAPI, url string, handle Handler, logger *slog.Logger, metrics *Metrics) *Queue {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Queue{WaitTime: DefaultWaitTime, VisibilityTimeout: DefaultVisibilityTimeout,
		MinBackoff: DefaultMinBackoff, MaxBackoff: DefaultMaxBackoff,
		client: client, url: url, handle: handle, log: logger.With("queue", url), metrics: metrics}
}

// Run consumes the queue until ctx ends, then returns nil. A failed
// receive is logged, counted and retried after a backoff; messages are
// never lost to it (SQS keeps them, for the queue's retention period).
func (q *Queue) Run(ctx context.Context) error {
	if q.url == "" || q.client == nil || q.handle == nil {
		return errors.New("interruption queue: a client, a queue URL and a handler are required")
	}
	q.log.Info("consuming the interruption queue")
	backoff := time.Duration(0)
	for ctx.Err() == nil {
		if _, err := q.poll(ctx); err != nil {
			if ctx.Err() != nil {
				break
			}
			backoff = min(max(2*backoff, q.MinBackoff), q.MaxBackoff)
			wait := backoff/2 + rand.N(backoff/2+1)
			q.log.Warn("interruption queue: receive failed", "error", err, "retryIn", wait)
			if !sleep(ctx, wait) {
				break
			}
			continue
		}
		backoff = 0
	}
	q.log.Info("stopped consuming the interruption queue")
	return nil
}

// sleep waits d or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// poll receives once (a long poll) and handles what came; it returns how
// many messages came.
func (q *Queue) poll(ctx context.Context) (int, error) {
	out, err := q.client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl: sdkaws.String(q.url), MaxNumberOfMessages: maxMessages,
		WaitTimeSeconds: int32(q.WaitTime / time.Second), VisibilityTimeout: int32(q.VisibilityTimeout / time.Second),
		MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameApproximateReceiveCount},
	})
	if err != nil {
		q.metrics.callFailed("ReceiveMessage")
		return 0, fmt.Errorf("receive from %s: %w", q.url, err)
	}
	for _, m := range out.Messages {
		if q.handleMessage(ctx, m) {
			q.delete(ctx, m)
		}
	}
	return len(out.Messages), nil
}

// handleMessage parses m and hands its Notices to the handler; it reports
// whether m is done with (handled, or never to be).
func (q *Queue) handleMessage(ctx context.Context, m sqstypes.Message) bool {
	log := q.log.With("messageId", sdkaws.ToString(m.MessageId),
		"receiveCount", m.Attributes[string(sqstypes.MessageSystemAttributeNameApproximateReceiveCount)])
	notices, err := Parse([]byte(sdkaws.ToString(m.Body)))
	switch {
	case errors.Is(err, ErrUnsupported):
		q.metrics.count(kindUnparsed, OutcomeIgnored)
		log.Debug("interruption queue: event ignored", "reason", err)
		return true
	case err != nil:
		q.metrics.count(kindUnparsed, OutcomeInvalid)
		log.Warn("interruption queue: message dropped", "error", err)
		return true
	}
	done := true
	for _, n := range notices {
		nlog := log.With("kind", n.Kind, "instance", n.InstanceID, "cause", n.Cause, "event", n.EventID)
		if err := q.handle(ctx, n); err != nil {
			q.metrics.count(string(n.Kind), OutcomeFailed)
			nlog.Warn("interruption queue: handler failed; the message comes again", "error", err)
			done = false
			continue
		}
		q.metrics.count(string(n.Kind), OutcomeHandled)
		nlog.Debug("interruption queue: notice handled")
	}
	return done
}

func (q *Queue) delete(ctx context.Context, m sqstypes.Message) {
	_, err := q.client.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: sdkaws.String(q.url), ReceiptHandle: m.ReceiptHandle})
	if err != nil {
		q.metrics.callFailed("DeleteMessage")
		q.log.Warn("interruption queue: delete failed; the message comes again", "messageId", sdkaws.ToString(m.MessageId), "error", err)
	}
}
