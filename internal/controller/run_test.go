package controller

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/kelp-dev/kelp/internal/approver"
	"github.com/kelp-dev/kelp/internal/cloud/cloudtest"
	"github.com/kelp-dev/kelp/internal/termination"
	"github.com/kelp-dev/kelp/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// TestRunWithLeaderElection runs the controllers on the real API server:
// the process takes the Lease, serves /metrics, and on cancel stops its
// controllers and then releases the Lease.
func TestRunWithLeaderElection(t *testing.T) {
	env := testenv.Get(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{ClusterName: "kelp-test", LeaderElect: true, Approve: approver.ModeAuto, ProbeAddr: "127.0.0.1:0"},
			Deps{Client: env.Client, Cloud: cloudtest.New(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	}()
	leases := env.Client.CoordinationV1().Leases("kube-system")
	var holder string
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		l, err := leases.Get(ctx, "kelp-controller", metav1.GetOptions{})
		if err != nil || l.Spec.HolderIdentity == nil {
			return false, nil
		}
		holder = *l.Spec.HolderIdentity
		return holder != "", nil
	})
	if err != nil {
		t.Fatalf("the controller never took the lease: %v", err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run after cancel: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return within 30s of cancel")
	}
	l, err := leases.Get(context.Background(), "kelp-controller", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if l.Spec.HolderIdentity != nil && *l.Spec.HolderIdentity == holder {
		t.Errorf("lease still held by %s after a clean stop", holder)
	}
}

func TestOptionsValidate(t *testing.T) {
	err := Options{Approve: "sometimes", TokenTTL: 30 * time.Second, ProbeAddr: "nonsense", WebAddr: "8081"}.Validate()
	testenv.ErrorContains(t, err, "cluster name", `approve "sometimes"`, "token ttl 30s", `probe address "nonsense"`, `web address "8081"`)
}

// TestApproveOffWatchesNoCSRs runs the controllers with --approve=off: node
// lifecycle runs, but no approver is built, so kelp neither watches nor
// counts CSRs (with manual, it counts what it would have decided).
func TestApproveOffWatchesNoCSRs(t *testing.T) {
	env := testenv.Get(t)
	ctx, cancel := context.WithCancel(context.Background())
	reg := prometheus.NewRegistry()
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{ClusterName: "kelp-test", Approve: approver.ModeOff},
			Deps{Client: env.Client, Cloud: cloudtest.New(), Registry: reg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	families := func() map[string]bool {
		out := map[string]bool{}
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatalf("gather metrics: %v", err)
		}
		for _, mf := range mfs {
			out[mf.GetName()] = true
		}
		return out
	}
	testenv.EventuallyTrue(t, time.Minute, "node lifecycle running", func() bool { return families()["kelp_nodes_not_in_cloud"] })
	for name := range families() {
		if strings.HasPrefix(name, "kelp_csr_") {
			t.Errorf("metric %s registered: the approver runs with --approve=off", name)
		}
	}
}

// TestInterruptionQueueFeedsTheDrainController: with a queue URL, the
// consumer is built on the leader with the drain controller's Notify as
// its handler; without a consumer, Run refuses the URL.
func TestInterruptionQueueFeedsTheDrainController(t *testing.T) {
	env := testenv.Get(t)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	o := Options{ClusterName: "kelp-test", Approve: approver.ModeOff, InterruptionQueue: "https://sqs.us-east-1.amazonaws.com/1/kelp"}
	err := Run(context.Background(), o, Deps{Client: env.Client, Cloud: cloudtest.New(), Logger: logger})
	testenv.ErrorContains(t, err, "interruption queue https://sqs.us-east-1.amazonaws.com/1/kelp", "no queue consumer")

	ctx, cancel := context.WithCancel(context.Background())
	reg := prometheus.NewRegistry()
	consumer := &fakeConsumer{started: make(chan struct{})}
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, o, Deps{Client: env.Client, Cloud: cloudtest.New(), Registry: reg, Logger: logger,
			InterruptionQueue: func(url string, h func(context.Context, termination.Notice) error, _ prometheus.Registerer) (QueueConsumer, error) {
				if url != o.InterruptionQueue {
					t.Errorf("consumer of %q, want %q", url, o.InterruptionQueue)
				}
				consumer.handler = h
				return consumer, nil
			}})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	select {
	case <-consumer.started:
	case <-time.After(time.Minute):
		t.Fatal("the queue consumer never ran")
	}
	err = consumer.handler(ctx, termination.Notice{Kind: termination.NoticeWarning, Departure: termination.Departure{InstanceID: "i-0123456789abcdef0"}})
	if err != nil {
		t.Fatalf("handler: %v", err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, mf := range mfs {
		if mf.GetName() == "kelp_drain_notices_total" {
			for _, m := range mf.GetMetric() {
				for _, l := range m.GetLabel() {
					found = found || (l.GetName() == "outcome" && l.GetValue() == "unmanaged")
				}
			}
		}
	}
	if !found {
		t.Error("the notice of an unmanaged instance was not counted by the drain controller")
	}
}

type fakeConsumer struct {
	handler func(context.Context, termination.Notice) error
	started chan struct{}
}

func (c *fakeConsumer) Run(ctx context.Context) error {
	close(c.started)
	<-ctx.Done()
	return nil
}
