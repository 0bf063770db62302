package aws

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"

	"github.com/kelp-dev/kelp/internal/catalog"
	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/localcloud"
	"github.com/kelp-dev/kelp/internal/pool"
	"github.com/kelp-dev/kelp/internal/testenv"
)

// failedActivities counts the group's Failed activities.
func (e *env) failedActivities(group string) int {
	e.t.Helper()
	out, err := e.as.DescribeScalingActivities(bg, &autoscaling.DescribeScalingActivitiesInput{AutoScalingGroupName: sdkaws.String(group)})
	if err != nil {
		e.t.Fatalf("describe activities: %v", err)
	}
	n := 0
	for _, a := range out.Activities {
		if a.StatusCode == astypes.ScalingActivityStatusCodeFailed {
			n++
		}
	}
	return n
}

func TestCapacityFailuresSurfaceWithinOneRefresh(t *testing.T) {
	tests := []struct {
		name   string
		spec   pool.Spec
		faults localcloud.Faults
	}{
		{"on-demand InsufficientInstanceCapacity",
			pool.Spec{Name: "general", InstanceTypes: []string{"m5.large"}, MaxSize: 3},
			localcloud.Faults{LaunchFailures: []localcloud.LaunchFailure{{InstanceType: "m5.large", Rate: 1}}}},
		{"no spot capacity",
			pool.Spec{Name: "spot", InstanceTypes: []string{"m5.large"}, CapacityType: catalog.CapacityTypeSpot, MaxSize: 3},
			localcloud.Faults{SpotCapacity: []localcloud.SpotCapacity{{InstanceType: "*", Capacity: 0}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, envOptions{faults: tt.faults})
			name := e.createPool(testCluster, tt.spec)
			p := e.provider(Config{})
			if g := nodeGroup(t, p, name); len(g.Errors) != 0 {
				t.Fatalf("errors before scaling: %v", g.Errors)
			}
			if err := p.SetTargetSize(bg, name, 1); err != nil {
				t.Fatal(err)
			}
			testenv.EventuallyTrue(t, waitTimeout, "failed launches", func() bool { return e.failedActivities(name) == 3 }) // one per zone
			var cursor cloud.LaunchCursor
			g := nodeGroup(t, p, name)
			wantCapacityErrors(t, g, 3)
			if n := len(cursor.Next([]cloud.NodeGroup{g})); n != 3 {
				t.Errorf("cursor returned %d failures, want 3", n)
			}
			zones := map[string]bool{}
			for _, ge := range g.Errors {
				zones[ge.AvailabilityZone] = true
			}
			if len(zones) != 3 {
				t.Errorf("zones of the failures = %v, want the group's three", zones)
			}

			// Level-triggered: the next Refresh (whoever calls it) reports
			// the same failures again, and a cursor does not repeat them.
			g = nodeGroup(t, p, name)
			wantCapacityErrors(t, g, 3)
			if again := cursor.Next([]cloud.NodeGroup{g}); len(again) != 0 {
				t.Errorf("failures returned twice: %v", again)
			}
			e.clock.Step(10 * time.Second) // the cloud tries again
			testenv.EventuallyTrue(t, waitTimeout, "failed launches again", func() bool { return e.failedActivities(name) == 6 })
			g = nodeGroup(t, p, name)
			wantCapacityErrors(t, g, 6)
			if n := len(cursor.Next([]cloud.NodeGroup{g})); n != 3 {
				t.Errorf("cursor returned %d new failures, want 3", n)
			}

			// Once ActivityLookback has passed since they were first seen,
			// the failures are no longer reported.
			if err := p.SetTargetSize(bg, name, 0); err != nil { // no more launches
				t.Fatal(err)
			}
			e.clock.Step(DefaultActivityLookback)
			if g := nodeGroup(t, p, name); len(g.Errors) != 0 {
				t.Errorf("aged-out failures still reported: %v", g.Errors)
			}
		})
	}
}

func wantCapacityErrors(t *testing.T, g cloud.NodeGroup, n int) {
	t.Helper()
	if len(g.Errors) != n {
		t.Fatalf("errors = %v, want %d", g.Errors, n)
	}
	for _, ge := range g.Errors {
		if !errors.Is(ge, cloud.ErrInsufficientCapacity) || ge.Code != "InsufficientInstanceCapacity" ||
			ge.InstanceType != "m5.large" || ge.AvailabilityZone == "" || ge.ActivityID == "" || ge.Group != g.ID ||
			ge.Time.IsZero() {
			t.Errorf("error = %+v", ge)
		}
	}
}

// gatedRuntime holds the first boot until gate closes, then fails it;
// later boots succeed at once.
type gatedRuntime struct {
	mu      sync.Mutex
	waiting int
	gate    chan struct{}
}

func (r *gatedRuntime) Boot(ctx context.Context, _ localcloud.InstanceInfo, _ []byte) error {
	r.mu.Lock()
	r.waiting++
	first := r.waiting == 1
	r.mu.Unlock()
	if !first {
		return nil
	}
	select {
	case <-r.gate:
	case <-ctx.Done():
	}
	return errors.New("kernel panic")
}

func (r *gatedRuntime) Stop(string) {}

func (r *gatedRuntime) booting() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.waiting
}

// A launch seen in progress by one refresh and failed before the next is
// reported by the next, even though a newer launch succeeded in between:
// the watermark does not pass activities in progress.
func TestLaunchFailingAfterARefreshIsReported(t *testing.T) {
	rt := &gatedRuntime{gate: make(chan struct{})}
	e := newEnv(t, envOptions{runtime: rt})
	name := e.createPool(testCluster, pool.Spec{Name: "general", InstanceTypes: []string{"m5.large"}, MaxSize: 3})
	p := e.provider(Config{})
	nodeGroup(t, p, name)
	if err := p.SetTargetSize(bg, name, 1); err != nil {
		t.Fatal(err)
	}
	testenv.EventuallyTrue(t, waitTimeout, "boot in progress", func() bool { return rt.booting() == 1 })
	e.clock.Step(time.Minute) // the next launch starts later
	if err := p.SetTargetSize(bg, name, 2); err != nil {
		t.Fatal(err)
	}
	testenv.EventuallyTrue(t, waitTimeout, "second instance in service", func() bool {
		return slices.ContainsFunc(e.group(name).Instances, func(i astypes.Instance) bool {
			return i.LifecycleState == astypes.LifecycleStateInService
		})
	})
	if g := nodeGroup(t, p, name); len(g.Errors) != 0 || g.ActiveInstances() != 2 {
		t.Fatalf("while booting: errors %v, instances %+v", g.Errors, g.Instances)
	}
	close(rt.gate)
	testenv.EventuallyTrue(t, waitTimeout, "failed boot", func() bool { return e.failedActivities(name) >= 1 })
	g := nodeGroup(t, p, name)
	i := slices.IndexFunc(g.Errors, func(ge cloud.GroupError) bool { return errors.Is(ge, cloud.ErrLaunchFailed) })
	if i < 0 {
		t.Fatalf("errors = %v, want the failed boot", g.Errors)
	}
	if ge := g.Errors[i]; ge.AvailabilityZone == "" || ge.Code != "" {
		t.Errorf("boot failure = %+v", ge)
	}
}
