package clusterview

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"maps"
	"strings"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kelp-dev/kelp/internal/cloud"
)

var now = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

func node(name, pool string, ready corev1.ConditionStatus, reason string, mutate ...func(*corev1.Node)) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{PoolLabel: pool},
		CreationTimestamp: metav1.NewTime(now.Add(-time.Minute))}}
	if ready != "" {
		n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: ready, Reason: reason}}
	}
	for _, m := range mutate {
		m(n)
	}
	return n
}

func csr(t *testing.T, name, nodeName, user string, groups []string, conds ...certificatesv1.CertificateSigningRequestCondition) *certificatesv1.CertificateSigningRequest {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "system:node:" + nodeName}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return &certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(now.Add(-10 * time.Second))},
		Spec: certificatesv1.CertificateSigningRequestSpec{Request: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}),
			Username: user, Groups: groups, SignerName: certificatesv1.KubeAPIServerClientKubeletSignerName},
		Status: certificatesv1.CertificateSigningRequestStatus{Conditions: conds},
	}
}

const status = `time: "2026-05-01T11:59:58Z"
autoscaler: {expanders: least-waste, dryRun: false}
pools:
- {group: kelp-local-general, pool: general, minSize: 0, maxSize: 10, targetSize: 5, ready: 1, upcoming: 3}
- {group: kelp-local-gpu, pool: gpu, minSize: 0, maxSize: 2, targetSize: 0, ready: 0, upcoming: 0,
   backoff: {until: "2026-05-01T12:05:00Z", reason: "insufficient capacity", failures: 2}}
unschedulablePods: 2
lastDecision: {time: "2026-05-01T11:59:58Z", fitExistingOrUpcoming: 0, scaleUp: 2, noScaleUp: 0, unsupported: 0}
lastScaleUp: {time: "2026-05-01T11:59:50Z", increases: [{group: kelp-local-general, instanceType: m5.large, delta: 3, pods: 2, reason: least waste}]}
scaleDown: {enabled: true}
`

func TestBuildPoolsAndPhases(t *testing.T) {
	tests := []struct {
		name       string
		in         Input
		wantPhases map[string]map[Phase]int
		wantInst   map[string]map[string]int
		wantBounds map[string][3]int // min, desired, max
	}{{
		name: "status only: launching is desired beyond nodes (draining too) and CSRs",
		in: Input{Now: now, Status: status, Nodes: []*corev1.Node{
			node("ip-10-0-0-1", "general", corev1.ConditionTrue, ""),
			node("ip-10-0-0-2", "general", corev1.ConditionFalse, "KubeletNotReady"),
			node("ip-10-0-0-3", "general", corev1.ConditionTrue, "", func(n *corev1.Node) { n.Spec.Unschedulable = true }),
		}, CSRs: []*certificatesv1.CertificateSigningRequest{
			csr(t, "csr-a", "ip-10-0-0-4", "system:bootstrap:abcdef", []string{"system:bootstrappers:kelp:general"}),
			csr(t, "csr-b", "ip-10-0-0-1", "system:bootstrap:abcdef", []string{"system:bootstrappers:kelp:general"}),
			csr(t, "csr-c", "ip-10-0-0-5", "system:bootstrap:abcdef", []string{"system:bootstrappers:kelp:general"},
				certificatesv1.CertificateSigningRequestCondition{Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue}),
		}},
		wantPhases: map[string]map[Phase]int{
			"general": {PhaseReady: 1, PhaseJoining: 1, PhaseDraining: 1, PhaseCSRPending: 1, PhaseLaunching: 1},
			"gpu":     {},
		},
		wantInst:   map[string]map[string]int{"general": {"Running": 1, "Pending": 3}, "gpu": {"Running": 0, "Pending": 0}},
		wantBounds: map[string][3]int{"general": {0, 5, 10}, "gpu": {0, 0, 2}},
	}, {
		name: "cloud groups give instances by state; not-ready and taints",
		in: Input{Now: now, Groups: []cloud.NodeGroup{{ID: "g-spot", Pool: "spot", MinSize: 1, MaxSize: 3, TargetSize: 2,
			Instances: []cloud.Instance{{ID: "i-1", State: cloud.InstanceStateRunning}, {ID: "i-2", State: cloud.InstanceStateTerminating}}}},
			Nodes: []*corev1.Node{
				node("a", "spot", corev1.ConditionUnknown, "NodeStatusUnknown"),
				node("b", "spot", corev1.ConditionTrue, "", func(n *corev1.Node) {
					n.Spec.Taints = []corev1.Taint{{Key: "ToBeDeletedByClusterAutoscaler", Effect: corev1.TaintEffectNoSchedule}}
				}),
				node("c", "", "", ""),
			}},
		wantPhases: map[string]map[Phase]int{"spot": {PhaseNotReady: 1, PhaseDraining: 1}},
		wantInst:   map[string]map[string]int{"spot": {"Running": 1, "Terminating": 1}},
		wantBounds: map[string][3]int{"spot": {1, 2, 3}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := Build(tt.in)
			if len(v.Pools) != len(tt.wantPhases) {
				t.Fatalf("pools %+v, want %d", v.Pools, len(tt.wantPhases))
			}
			for _, p := range v.Pools {
				if !maps.Equal(p.Phases, tt.wantPhases[p.Name]) {
					t.Errorf("pool %s phases %v, want %v", p.Name, p.Phases, tt.wantPhases[p.Name])
				}
				if !maps.Equal(p.Instances, tt.wantInst[p.Name]) {
					t.Errorf("pool %s instances %v, want %v", p.Name, p.Instances, tt.wantInst[p.Name])
				}
				if b := [3]int{p.Min, p.Desired, p.Max}; b != tt.wantBounds[p.Name] {
					t.Errorf("pool %s bounds %v, want %v", p.Name, b, tt.wantBounds[p.Name])
				}
			}
		})
	}
}

func podEvent(pod, reason, msg string, at time.Time) *corev1.Event {
	return &corev1.Event{InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: pod},
		Reason: reason, Message: msg, Type: corev1.EventTypeNormal,
		FirstTimestamp: metav1.NewTime(at), LastTimestamp: metav1.NewTime(at)}
}

func pendingPod(name string, unschedulableAt time.Time) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, CreationTimestamp: metav1.NewTime(unschedulableAt)},
		Status: corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{{Type: corev1.PodScheduled,
			Status: corev1.ConditionFalse, Reason: "Unschedulable", Message: "0/1 nodes are available", LastTransitionTime: metav1.NewTime(unschedulableAt)}}}}
}

func TestBuildPendingAndTimeline(t *testing.T) {
	t0 := now.Add(-30 * time.Second)
	bound := pendingPod("bound", t0)
	bound.Spec.NodeName = "n"
	in := Input{Now: now, Status: status,
		Pods: []*corev1.Pod{pendingPod("web-2", t0.Add(time.Second)), pendingPod("web-1", t0), bound, pendingPod("huge", t0)},
		Events: []*corev1.Event{
			podEvent("web-1", "TriggeredScaleUp", "pod triggered scale-up: general 1->4", t0.Add(2*time.Second)),
			podEvent("web-2", "TriggeredScaleUp", "pod triggered scale-up: general 1->4", t0.Add(2*time.Second)),
			podEvent("huge", "NotTriggerScaleUp", "pod didn't trigger scale-up: general: Insufficient cpu", t0.Add(3*time.Second)),
			{InvolvedObject: corev1.ObjectReference{Kind: "CertificateSigningRequest", Name: "csr-a"}, Reason: "AutoApproved",
				Message: "approved: requested by system:bootstrap:abc123", LastTimestamp: metav1.NewTime(now)},
		}}
	v := Build(in)
	var names []string
	for _, p := range v.Pending {
		names = append(names, p.Name)
	}
	if got := strings.Join(names, ","); got != "default/huge,default/web-1,default/web-2" {
		t.Fatalf("pending %s", got)
	}
	if d := v.Pending[0].Decision; !strings.HasPrefix(d, "NotTriggerScaleUp: ") || !strings.Contains(v.Pending[0].Waiting, "0/1 nodes") {
		t.Fatalf("huge: %+v", v.Pending[0])
	}
	if v.LatencySeconds != 2 {
		t.Fatalf("latency %vs, want 2s", v.LatencySeconds)
	}
	wantKinds := []string{KindCSR, KindScaleUp, KindNoScaleUp, KindScaleUp, KindCloud}
	var kinds []string
	for _, d := range v.Timeline {
		kinds = append(kinds, d.Kind)
	}
	// Newest first: the CSR (now), the backoff is until 12:05 (first of all).
	if len(v.Timeline) != 5 || v.Timeline[0].Kind != KindCloud || v.Timeline[1].Kind != KindCSR {
		t.Fatalf("timeline kinds %v, want (in some order) %v", kinds, wantKinds)
	}
	for _, d := range v.Timeline {
		if d.Reason == "TriggeredScaleUp" && d.Count != 2 {
			t.Fatalf("the two pods' scale-up counted %d, want one entry of 2", d.Count)
		}
		if d.Reason == "LastScaleUp" && !strings.Contains(d.Message, "least-waste chose kelp-local-general +3 m5.large") {
			t.Fatalf("last scale-up %q does not say the expander's choice", d.Message)
		}
	}
	if v.Autoscaler == nil || v.Autoscaler.Unschedulable != 2 {
		t.Fatalf("autoscaler %+v", v.Autoscaler)
	}
}

func TestBuildBadStatus(t *testing.T) {
	v := Build(Input{Now: now, Status: "pools: [unclosed"})
	if len(v.Problems) != 1 || !strings.Contains(v.Problems[0], "status configmap") || v.Autoscaler != nil {
		t.Fatalf("problems %v, autoscaler %+v", v.Problems, v.Autoscaler)
	}
}

// TestNoTokenIDInView: a token id in a CSR's user, an event's message or
// object, a Secret name or the status never reaches the view.
func TestNoTokenIDInView(t *testing.T) {
	const id, secret = "k3lp9z", "0123456789abcdef"
	in := Input{Now: now,
		Status: strings.Replace(status, "insufficient capacity", "token bootstrap-token-"+id+" expired", 1),
		CSRs:   []*certificatesv1.CertificateSigningRequest{csr(t, "csr-x", "ip-1", "system:bootstrap:"+id, []string{"system:bootstrappers:kelp:general"})},
		Events: []*corev1.Event{
			{InvolvedObject: corev1.ObjectReference{Kind: "Secret", Namespace: "kube-system", Name: "bootstrap-token-" + id},
				Reason: "TokenRotated", Message: "replaced " + id + "." + secret, LastTimestamp: metav1.NewTime(now)},
			{InvolvedObject: corev1.ObjectReference{Kind: "CertificateSigningRequest", Name: "csr-x"}, Reason: "AutoDenied",
				Message: "requestor system:bootstrap:" + id + " is not", LastTimestamp: metav1.NewTime(now)},
		}}
	data, err := json.Marshal(Build(in))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), id) || strings.Contains(string(data), secret) {
		t.Fatalf("view shows the token id:\n%s", data)
	}
	if !strings.Contains(string(data), "system:bootstrap:"+Redacted) || !strings.Contains(string(data), "bootstrap-token-"+Redacted) {
		t.Fatalf("view lost the redacted names:\n%s", data)
	}
}

func TestRedact(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"system:bootstrap:abc123", "system:bootstrap:******"},
		{"secret kube-system/bootstrap-token-abc123 gone", "secret kube-system/bootstrap-token-****** gone"},
		{"token abc123.0123456789abcdef used", "token ******.****** used"},
		{"system:bootstrappers:kelp:general", "system:bootstrappers:kelp:general"},
		{"ip-10-0-0-1.ec2.internal", "ip-10-0-0-1.ec2.internal"},
	} {
		if got := Redact(tt.in); got != tt.want {
			t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestRing(t *testing.T) {
	r := NewRing(time.Minute)
	for i := range 10 {
		r.Add(Sample{Time: now.Add(time.Duration(i) * 10 * time.Second), Pending: i})
	}
	r.Add(Sample{Time: now, Pending: 99}) // out of order: dropped
	got := r.Samples()
	if len(got) != 7 || got[0].Pending != 3 || got[6].Pending != 9 {
		t.Fatalf("samples %+v, want pending 3..9", got)
	}
	s := SampleOf(Build(Input{Now: now, Status: status, Nodes: []*corev1.Node{node("a", "general", corev1.ConditionTrue, "")}}))
	if s.Nodes["general"] != 1 || s.Nodes["gpu"] != 0 || !s.Time.Equal(now) {
		t.Fatalf("sample %+v", s)
	}
}

func TestDefaultExpanders(t *testing.T) {
	v := Build(Input{Now: now, Status: strings.Replace(status, "expanders: least-waste, ", "", 1)})
	if v.Autoscaler == nil || v.Autoscaler.Expanders != "least-waste" {
		t.Fatalf("autoscaler %+v, want expanders least-waste (the default)", v.Autoscaler)
	}
}

// TestLeadingOmitted: a view no replica built does not claim to lead.
func TestLeadingOmitted(t *testing.T) {
	leading := false
	for _, tt := range []struct {
		leading *bool
		want    string
	}{{nil, ""}, {&leading, `"leading":false`}} {
		data := mustJSON(t, Build(Input{Now: now, Leading: tt.leading}))
		if got := strings.Contains(data, `"leading"`); got != (tt.want != "") || !strings.Contains(data, tt.want) {
			t.Errorf("leading %v: view %s, want %q", tt.leading, data, tt.want)
		}
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
