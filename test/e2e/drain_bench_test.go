package e2e

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"

	"github.com/kelp-dev/kelp/internal/testenv"
)

// BenchmarkScaleInDrain lowers a group's desired capacity so that 1 or 10
// nodes leave at once, each with one pod of a Deployment spread one per
// node (the pods fit on the node that stays), kelp's drain controller at
// its default period. It reports, from the SetDesiredCapacity call: the
// first and the last eviction (a pod's DisruptionTarget condition seen by
// a watch), the last replacement pod ready on the node that stays, and the
// last instance seen leaving (a 100 ms poll). The PDB allows all the
// evictions at once (maxUnavailable = the nodes leaving) or one at a time.
// Each sub-benchmark runs once whatever b.N: run with -benchtime 1x.
func BenchmarkScaleInDrain(b *testing.B) {
	for _, c := range []struct {
		name           string
		leaving        int
		maxUnavailable int32
	}{
		{"leaving=1", 1, 1},
		{"leaving=10/maxUnavailable=10", 10, 10},
		{"leaving=10/maxUnavailable=1", 10, 1},
	} {
		b.Run(c.name, func(b *testing.B) { benchmarkScaleInDrain(b, c.leaving, c.maxUnavailable) })
	}
}

func benchmarkScaleInDrain(b *testing.B, leaving int, maxUnavailable int32) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	nodes := leaving + 1
	s := startDrainCluster(b, ctx, "bench", nodes, nil)
	s.spreadDeployment(b, ctx, "spread", int32(nodes), maxUnavailable)
	awsCfg, err := s.cluster.AWSConfig(ctx)
	if err != nil {
		b.Fatal(err)
	}
	as := autoscaling.NewFromConfig(awsCfg)
	w := watchDrain(b, ctx, s.client, s.ec2c, "app=spread", nodeInstances(b, ctx, s.client))

	b.ResetTimer()
	start := time.Now()
	if _, err := as.SetDesiredCapacity(ctx, &autoscaling.SetDesiredCapacityInput{AutoScalingGroupName: aws.String(s.group),
		DesiredCapacity: aws.Int32(1), HonorCooldown: aws.Bool(false)}); err != nil {
		b.Fatal(err)
	}
	testenv.EventuallyTrue(b, 8*time.Minute, "the nodes gone and every pod ready on the node that stays", func() bool {
		ready, on := readyPods(ctx, s.client, "app=spread")
		return len(terminated(ctx, s.ec2c)) == leaving && ready == nodes && len(on) == 1
	})
	b.StopTimer()
	r := w.stop()
	for _, v := range r.violations {
		b.Error(v)
	}
	if want := nodes - int(maxUnavailable); r.minReady < want {
		b.Errorf("%d pods ready at one point, want at least %d (PDB maxUnavailable %d)", r.minReady, want, maxUnavailable)
	}
	if len(r.evicted) < leaving || len(r.gone) != leaving {
		b.Fatalf("%d evictions and %d instances seen leaving, want %d each", len(r.evicted), len(r.gone), leaving)
	}
	since := func(ts map[string]time.Time) []time.Duration {
		var out []time.Duration
		for _, at := range ts {
			out = append(out, at.Sub(start))
		}
		slices.Sort(out)
		return out
	}
	evictions, gone := since(r.evicted), since(r.gone)
	b.Logf("evictions at %v; instances seen leaving at %v", evictions, gone)
	b.ReportMetric(evictions[0].Seconds(), "first-eviction-s")
	b.ReportMetric(evictions[len(evictions)-1].Seconds(), "last-eviction-s")
	b.ReportMetric(r.lastReady.Sub(start).Seconds(), "last-pod-ready-s")
	b.ReportMetric(gone[len(gone)-1].Seconds(), "last-instance-gone-s")
}
