package localcloud

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/kelp-dev/kelp/internal/testenv"
)

// sqsClient is an SDK SQS client pointed at the env's server (build it
// again after a restart).
func (e *env) sqsClient() *sqs.Client {
	region := e.opts.Region
	if region == "" {
		region = DefaultRegion
	}
	cfg := aws.Config{Region: region, Credentials: credentials.NewStaticCredentialsProvider(AccessKeyID, SecretAccessKey, "")}
	return sqs.NewFromConfig(cfg, func(o *sqs.Options) { o.BaseEndpoint = aws.String(e.srv.URL) })
}

func (e *env) createQueue(c *sqs.Client, name string, attrs map[string]string) string {
	e.t.Helper()
	out, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
	if err != nil {
		e.t.Fatalf("CreateQueue %s: %v", name, err)
	}
	return aws.ToString(out.QueueUrl)
}

func queueAttrs(t *testing.T, c *sqs.Client, url string) map[string]string {
	t.Helper()
	out, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll}})
	if err != nil {
		t.Fatalf("GetQueueAttributes: %v", err)
	}
	return out.Attributes
}

func receive(t *testing.T, c *sqs.Client, url string, n int32) []sqstypes.Message {
	t.Helper()
	out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: n,
		MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll}})
	if err != nil {
		t.Fatalf("ReceiveMessage: %v", err)
	}
	return out.Messages
}

func wantCounts(t *testing.T, c *sqs.Client, url string, visible, inFlight int) {
	t.Helper()
	a := queueAttrs(t, c, url)
	if a["ApproximateNumberOfMessages"] != strconv.Itoa(visible) || a["ApproximateNumberOfMessagesNotVisible"] != strconv.Itoa(inFlight) {
		t.Fatalf("visible %s, in flight %s; want %d, %d", a["ApproximateNumberOfMessages"], a["ApproximateNumberOfMessagesNotVisible"], visible, inFlight)
	}
}

func TestSQSQueues(t *testing.T) {
	e := newEnv(t)
	c := e.sqsClient()
	attrs := map[string]string{"VisibilityTimeout": "60", "MessageRetentionPeriod": "600", "ReceiveMessageWaitTimeSeconds": "0"}
	url := e.createQueue(c, "kelp-events", attrs)
	if want := e.srv.URL + "/" + AccountID + "/kelp-events"; url != want {
		t.Fatalf("QueueUrl %s, want %s", url, want)
	}
	if again := e.createQueue(c, "kelp-events", attrs); again != url {
		t.Fatalf("CreateQueue again: %s", again)
	}
	_, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("kelp-events"), Attributes: map[string]string{"VisibilityTimeout": "5"}})
	var exists *sqstypes.QueueNameExists
	if !errors.As(err, &exists) || exists.ErrorCode() != "QueueAlreadyExists" {
		t.Fatalf("CreateQueue with other attributes: %v", err)
	}
	got := must[*sqs.GetQueueUrlOutput](t)(c.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("kelp-events")}))
	if aws.ToString(got.QueueUrl) != url {
		t.Fatalf("GetQueueUrl %s", aws.ToString(got.QueueUrl))
	}
	a := queueAttrs(t, c, url)
	for k, want := range map[string]string{"VisibilityTimeout": "60", "MessageRetentionPeriod": "600", "DelaySeconds": "0",
		"QueueArn": "arn:aws:sqs:us-east-1:" + AccountID + ":kelp-events", "ApproximateNumberOfMessages": "0",
		"CreatedTimestamp": strconv.FormatInt(testStart.Unix(), 10)} {
		if a[k] != want {
			t.Errorf("attribute %s = %q, want %q", k, a[k], want)
		}
	}
	policy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"events.amazonaws.com"},"Action":"sqs:SendMessage","Resource":"*"}]}`
	must[*sqs.SetQueueAttributesOutput](t)(c.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: aws.String(url),
		Attributes: map[string]string{"Policy": policy, "VisibilityTimeout": "45"}}))
	if a := queueAttrs(t, c, url); a["Policy"] != policy || a["VisibilityTimeout"] != "45" {
		t.Fatalf("after SetQueueAttributes: %v", a)
	}
	e.createQueue(c, "kelp-other", nil)
	e.createQueue(c, "zzz", nil)
	list := must[*sqs.ListQueuesOutput](t)(c.ListQueues(ctx, &sqs.ListQueuesInput{QueueNamePrefix: aws.String("kelp-"), MaxResults: aws.Int32(1)}))
	if len(list.QueueUrls) != 1 || !strings.HasSuffix(list.QueueUrls[0], "/kelp-events") || list.NextToken == nil {
		t.Fatalf("ListQueues page 1: %v %v", list.QueueUrls, list.NextToken)
	}
	list = must[*sqs.ListQueuesOutput](t)(c.ListQueues(ctx, &sqs.ListQueuesInput{QueueNamePrefix: aws.String("kelp-"), MaxResults: aws.Int32(1), NextToken: list.NextToken}))
	if len(list.QueueUrls) != 1 || !strings.HasSuffix(list.QueueUrls[0], "/kelp-other") {
		t.Fatalf("ListQueues page 2: %v", list.QueueUrls)
	}
	must[*sqs.DeleteQueueOutput](t)(c.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: aws.String(url)}))
	_, err = c.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("kelp-events")})
	var missing *sqstypes.QueueDoesNotExist
	if !errors.As(err, &missing) || missing.ErrorCode() != "AWS.SimpleQueueService.NonExistentQueue" {
		t.Fatalf("GetQueueUrl of a deleted queue: %v", err)
	}
}

func TestSQSSendReceiveDelete(t *testing.T) {
	e := newEnv(t)
	c := e.sqsClient()
	url := e.createQueue(c, "q", nil)
	sent := must[*sqs.SendMessageOutput](t)(c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(`{"hello":"world"}`)}))
	if aws.ToString(sent.MD5OfMessageBody) != "fbc24bcc7a1794758fc1327fcfebdaf6" { // the SDK checks it too
		t.Fatalf("MD5OfMessageBody %s", aws.ToString(sent.MD5OfMessageBody))
	}
	msgs := receive(t, c, url, 10)
	if len(msgs) != 1 || aws.ToString(msgs[0].Body) != `{"hello":"world"}` || aws.ToString(msgs[0].MessageId) != aws.ToString(sent.MessageId) {
		t.Fatalf("received %+v", msgs)
	}
	m := msgs[0]
	if m.Attributes["ApproximateReceiveCount"] != "1" || m.Attributes["SentTimestamp"] != strconv.FormatInt(testStart.UnixMilli(), 10) {
		t.Fatalf("attributes %v", m.Attributes)
	}
	wantCounts(t, c, url, 0, 1)
	must[*sqs.DeleteMessageOutput](t)(c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle}))
	wantCounts(t, c, url, 0, 0)

	batch := must[*sqs.SendMessageBatchOutput](t)(c.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(url),
		Entries: []sqstypes.SendMessageBatchRequestEntry{
			{Id: aws.String("a"), MessageBody: aws.String("one")},
			{Id: aws.String("b"), MessageBody: aws.String("two")},
			{Id: aws.String("c"), MessageBody: aws.String("three"), DelaySeconds: 901},
		}}))
	if len(batch.Successful) != 2 || len(batch.Failed) != 1 || aws.ToString(batch.Failed[0].Id) != "c" ||
		aws.ToString(batch.Failed[0].Code) != "InvalidParameterValue" {
		t.Fatalf("SendMessageBatch: %+v", batch)
	}
	msgs = receive(t, c, url, 10)
	if len(msgs) != 2 || aws.ToString(msgs[0].Body) != "one" || aws.ToString(msgs[1].Body) != "two" {
		t.Fatalf("received %+v", msgs)
	}
	del := must[*sqs.DeleteMessageBatchOutput](t)(c.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(url),
		Entries: []sqstypes.DeleteMessageBatchRequestEntry{{Id: aws.String("x"), ReceiptHandle: msgs[0].ReceiptHandle},
			{Id: aws.String("y"), ReceiptHandle: aws.String("garbage")}}}))
	if len(del.Successful) != 1 || len(del.Failed) != 1 || aws.ToString(del.Failed[0].Code) != "ReceiptHandleIsInvalid" {
		t.Fatalf("DeleteMessageBatch: %+v", del)
	}
	wantCounts(t, c, url, 0, 1)
	must[*sqs.PurgeQueueOutput](t)(c.PurgeQueue(ctx, &sqs.PurgeQueueInput{QueueUrl: aws.String(url)}))
	wantCounts(t, c, url, 0, 0)
}

func TestSQSVisibilityTimeoutRedelivers(t *testing.T) {
	e := newEnv(t)
	c := e.sqsClient()
	url := e.createQueue(c, "q", map[string]string{"VisibilityTimeout": "30"})
	must[*sqs.SendMessageOutput](t)(c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("m")}))
	first := receive(t, c, url, 1)
	if len(first) != 1 {
		t.Fatal("no message")
	}
	if again := receive(t, c, url, 1); len(again) != 0 {
		t.Fatal("received an in-flight message")
	}
	e.clock.Step(30 * time.Second)
	second := receive(t, c, url, 1)
	if len(second) != 1 || second[0].Attributes["ApproximateReceiveCount"] != "2" ||
		aws.ToString(second[0].ReceiptHandle) == aws.ToString(first[0].ReceiptHandle) {
		t.Fatalf("redelivery: %+v", second)
	}
	// The stale handle no longer changes visibility; the current one does.
	_, err := c.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(url), ReceiptHandle: first[0].ReceiptHandle, VisibilityTimeout: 0})
	var invalid *sqstypes.ReceiptHandleIsInvalid
	if !errors.As(err, &invalid) {
		t.Fatalf("ChangeMessageVisibility with a stale handle: %v", err)
	}
	must[*sqs.ChangeMessageVisibilityOutput](t)(c.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
		QueueUrl: aws.String(url), ReceiptHandle: second[0].ReceiptHandle, VisibilityTimeout: 0}))
	third := receive(t, c, url, 1)
	if len(third) != 1 || third[0].Attributes["ApproximateReceiveCount"] != "3" {
		t.Fatalf("after ChangeMessageVisibility 0: %+v", third)
	}
	must[*sqs.ChangeMessageVisibilityOutput](t)(c.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
		QueueUrl: aws.String(url), ReceiptHandle: third[0].ReceiptHandle, VisibilityTimeout: 0}))
	_, err = c.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(url), ReceiptHandle: third[0].ReceiptHandle, VisibilityTimeout: 10})
	var notInFlight *sqstypes.MessageNotInflight
	if !errors.As(err, &notInFlight) {
		t.Fatalf("ChangeMessageVisibility of a visible message: %v", err)
	}
	// Delayed messages wait; retention drops old ones.
	must[*sqs.SendMessageOutput](t)(c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("late"), DelaySeconds: 10}))
	if a := queueAttrs(t, c, url); a["ApproximateNumberOfMessagesDelayed"] != "1" {
		t.Fatalf("delayed: %v", a)
	}
	e.clock.Step(4 * 24 * time.Hour) // the default retention, 4 days
	if msgs := receive(t, c, url, 10); len(msgs) != 0 {
		t.Fatalf("received expired messages: %+v", msgs)
	}
}

func TestSQSLongPolling(t *testing.T) {
	e := newEnv(t)
	c := e.sqsClient()
	url := e.createQueue(c, "q", map[string]string{"ReceiveMessageWaitTimeSeconds": "20"})
	polling := func() int {
		e.cloud.sqs.mu.Lock()
		defer e.cloud.sqs.mu.Unlock()
		return e.cloud.sqs.polling
	}
	type result struct {
		msgs []sqstypes.Message
		err  error
	}
	poll := func(rctx context.Context) chan result {
		done := make(chan result, 1)
		go func() {
			out, err := c.ReceiveMessage(rctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url)}) // the queue's 20 s
			if err != nil {
				done <- result{err: err}
				return
			}
			done <- result{msgs: out.Messages}
		}()
		testenv.EventuallyTrue(t, waitTimeout, "the receive waits", func() bool { return polling() == 1 })
		return done
	}
	// A message sent while a receive waits ends the wait.
	done := poll(ctx)
	must[*sqs.SendMessageOutput](t)(c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("m")}))
	if r := <-done; r.err != nil || len(r.msgs) != 1 {
		t.Fatalf("long poll: %+v", r)
	}
	// With nothing to receive, the wait ends after 20 s on the cloud's clock.
	done = poll(ctx)
	e.clock.Step(19 * time.Second)
	select {
	case r := <-done:
		t.Fatalf("the wait ended early: %+v", r)
	default:
	}
	e.clock.Step(time.Second)
	if r := <-done; r.err != nil || len(r.msgs) != 0 {
		t.Fatalf("long poll timeout: %+v", r)
	}
	// A message becoming visible again ends the wait too (visibility 30 s).
	done = poll(ctx)
	e.clock.Step(11 * time.Second) // 30 s after the first receive
	if r := <-done; r.err != nil || len(r.msgs) != 1 || r.msgs[0].Attributes != nil {
		t.Fatalf("long poll for a redelivery: %+v", r)
	}
	// A client that goes away ends its wait.
	cctx, cancel := context.WithCancel(ctx)
	done = poll(cctx)
	cancel()
	if r := <-done; r.err == nil {
		t.Fatal("a cancelled receive succeeded")
	}
	testenv.EventuallyTrue(t, waitTimeout, "the cancelled wait ends", func() bool { return polling() == 0 })
}

func TestSQSErrors(t *testing.T) {
	e := newEnv(t)
	c := e.sqsClient()
	url := e.createQueue(c, "q", nil)
	gone := e.srv.URL + "/" + AccountID + "/nope"
	var missing *sqstypes.QueueDoesNotExist
	if _, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(gone), MessageBody: aws.String("m")}); !errors.As(err, &missing) {
		t.Fatalf("SendMessage to a missing queue: %v", err)
	}
	if _, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(gone)}); !errors.As(err, &missing) {
		t.Fatalf("ReceiveMessage from a missing queue: %v", err)
	}
	var invalid *sqstypes.ReceiptHandleIsInvalid
	if _, err := c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: aws.String("nonsense")}); !errors.As(err, &invalid) {
		t.Fatalf("DeleteMessage with a bad handle: %v", err)
	}
	var api smithy.APIError
	_, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 11})
	if !errors.As(err, &api) || api.ErrorCode() != "InvalidParameterValue" || !strings.Contains(api.ErrorMessage(), "MaxNumberOfMessages") {
		t.Fatalf("MaxNumberOfMessages 11: %v", err)
	}
	_, err = c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), WaitTimeSeconds: 21})
	if !errors.As(err, &api) || api.ErrorCode() != "InvalidParameterValue" {
		t.Fatalf("WaitTimeSeconds 21: %v", err)
	}
	var badName *sqstypes.InvalidAttributeName
	if _, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("f.fifo"), Attributes: map[string]string{"FifoQueue": "true"}}); !errors.As(err, &badName) {
		t.Fatalf("a FIFO queue: %v", err)
	}
	var badValue *sqstypes.InvalidAttributeValue
	if _, err := c.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: aws.String(url), Attributes: map[string]string{"VisibilityTimeout": "-1"}}); !errors.As(err, &badValue) {
		t.Fatalf("VisibilityTimeout -1: %v", err)
	}
	if _, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("bad name")}); !errors.As(err, &api) || api.ErrorCode() != "InvalidParameterValue" {
		t.Fatalf("a bad queue name: %v", err)
	}
	entries := make([]sqstypes.SendMessageBatchRequestEntry, 11)
	for i := range entries {
		entries[i] = sqstypes.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String("m")}
	}
	var tooMany *sqstypes.TooManyEntriesInBatchRequest
	if _, err := c.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(url), Entries: entries}); !errors.As(err, &tooMany) {
		t.Fatalf("11 entries: %v", err)
	}
}

func TestSQSPersistsAcrossRestart(t *testing.T) {
	e := newEnv(t)
	c := e.sqsClient()
	url := e.createQueue(c, "q", map[string]string{"VisibilityTimeout": "300"})
	for _, body := range []string{"first", "second"} {
		must[*sqs.SendMessageOutput](t)(c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(body)}))
	}
	if got := receive(t, c, url, 1); len(got) != 1 || aws.ToString(got[0].Body) != "first" {
		t.Fatalf("received %+v", got)
	}
	e.restart()
	c = e.sqsClient()
	url = aws.ToString(must[*sqs.GetQueueUrlOutput](t)(c.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("q")})).QueueUrl)
	if a := queueAttrs(t, c, url); a["VisibilityTimeout"] != "300" {
		t.Fatalf("attributes after a restart: %v", a)
	}
	wantCounts(t, c, url, 1, 1)
	if got := receive(t, c, url, 10); len(got) != 1 || aws.ToString(got[0].Body) != "second" {
		t.Fatalf("received after a restart %+v", got)
	}
	must[*sqs.SendMessageOutput](t)(c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("third")}))
	e.clock.Step(5 * time.Minute)
	got := receive(t, c, url, 10)
	if len(got) != 3 || aws.ToString(got[0].Body) != "first" || aws.ToString(got[2].Body) != "third" {
		t.Fatalf("order after a restart: %+v", got)
	}
}
