package interruption

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/kelp-dev/kelp/internal/termination"
	"github.com/kelp-dev/kelp/internal/testenv"
)

// recorder is a Handler that keeps what it is given and fails the
// Notices fail says, once each.
type recorder struct {
	mu      sync.Mutex
	got     []termination.Notice
	failing map[string]bool // instance ids whose next Notice fails
}

func (r *recorder) handle(_ context.Context, n termination.Notice) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failing[n.InstanceID] {
		delete(r.failing, n.InstanceID)
		return errors.New("not now")
	}
	r.got = append(r.got, n)
	return nil
}

func (r *recorder) notices() []termination.Notice {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// find returns the first Notice with kind and cause (and state, for a
// state change).
func find(ns []termination.Notice, kind termination.NoticeKind, cause termination.Cause, state string) (termination.Notice, bool) {
	for _, n := range ns {
		if n.Kind == kind && n.Cause == cause && n.State == state {
			return n, true
		}
	}
	return termination.Notice{}, false
}

// TestQueueConsumesWhatTheLocalCloudPublishes sets the queue up with
// EnsureQueue and runs the consumer while the local cloud publishes every
// kind of event through the rules: each arrives as its Notice, and the
// queue is left empty.
func TestQueueConsumesWhatTheLocalCloudPublishes(t *testing.T) {
	e := newEnv(t)
	st, err := EnsureQueue(ctx, e.sqs, e.eb, Spec{Name: "kelp-dev"})
	if err != nil {
		t.Fatalf("EnsureQueue: %v", err)
	}
	id := e.spotGroup("spot")
	rec := &recorder{}
	reg := prometheus.NewRegistry()
	q := NewQueue(e.sqs, st.URL, rec.handle, testLogger(), NewMetrics(reg))
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- q.Run(rctx) }()
	// Before the cloud's server closes (cleanups run last first): a long
	// poll on the fake clock ends only with its context.
	t.Cleanup(func() { cancel(); <-done })

	if err := e.cloud.RecommendRebalance(id); err != nil {
		t.Fatal(err)
	}
	start := at.Add(14 * 24 * time.Hour)
	if err := e.cloud.ScheduleHealthEvent(id, "", start); err != nil {
		t.Fatal(err)
	}
	if err := e.cloud.InterruptSpotInstance(id); err != nil {
		t.Fatal(err)
	}
	var action termination.Notice
	testenv.EventuallyTrue(t, waitTimeout, "the lifecycle action's notice", func() bool {
		var ok bool
		action, ok = find(rec.notices(), termination.NoticeLifecycleAction, termination.CauseUnknown, "")
		return ok
	})
	if action.InstanceID != id || action.Group != "spot" || action.Hook != "kelp-drain" || action.Token == "" {
		t.Fatalf("lifecycle action notice %+v", action)
	}
	if _, err := e.as.CompleteLifecycleAction(ctx, &autoscaling.CompleteLifecycleActionInput{AutoScalingGroupName: sdkaws.String("spot"),
		LifecycleHookName: sdkaws.String("kelp-drain"), LifecycleActionToken: sdkaws.String(action.Token),
		LifecycleActionResult: sdkaws.String("CONTINUE")}); err != nil {
		t.Fatalf("complete the action with the notice's token: %v", err)
	}
	testenv.EventuallyTrue(t, waitTimeout, "the termination's state changes", func() bool {
		_, ok := find(rec.notices(), termination.NoticeStateChange, termination.CauseUnknown, "terminated")
		return ok
	})
	ns := rec.notices()
	for _, want := range []termination.Notice{
		{Kind: termination.NoticeWarning, Departure: termination.Departure{InstanceID: id, Cause: termination.CauseRebalanceRecommendation, NoticedAt: at}},
		{Kind: termination.NoticeWarning, Departure: termination.Departure{InstanceID: id, Cause: termination.CauseScheduledChange, NoticedAt: at, Deadline: start}},
		{Kind: termination.NoticeWarning, Departure: termination.Departure{InstanceID: id, Cause: termination.CauseSpotInterruption, NoticedAt: at, Deadline: at.Add(SpotNotice)}},
		{Kind: termination.NoticeStateChange, State: "shutting-down", Departure: termination.Departure{InstanceID: id, Cause: termination.CauseUnknown, NoticedAt: at}},
	} {
		got, ok := find(ns, want.Kind, want.Cause, want.State)
		if got.EventID == "" {
			ok = false
		}
		got.EventID = ""
		if !ok || got != want {
			t.Errorf("notice %s/%s: got %+v, want %+v", want.Kind, want.Cause, got, want)
		}
	}
	if _, ok := find(ns, termination.NoticeStateChange, termination.CauseUnknown, "running"); ok {
		t.Errorf("a state change to running came through the rule: %+v", ns)
	}
	testenv.EventuallyTrue(t, waitTimeout, "the queue empty", func() bool {
		visible, inFlight := e.counts(st.URL)
		return visible == "0" && inFlight == "0"
	})
	if got := testutil.ToFloat64(q.metrics.Messages.WithLabelValues("warning", OutcomeHandled)); got != 3 {
		t.Errorf("handled warnings: %v, want 3", got)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	done <- nil // for the cleanup
}

// TestQueueKeepsWhatFailsAndDropsWhatIsNoEvent: a message whose handler
// fails comes again after the visibility timeout; one that is no event,
// or an event kelp does not act on, is deleted at once.
func TestQueueKeepsWhatFailsAndDropsWhatIsNoEvent(t *testing.T) {
	e := newEnv(t)
	out, err := e.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: sdkaws.String("q")})
	if err != nil {
		t.Fatal(err)
	}
	url := sdkaws.ToString(out.QueueUrl)
	launch := strings.Replace(awsTerminateAction, "Instance-terminate", "Instance-launch", 1)
	for _, body := range []string{"not an event", launch, awsSpotWarning, awsRebalance} {
		if _, err := e.sqs.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: sdkaws.String(url), MessageBody: sdkaws.String(body)}); err != nil {
			t.Fatal(err)
		}
	}
	rec := &recorder{failing: map[string]bool{"i-1234567890abcdef0": true}}
	m := NewMetrics(prometheus.NewRegistry())
	q := NewQueue(e.sqs, url, rec.handle, testLogger(), m)
	q.WaitTime = 0 // a short poll: the fake clock does not move
	if n, err := q.poll(ctx); err != nil || n != 4 {
		t.Fatalf("poll: %d messages, %v", n, err)
	}
	// The spot warning failed; the rebalance recommendation of the same
	// instance was handled (the recorder fails once).
	if v, f := e.counts(url); v != "0" || f != "1" {
		t.Fatalf("after the first poll: %s visible, %s in flight; want 0, 1", v, f)
	}
	for _, c := range []struct {
		kind, outcome string
		want          float64
	}{{kindUnparsed, OutcomeInvalid, 1}, {kindUnparsed, OutcomeIgnored, 1}, {"warning", OutcomeFailed, 1}, {"warning", OutcomeHandled, 1}} {
		if got := testutil.ToFloat64(m.Messages.WithLabelValues(c.kind, c.outcome)); got != c.want {
			t.Errorf("messages{kind=%s,outcome=%s} = %v, want %v", c.kind, c.outcome, got, c.want)
		}
	}
	if n, err := q.poll(ctx); err != nil || n != 0 {
		t.Fatalf("poll within the visibility timeout: %d messages, %v", n, err)
	}
	e.clock.Step(DefaultVisibilityTimeout)
	if n, err := q.poll(ctx); err != nil || n != 1 {
		t.Fatalf("poll after the visibility timeout: %d messages, %v", n, err)
	}
	if v, f := e.counts(url); v != "0" || f != "0" {
		t.Fatalf("after the redelivery: %s visible, %s in flight; want 0, 0", v, f)
	}
	got := rec.notices()
	if len(got) != 2 || got[1].Cause != termination.CauseSpotInterruption {
		t.Fatalf("handled %+v", got)
	}
}

// failingSQS fails every receive, and cancels the run after n of them.
type failingSQS struct {
	n      int
	calls  int
	cancel context.CancelFunc
}

func (f *failingSQS) ReceiveMessage(context.Context, *sqs.ReceiveMessageInput, ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	f.calls++
	if f.calls == f.n {
		f.cancel()
	}
	return nil, errors.New("connection refused")
}

func (f *failingSQS) DeleteMessage(context.Context, *sqs.DeleteMessageInput, ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error) {
	return nil, errors.New("not called")
}

func TestRunBacksOffAndEndsWithItsContext(t *testing.T) {
	rctx, cancel := context.WithCancel(ctx)
	f := &failingSQS{n: 4, cancel: cancel}
	m := NewMetrics(prometheus.NewRegistry())
	q := NewQueue(f, "http://sqs/q", func(context.Context, termination.Notice) error { return nil }, testLogger(), m)
	q.MinBackoff, q.MaxBackoff = time.Millisecond, 4*time.Millisecond
	if err := q.Run(rctx); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if f.calls != 4 || testutil.ToFloat64(m.ReceiveErrors.WithLabelValues("ReceiveMessage")) != 4 {
		t.Fatalf("%d receives, %v counted; want 4", f.calls, testutil.ToFloat64(m.ReceiveErrors.WithLabelValues("ReceiveMessage")))
	}
	err := NewQueue(f, "", nil, nil, nil).Run(ctx)
	testenv.ErrorContains(t, err, "queue URL")
}
