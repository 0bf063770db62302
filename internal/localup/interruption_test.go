package localup

import (
	"context"
	"log/slog"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/kelp-dev/kelp/internal/controller"
	"github.com/kelp-dev/kelp/internal/interruption"
	"github.com/kelp-dev/kelp/internal/localcloud"
)

// TestEnsureInterruptionQueue: the local cloud gets a complete
// interruption queue, again on a restart, and the controller consumes it
// unless told another queue.
func TestEnsureInterruptionQueue(t *testing.T) {
	ctx := context.Background()
	cloud, err := localcloud.Open(localcloud.Options{Dir: t.TempDir(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := localcloud.Listen(0, cloud, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Shutdown(ctx); _ = cloud.Close() })
	want := srv.URL() + "/" + localcloud.AccountID + "/" + InterruptionQueueName
	for range 2 {
		c := &Cluster{Cloud: cloud, server: srv}
		if err := c.ensureInterruptionQueue(ctx); err != nil {
			t.Fatalf("ensureInterruptionQueue: %v", err)
		}
		if got := c.InterruptionQueueURL(); got != want {
			t.Fatalf("controller's queue %q, want %q", got, want)
		}
	}
	cfg, err := (&Cluster{Cloud: cloud, server: srv}).AWSConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st, err := interruption.DescribeQueue(ctx, sqs.NewFromConfig(cfg), eventbridge.NewFromConfig(cfg), interruption.Spec{Name: InterruptionQueueName})
	if err != nil || !st.Complete() {
		t.Fatalf("the local interruption queue: %+v, %v", st, err)
	}
	c := &Cluster{Cloud: cloud, server: srv, cfg: Config{Controller: controller.Options{InterruptionQueue: "https://sqs.example/1/other"}}}
	if err := c.ensureInterruptionQueue(ctx); err != nil {
		t.Fatal(err)
	}
	if got := c.InterruptionQueueURL(); got != "https://sqs.example/1/other" {
		t.Fatalf("an explicit queue was replaced by %q", got)
	}
}
