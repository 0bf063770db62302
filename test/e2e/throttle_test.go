package e2e

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/smithy-go"

	"github.com/kelp-dev/kelp/internal/localcloud"
	"github.com/kelp-dev/kelp/internal/localup"
	"github.com/kelp-dev/kelp/internal/pool"
	"github.com/kelp-dev/kelp/internal/testenv"
)

// TestThrottledCloudStartsAndScales is `kelp up --cloud-throttle-rate 0.5`
// as a new user tries it: with half of all cloud requests throttled, the
// local cluster starts (its pools are created through the pool
// provisioner), a pool is scaled from 0 to 2, and both instances join
// (the approver asks the throttled cloud about each of them).
func TestThrottledCloudStartsAndScales(t *testing.T) {
	release, err := testenv.AcquireSlot()
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	cluster, client := startLocal(t, localup.Config{
		Dir: filepath.Join(t.TempDir(), "thr"), Name: "thr",
		Pools: &pool.Config{Pools: []pool.Spec{
			{Name: "thr", InstanceTypes: []string{"m5.large"}, MaxSize: 3},
			{Name: "thr-spot", InstanceTypes: []string{"m5.large", "m6i.large"}, CapacityType: "spot", MaxSize: 3},
		}},
		Faults: localcloud.Faults{ThrottleRate: 0.5},
	})
	defer func() { _ = cluster.Stop(context.Background()) }()
	if n := throttledOf(t, ctx, cluster, 20); n == 0 {
		t.Fatal("no request of 20 without retries was throttled: the fault is not on")
	}
	prov, err := cluster.Provisioner(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	pools, err := prov.List(ctx)
	if err != nil || len(pools) != 2 {
		t.Fatalf("pools after start: %+v, %v", pools, err)
	}
	p, err := prov.Scale(ctx, "thr", 2)
	if err != nil {
		t.Fatal(err)
	}
	if p.Desired != 2 {
		t.Errorf("desired capacity after scale = %d, want 2", p.Desired)
	}
	poll(t, ctx, 3*time.Minute, "2 Ready nodes of pool thr under throttling", func() bool {
		ready, _, err := readyNodesOf(ctx, client, "thr")
		return err == nil && len(ready) == 2
	})
	if _, err := prov.Scale(ctx, "thr", 1); err != nil {
		t.Fatal(err)
	}
	poll(t, ctx, 2*time.Minute, "the pool scaled back to 1 instance", func() bool {
		p, err := prov.Get(ctx, "thr")
		return err == nil && p.Instances == 1
	})
}

// throttledOf sends n requests without retries and counts the throttled.
func throttledOf(t *testing.T, ctx context.Context, cluster *localup.Cluster, n int) int {
	t.Helper()
	cfg, err := cluster.AWSConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	as := autoscaling.NewFromConfig(cfg, func(o *autoscaling.Options) { o.RetryMaxAttempts = 1 })
	throttled := 0
	for range n {
		_, err := as.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{})
		var ae smithy.APIError
		if errors.As(err, &ae) && ae.ErrorCode() == "Throttling" {
			throttled++
		} else if err != nil {
			t.Fatalf("describe groups: %v", err)
		}
	}
	return throttled
}
