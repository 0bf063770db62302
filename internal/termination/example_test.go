package termination_test

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/kelp-dev/kelp/internal/termination"
)

// A caller's round for one departing instance: resolve the facts, decide,
// apply the plan (here printed).
func Example() {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	activity := "At 2026-12-06T12:00:00Z an instance was taken out of service in response to an EC2 Spot Instance interruption notice."
	f := termination.Facts{
		Departure: termination.Departure{InstanceID: "i-0abc", Group: "kelp-dev-spot", Hook: "kelp-drain",
			Cause: termination.CauseOf(activity), NoticedAt: now, Deadline: now.Add(time.Minute)},
		Node:     &corev1.Node{},
		PodsLeft: 2,
		Now:      now,
	}
	p := termination.Decide(f)
	fmt.Println(p.Reason, "cordon:", p.Cordon, "evict:", p.Evict, "grace:", p.EvictGrace)
	fmt.Println(p.Message)
	// Output:
	// Draining cordon: true evict: true grace: 45s
	// instance i-0abc gets a spot interruption at 2026-12-06T12:01:00Z: draining, 2 pods to evict by 2026-12-06T12:00:45Z
}
