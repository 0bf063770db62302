package clusterview_test

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kelp-dev/kelp/internal/clusterview"
)

// The caller's loop (internal/webview): list what the watches hold, set
// Now, Build, and keep a sample for the plots every interval.
func Example() {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	ring := clusterview.NewRing(time.Hour)
	in := clusterview.Input{
		Now:    now,
		Status: "pools:\n- {group: kelp-dev-general, pool: general, minSize: 1, maxSize: 5, targetSize: 2, ready: 1, upcoming: 1}\n",
		Nodes: []*corev1.Node{{ObjectMeta: metav1.ObjectMeta{Name: "ip-10-0-0-1", Labels: map[string]string{clusterview.PoolLabel: "general"}},
			Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}}}},
		Events: []*corev1.Event{{InvolvedObject: corev1.ObjectReference{Kind: "CertificateSigningRequest", Name: "csr-1"},
			Reason: "CSRDenied", Message: "requestor system:bootstrap:abc123 is not a kelp token", LastTimestamp: metav1.NewTime(now)}},
	}
	v := clusterview.Build(in)
	ring.Add(clusterview.SampleOf(v))
	for _, p := range v.Pools {
		fmt.Printf("%s: min %d desired %d max %d, ready %d, launching %d\n", p.Name, p.Min, p.Desired, p.Max,
			p.Phases[clusterview.PhaseReady], p.Phases[clusterview.PhaseLaunching])
	}
	for _, d := range v.Timeline {
		fmt.Printf("%s %s: %s\n", d.Kind, d.Reason, d.Message)
	}
	fmt.Println(len(ring.Samples()), "sample")
	// Output:
	// general: min 1 desired 2 max 5, ready 1, launching 1
	// csr CSRDenied: requestor system:bootstrap:****** is not a kelp token
	// 1 sample
}
