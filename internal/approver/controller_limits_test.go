package approver

import (
	"context"
	"crypto/x509/pkix"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/util/workqueue"
	clocktesting "k8s.io/utils/clock/testing"
)

func getCSR(t *testing.T, client *fake.Clientset, name string) *certificatesv1.CertificateSigningRequest {
	t.Helper()
	csr, err := client.CertificatesV1().CertificateSigningRequests().Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return csr
}

// TestControllerRateLimitsDenialsOnly: a kelp token's requestor floods
// CSRs that fail their checks; beyond the burst their denials wait their
// turn, while a legitimate join of the same requestor (the pool's token) is
// approved at once.
func TestControllerRateLimitsDenialsOnly(t *testing.T) {
	const junk = DenyBurst + 5
	var csrs []*certificatesv1.CertificateSigningRequest
	for i := range junk {
		csr := newNodeFacts(t, reqSpec{subject: &pkix.Name{CommonName: "evil", Organization: []string{nodesGroup}}}).CSR
		csr.Name, csr.UID = fmt.Sprintf("csr-junk-%02d", i), types.UID(fmt.Sprintf("uid-junk-%02d", i))
		csrs = append(csrs, csr)
	}
	legit := newNodeFacts(t, reqSpec{}).CSR
	c, client, _ := newTestController(t, append(csrs, legit)...)
	clk := c.Clock.(*clocktesting.FakeClock)
	ctx := context.Background()
	var deferred []string
	for _, csr := range csrs {
		retry, err := c.sync(ctx, csr.Name)
		if err != nil {
			t.Fatal(err)
		}
		switch got := getCSR(t, client, csr.Name); {
		case ConditionOf(got) == Denied && retry == 0:
		case ConditionOf(got) == Pending && retry > 0 && retry <= time.Second:
			deferred = append(deferred, csr.Name)
		default:
			t.Fatalf("junk %s: %s, retry %v", csr.Name, ConditionOf(got), retry)
		}
	}
	if len(deferred) != junk-DenyBurst {
		t.Fatalf("%d denials deferred, want %d (burst %d)", len(deferred), junk-DenyBurst, DenyBurst)
	}
	if n := testutil.ToFloat64(c.Metrics.DeniesDeferred); n != float64(len(deferred)) {
		t.Errorf("kelp_csr_denials_deferred_total = %v, want %d", n, len(deferred))
	}
	// Deciding a deferred CSR again before its turn keeps it waiting,
	// without taking another turn.
	if retry, _ := c.sync(ctx, deferred[0]); retry <= 0 || ConditionOf(getCSR(t, client, deferred[0])) != Pending {
		t.Errorf("deferred CSR decided before its turn (retry %v)", retry)
	}
	if _, err := c.sync(ctx, legit.Name); err != nil {
		t.Fatal(err)
	}
	if got := getCSR(t, client, legit.Name); ConditionOf(got) != Approved {
		t.Fatalf("the legitimate join of the same requestor was held back: %s", ConditionOf(got))
	}
	clk.Step(time.Second) // DenyRate more turns
	for _, name := range deferred {
		if retry, err := c.sync(ctx, name); err != nil || retry != 0 {
			t.Fatalf("deferred %s after its turn: retry %v err %v", name, retry, err)
		}
		if got := getCSR(t, client, name); ConditionOf(got) != Denied {
			t.Errorf("deferred %s after its turn: %s, want Denied", name, ConditionOf(got))
		}
	}
}

// TestControllerDeniesBothSidesOfAContest: a denial for a contested join
// denies the other pending CSR too, with the same reason, an Event each
// and the metric; the other side stays denied even though, once the first
// is decided, nothing contests it any more.
func TestControllerDeniesBothSidesOfAContest(t *testing.T) {
	first := newNodeFacts(t, reqSpec{}).CSR
	second := newNodeFacts(t, reqSpec{}).CSR
	second.Name, second.UID = "csr-second", "uid-second"
	c, client, recorder := newTestController(t, first, second)
	ctx := context.Background()
	v := Verdict{Action: ActionDeny, Reason: ReasonContestedJoin, Kind: KindNewNode, NodeName: testNode,
		Message: "contested join", Contested: []string{second.Name, "csr-gone"}}
	if _, err := c.act(ctx, getCSR(t, client, first.Name), v); err != nil {
		t.Fatal(err)
	}
	if _, err := c.sync(ctx, second.Name); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{first.Name, second.Name} {
		got := getCSR(t, client, name)
		if ConditionOf(got) != Denied || got.Status.Conditions[0].Reason != ReasonContestedJoin {
			t.Fatalf("%s: %+v, want Denied ContestedJoin", name, got.Status.Conditions)
		}
	}
	if msg := getCSR(t, client, second.Name).Status.Conditions[0].Message; !strings.Contains(msg, "contested join") || !strings.Contains(msg, testNode) {
		t.Errorf("message of the other side %q: want it to name the contest and the node", msg)
	}
	if n := testutil.ToFloat64(c.Metrics.Contested); n != 2 {
		t.Errorf("kelp_csr_contested_joins_total = %v, want 2", n)
	}
	if n := len(recorder.Events); n != 2 {
		t.Errorf("%d events, want one on each side", n)
	}
}

// TestControllerBoundsWhatItWrites: a message of any length is cut to
// MaxMessageBytes in the condition and the Event.
func TestControllerBoundsWhatItWrites(t *testing.T) {
	csr := newNodeFacts(t, reqSpec{}).CSR
	c, client, recorder := newTestController(t, csr)
	v := Verdict{Action: ActionDeny, Reason: ReasonBadCommonName, Kind: KindNewNode, NodeName: strings.Repeat("n", 5000),
		Message: "common name " + strings.Repeat("\x1b[31m", 5000)}
	if _, err := c.act(context.Background(), csr, v); err != nil {
		t.Fatal(err)
	}
	msg := getCSR(t, client, csr.Name).Status.Conditions[0].Message
	if len(msg) > MaxMessageBytes || strings.ContainsRune(msg, '\x1b') {
		t.Errorf("condition message of %d bytes, escape codes %v: want at most %d, none", len(msg), strings.ContainsRune(msg, '\x1b'), MaxMessageBytes)
	}
	if e := <-recorder.Events; len(e) > MaxMessageBytes+64 {
		t.Errorf("event of %d bytes", len(e))
	}
}

// TestControllerWakesTheNextTurnOnDecision: a join held back by flood
// control is decided again as soon as the join ahead of it is decided, not
// after its retry hint.
func TestControllerWakesTheNextTurnOnDecision(t *testing.T) {
	first := newNodeFacts(t, reqSpec{}).CSR
	s := nodeSubject("ip-10-0-0-9.ec2.internal")
	second := newNodeFacts(t, reqSpec{subject: &s}).CSR
	second.Name, second.UID = "csr-second", "uid-second"
	second.CreationTimestamp = metav1.NewTime(first.CreationTimestamp.Add(time.Second))
	c, client, _ := newTestController(t, first, second)
	c.Sources.NodeCount = func() (int, error) { return 0, nil }
	c.Config.FloodHeadroom = 1
	c.queue = workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]())
	defer c.queue.ShutDown()
	ctx := context.Background()
	retry, err := c.sync(ctx, second.Name)
	if err != nil || retry != retryHints[ReasonFloodControl] {
		t.Fatalf("second join: retry %v, err %v; want it held back by flood control", retry, err)
	}
	if c.queue.Len() != 0 {
		t.Fatalf("queue holds %d before the first join is decided", c.queue.Len())
	}
	if _, err := c.sync(ctx, first.Name); err != nil {
		t.Fatal(err)
	}
	if got := getCSR(t, client, first.Name); ConditionOf(got) != Approved {
		t.Fatalf("first join: %s", ConditionOf(got))
	}
	if c.queue.Len() != 1 {
		t.Fatalf("queue holds %d after the first join was decided, want the second join", c.queue.Len())
	}
	if name, _ := c.queue.Get(); name != second.Name {
		t.Errorf("woken %q, want %q", name, second.Name)
	}
}
