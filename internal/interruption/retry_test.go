package interruption

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/localcloud"
)

// TestSetupSurvivesThrottling sets a queue up and tears it down against a
// local cloud that throttles half of all requests, with the SDK's own
// retries off: every one of the setup's dozen calls must go through kelp's
// throttling policy, or one of them fails the whole setup.
func TestSetupSurvivesThrottling(t *testing.T) {
	e := newEnv(t)
	saved := setupRetry
	setupRetry = cloud.ThrottleRetry{Rounds: 40, Backoff: time.Nanosecond}
	t.Cleanup(func() { setupRetry = saved })
	if err := e.cloud.SetFaults(localcloud.Faults{ThrottleRate: 0.5}); err != nil {
		t.Fatal(err)
	}
	sq := sqs.New(e.sqs.Options(), func(o *sqs.Options) { o.RetryMaxAttempts = 1 })
	eb := eventbridge.New(e.eb.Options(), func(o *eventbridge.Options) { o.RetryMaxAttempts = 1 })
	spec := Spec{Name: "kelp-throttled"}
	st, err := EnsureQueue(ctx, sq, eb, spec)
	if err != nil {
		t.Fatalf("EnsureQueue under throttling: %v", err)
	}
	if !st.Complete() {
		t.Fatalf("EnsureQueue under throttling left the queue incomplete: %+v", st)
	}
	if err := DeleteQueue(ctx, sq, eb, spec); err != nil {
		t.Fatalf("DeleteQueue under throttling: %v", err)
	}
	if err := e.cloud.SetFaults(localcloud.Faults{}); err != nil {
		t.Fatal(err)
	}
	if _, err := DescribeQueue(ctx, e.sqs, e.eb, spec); err == nil {
		t.Fatal("the queue is still there after DeleteQueue")
	}
}
