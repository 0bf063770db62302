package aws

import (
	"context"
	"testing"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/localcloud"
	"github.com/kelp-dev/kelp/internal/pool"
	"github.com/kelp-dev/kelp/internal/testenv"
)

// fastRetries keeps the retries' waits short on the real clock.
var fastRetries = RetryConfig{MaxAttempts: 5, MaxBackoff: 20 * time.Millisecond, ThrottleRetries: 3, ThrottleBackoff: 10 * time.Millisecond}

func TestThrottlingIsRetried(t *testing.T) {
	e := newEnv(t, envOptions{realClock: true})
	name := e.createPool(testCluster, pool.Spec{Name: "general", InstanceTypes: []string{"m5.large"}, MaxSize: 4, DesiredCapacity: int32p(1)})
	id := sdkaws.ToString(e.waitInService(name, 1)[0].InstanceId)
	if err := e.cloud.SetFaults(localcloud.Faults{ThrottleRate: 0.5}); err != nil {
		t.Fatal(err)
	}
	p := e.provider(Config{Retry: fastRetries, InstanceCacheTTL: time.Nanosecond})
	before := e.counter.total()
	calls := 0
	for range 5 {
		if err := p.Refresh(bg); err != nil {
			t.Fatalf("Refresh: %v", err)
		}
		inst, err := p.InstanceByID(bg, id)
		if err != nil {
			t.Fatalf("InstanceByID: %v", err)
		}
		if _, err := p.InstanceByPrivateDNSName(bg, inst.PrivateDNSName); err != nil {
			t.Fatalf("InstanceByPrivateDNSName: %v", err)
		}
		calls += 7 // groups, instances, template, activities; id: 2; dns: 2 (at least)
	}
	if err := p.SetTargetSize(bg, name, 2); err != nil {
		t.Fatalf("SetTargetSize: %v", err)
	}
	if d := sdkaws.ToInt32(e.group(name).DesiredCapacity); d != 2 {
		t.Errorf("desired capacity = %d, want 2", d)
	}
	if got := e.counter.total() - before; got <= calls+2 {
		t.Errorf("%d requests for at least %d calls: no throttled request was retried", got, calls+2)
	}
}

func TestThrottlingExhaustedIsErrThrottled(t *testing.T) {
	e := newEnv(t, envOptions{realClock: true})
	name := e.createPool(testCluster, pool.Spec{Name: "general", InstanceTypes: []string{"m5.large"}, MaxSize: 4})
	if err := e.cloud.SetFaults(localcloud.Faults{ThrottleRate: 1}); err != nil {
		t.Fatal(err)
	}
	retries := RetryConfig{MaxAttempts: 2, MaxBackoff: time.Millisecond, ThrottleRetries: 1, ThrottleBackoff: time.Millisecond}
	p := e.provider(Config{Retry: retries})
	before := e.counter.total()
	err := p.Refresh(bg)
	wantIs(t, err, cloud.ErrThrottled)
	if got := e.counter.total() - before; got != 4 { // 2 attempts × (1 + 1 round)
		t.Errorf("requests = %d, want 4", got)
	}
	wantIs(t, p.SetTargetSize(bg, name, 1), cloud.ErrThrottled)
	_, err = p.InstanceByID(bg, "i-0123456789abcdef0")
	wantIs(t, err, cloud.ErrThrottled)
}

// TestThrottleRoundsEndWithCtx: a call waiting out kelp's backoff between
// throttle rounds returns as soon as its context ends.
func TestThrottleRoundsEndWithCtx(t *testing.T) {
	e := newEnv(t, envOptions{})
	if err := e.cloud.SetFaults(localcloud.Faults{ThrottleRate: 1}); err != nil {
		t.Fatal(err)
	}
	clk := clocktesting.NewFakeClock(testStart) // the provider's alone
	p, err := New(bg, Config{ClusterName: testCluster, Endpoint: e.url, Region: localcloud.DefaultRegion,
		Retry: RetryConfig{MaxAttempts: 1, ThrottleRetries: 5, ThrottleBackoff: time.Hour}},
		Deps{Clock: clk, Logger: testLogger(),
			Credentials: credentials.NewStaticCredentialsProvider(localcloud.AccessKeyID, localcloud.SecretAccessKey, "")})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(bg)
	done := make(chan error, 1)
	go func() { done <- p.Refresh(ctx) }()
	testenv.EventuallyTrue(t, waitTimeout, "a throttle backoff on the clock", clk.HasWaiters)
	cancel()
	select {
	case err := <-done:
		wantIs(t, err, cloud.ErrThrottled)
	case <-time.After(20 * time.Second):
		t.Fatal("Refresh did not return after its context ended")
	}
}
