package approver

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/cloud/cloudtest"
)

// countingCloud counts the lookups and refreshes that reach the cloud; a
// refresh waits for gate when it is set.
type countingCloud struct {
	*cloudtest.Provider
	byName, forNode, refreshes atomic.Int32
	gate                       chan struct{}
	entered                    chan struct{}
}

func (c *countingCloud) InstanceByPrivateDNSName(ctx context.Context, name string) ([]cloud.Instance, error) {
	c.byName.Add(1)
	return c.Provider.InstanceByPrivateDNSName(ctx, name)
}

func (c *countingCloud) InstanceForNode(ctx context.Context, providerID string) (cloud.Instance, error) {
	c.forNode.Add(1)
	return c.Provider.InstanceForNode(ctx, providerID)
}

func (c *countingCloud) Refresh(ctx context.Context) error {
	c.refreshes.Add(1)
	if c.gate != nil {
		c.entered <- struct{}{}
		<-c.gate
	}
	return c.Provider.Refresh(ctx)
}

func TestBoundedCloudRemembersNotFound(t *testing.T) {
	inst := freshInstance()
	for _, tt := range []struct {
		name    string
		lookup  func(context.Context, *BoundedCloud) error
		calls   func(*countingCloud) int32
		missing bool
	}{
		{"missing name", func(ctx context.Context, b *BoundedCloud) error {
			_, err := b.InstanceByPrivateDNSName(ctx, "ip-10-9-9-9.ec2.internal")
			return err
		}, func(c *countingCloud) int32 { return c.byName.Load() }, true},
		{"missing providerID", func(ctx context.Context, b *BoundedCloud) error {
			_, err := b.InstanceForNode(ctx, "aws:///us-east-1a/i-0000000000000dead")
			return err
		}, func(c *countingCloud) int32 { return c.forNode.Load() }, true},
		{"existing name", func(ctx context.Context, b *BoundedCloud) error {
			_, err := b.InstanceByPrivateDNSName(ctx, inst.PrivateDNSName)
			return err
		}, func(c *countingCloud) int32 { return c.byName.Load() }, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fake := &countingCloud{Provider: testCloud(inst)}
			clk := clocktesting.NewFakePassiveClock(t0)
			b := NewBoundedCloud(fake, clk)
			ctx := context.Background()
			const n = 50
			for range n {
				if err := tt.lookup(ctx, b); errors.Is(err, cloud.ErrNotFound) != tt.missing {
					t.Fatalf("lookup: %v, want not found %v", err, tt.missing)
				}
			}
			want := int32(1)
			if !tt.missing {
				want = n // positive answers are not remembered here
			}
			if got := tt.calls(fake); got != want {
				t.Errorf("%d lookups within the TTL made %d cloud calls, want %d", n, got, want)
			}
			clk.SetTime(t0.Add(NegativeTTL))
			_ = tt.lookup(ctx, b)
			if got := tt.calls(fake); tt.missing && got != 2 {
				t.Errorf("after the TTL: %d cloud calls, want 2 (the answer expired)", got)
			}
		})
	}
}

func TestBoundedCloudRefreshesOnceAtATime(t *testing.T) {
	fake := &countingCloud{Provider: testCloud(), gate: make(chan struct{}), entered: make(chan struct{}, 32)}
	clk := clocktesting.NewFakePassiveClock(t0)
	b := NewBoundedCloud(fake, clk)
	ctx := context.Background()
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	wg.Go(func() { errs <- b.Refresh(ctx) })
	<-fake.entered // the first refresh runs
	for range n - 1 {
		wg.Go(func() { errs <- b.Refresh(ctx) })
	}
	// The others share the refresh in flight, or its answer once it
	// ended: none reaches the cloud.
	close(fake.gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := fake.refreshes.Load(); got != 1 {
		t.Errorf("%d concurrent refreshes made %d cloud refreshes, want 1", n, got)
	}
	// Within the minimum interval a refresh is the last one's answer.
	clk.SetTime(t0.Add(MinRefreshInterval - time.Second))
	if err := b.Refresh(ctx); err != nil || fake.refreshes.Load() != 1 {
		t.Errorf("refresh within the interval: err %v, %d cloud refreshes; want nil, 1", err, fake.refreshes.Load())
	}
	fake.gate = nil
	clk.SetTime(t0.Add(MinRefreshInterval))
	if err := b.Refresh(ctx); err != nil || fake.refreshes.Load() != 2 {
		t.Errorf("refresh after the interval: err %v, %d cloud refreshes; want nil, 2", err, fake.refreshes.Load())
	}
	// A failed refresh is shared too, within the interval.
	down := errors.New("throttled by the cloud")
	fake.SetErr(down)
	clk.SetTime(t0.Add(2 * MinRefreshInterval))
	if err := b.Refresh(ctx); !errors.Is(err, down) {
		t.Fatalf("refresh: %v, want %v", err, down)
	}
	if err := b.Refresh(ctx); !errors.Is(err, down) || fake.refreshes.Load() != 3 {
		t.Errorf("refresh after a failure within the interval: err %v, %d cloud refreshes; want %v, 3", err, fake.refreshes.Load(), down)
	}
}
