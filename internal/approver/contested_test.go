package approver

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	certificatesv1 "k8s.io/api/certificates/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"
)

// listCSRs makes c's Sources list the fake clientset's CSRs as they are
// now, not as they were created.
func listCSRs(c *Controller, client *fake.Clientset) {
	c.Sources.CSRs = func() ([]*certificatesv1.CertificateSigningRequest, error) {
		list, err := client.CertificatesV1().CertificateSigningRequests().List(context.Background(), metav1.ListOptions{})
		if err != nil {
			return nil, err
		}
		out := make([]*certificatesv1.CertificateSigningRequest, len(list.Items))
		for i := range list.Items {
			out[i] = &list.Items[i]
		}
		return out, nil
	}
}

func csrExists(t *testing.T, client *fake.Clientset, name string) bool {
	t.Helper()
	_, err := client.CertificatesV1().CertificateSigningRequests().Get(context.Background(), name, metav1.GetOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	return err == nil
}

// TestControllerDeletesContestedCSRsAfterGrace: both sides of a contested
// join are deleted once ContestedDeleteGrace has passed since their
// denial, not before, with an Event and the metric; a CSR denied for
// another reason stays; the kubelet's next CSR of the same name, with
// nothing contesting it, is approved.
func TestControllerDeletesContestedCSRsAfterGrace(t *testing.T) {
	first := newNodeFacts(t, reqSpec{}).CSR
	second := newNodeFacts(t, reqSpec{}).CSR
	second.Name, second.UID = "csr-second", "uid-second"
	junk := newNodeFacts(t, reqSpec{}).CSR
	junk.Name, junk.UID = "csr-junk", "uid-junk"
	c, client, recorder := newTestController(t, first, second, junk)
	listCSRs(c, client)
	clk := c.Clock.(*clocktesting.FakeClock)
	ctx := context.Background()

	// The contest is decided: both sides denied, then looked at again
	// after the grace.
	junk = getCSR(t, client, junk.Name)
	if _, err := c.act(ctx, junk, Verdict{Action: ActionDeny, Reason: ReasonBadCommonName, Kind: KindNewNode, Message: "bad"}); err != nil {
		t.Fatal(err)
	}
	retry, err := c.sync(ctx, first.Name)
	if err != nil || retry != ContestedDeleteGrace {
		t.Fatalf("deciding a contested join: retry %v err %v, want the grace %v", retry, err, ContestedDeleteGrace)
	}
	if _, err := c.sync(ctx, second.Name); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{first.Name, second.Name} {
		if got := getCSR(t, client, name); ConditionOf(got) != Denied || got.Status.Conditions[0].Reason != ReasonContestedJoin {
			t.Fatalf("%s: %+v, want Denied ContestedJoin", name, got.Status.Conditions)
		}
	}

	clk.Step(ContestedDeleteGrace - time.Second)
	for _, name := range []string{first.Name, second.Name, junk.Name} {
		retry, err := c.sync(ctx, name)
		if err != nil || !csrExists(t, client, name) {
			t.Fatalf("%s before the grace ended: err %v, exists %v; want it kept", name, err, csrExists(t, client, name))
		}
		if want := time.Duration(0); name != junk.Name {
			want = time.Second
			if retry != want {
				t.Errorf("%s before the grace ended: retry %v, want %v", name, retry, want)
			}
		}
	}

	clk.Step(time.Second)
	for _, name := range []string{first.Name, second.Name, junk.Name} {
		if retry, err := c.sync(ctx, name); err != nil || retry != 0 {
			t.Fatalf("%s after the grace: retry %v err %v", name, retry, err)
		}
	}
	if csrExists(t, client, first.Name) || csrExists(t, client, second.Name) {
		t.Fatal("a contested CSR survived its grace")
	}
	if !csrExists(t, client, junk.Name) {
		t.Fatalf("%s, denied %s, was deleted", junk.Name, ReasonBadCommonName)
	}
	if n := testutil.ToFloat64(c.Metrics.ContestedDeleted); n != 2 {
		t.Errorf("kelp_csr_contested_deleted_total = %v, want 2", n)
	}
	deleted := 0
	for len(recorder.Events) > 0 {
		if e := <-recorder.Events; strings.Contains(e, "CSRDeleted") {
			deleted++
			if !strings.Contains(e, ReasonContestedJoin) || !strings.Contains(e, "same name") {
				t.Errorf("event %q: want it to name the contest and the retry", e)
			}
		}
	}
	if deleted != 2 {
		t.Errorf("%d CSRDeleted events, want 2", deleted)
	}

	// The restarted kubelet files its CSR again, same name, new UID.
	again := newNodeFacts(t, reqSpec{}).CSR
	again.UID, again.CreationTimestamp = "uid-again", metav1.NewTime(clk.Now())
	if _, err := client.CertificatesV1().CertificateSigningRequests().Create(ctx, again, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.sync(ctx, again.Name); err != nil {
		t.Fatal(err)
	}
	if got := getCSR(t, client, again.Name); ConditionOf(got) != Approved {
		t.Fatalf("the kubelet's new CSR of the same name: %+v, want Approved", got.Status.Conditions)
	}
}

// TestDeleteContestedOnlyThatCSR: the delete names the UID of the denied
// CSR, so a CSR of the same name filed meanwhile is never deleted; manual
// mode deletes nothing.
func TestDeleteContestedOnlyThatCSR(t *testing.T) {
	csr := newNodeFacts(t, reqSpec{}).CSR
	c, client, _ := newTestController(t, csr)
	clk := c.Clock.(*clocktesting.FakeClock)
	ctx := context.Background()
	if _, err := c.act(ctx, csr, Verdict{Action: ActionDeny, Reason: ReasonContestedJoin, Kind: KindNewNode, Message: "contested"}); err != nil {
		t.Fatal(err)
	}
	denied := getCSR(t, client, csr.Name)
	clk.Step(ContestedDeleteGrace)

	c.Mode = ModeManual
	if _, err := c.deleteContested(ctx, denied); err != nil || !csrExists(t, client, csr.Name) {
		t.Fatalf("manual mode: err %v, exists %v; want the CSR kept", err, csrExists(t, client, csr.Name))
	}
	c.Mode = ModeAuto

	// The fake clientset ignores preconditions: check the one kelp sends,
	// as the API server would.
	var sentUID types.UID
	client.PrependReactor("delete", "certificatesigningrequests", func(a clienttesting.Action) (bool, runtime.Object, error) {
		if p := a.(clienttesting.DeleteAction).GetDeleteOptions().Preconditions; p != nil && p.UID != nil {
			sentUID = *p.UID
		}
		stored, err := client.Tracker().Get(certificatesv1.SchemeGroupVersion.WithResource("certificatesigningrequests"), "", csr.Name)
		if err != nil {
			return true, nil, err
		}
		if sentUID != stored.(*certificatesv1.CertificateSigningRequest).UID {
			return true, nil, apierrors.NewConflict(certificatesv1.Resource("certificatesigningrequests"), csr.Name, nil)
		}
		return false, nil, nil
	})
	stale := denied.DeepCopy()
	stale.UID = "uid-of-an-older-csr"
	if _, err := c.deleteContested(ctx, stale); err != nil || !csrExists(t, client, csr.Name) {
		t.Fatalf("a stale view of another UID: err %v, exists %v; want the CSR kept, no error", err, csrExists(t, client, csr.Name))
	}
	if _, err := c.deleteContested(ctx, denied); err != nil || csrExists(t, client, csr.Name) {
		t.Fatalf("the denied CSR itself: err %v, exists %v; want it deleted", err, csrExists(t, client, csr.Name))
	}
	if sentUID != denied.UID {
		t.Errorf("delete precondition UID %q, want %q", sentUID, denied.UID)
	}
}

func TestContestedDenial(t *testing.T) {
	at := metav1.NewTime(t0)
	later := metav1.NewTime(t0.Add(time.Minute))
	cond := func(typ certificatesv1.RequestConditionType, reason string, update, transition metav1.Time) certificatesv1.CertificateSigningRequestCondition {
		return certificatesv1.CertificateSigningRequestCondition{Type: typ, Status: "True", Reason: reason, LastUpdateTime: update, LastTransitionTime: transition}
	}
	tests := []struct {
		name   string
		conds  []certificatesv1.CertificateSigningRequestCondition
		want   time.Time
		wantOK bool
	}{
		{"none", nil, time.Time{}, false},
		{"denied for another reason", []certificatesv1.CertificateSigningRequestCondition{cond(certificatesv1.CertificateDenied, ReasonBadCommonName, at, at)}, time.Time{}, false},
		{"approved", []certificatesv1.CertificateSigningRequestCondition{cond(certificatesv1.CertificateApproved, ReasonContestedJoin, at, at)}, time.Time{}, false},
		{"contested", []certificatesv1.CertificateSigningRequestCondition{cond(certificatesv1.CertificateDenied, ReasonContestedJoin, at, metav1.Time{})}, t0, true},
		{"the later of the two times", []certificatesv1.CertificateSigningRequestCondition{cond(certificatesv1.CertificateDenied, ReasonContestedJoin, at, later)}, later.Time, true},
		{"no time: the creation", []certificatesv1.CertificateSigningRequestCondition{cond(certificatesv1.CertificateDenied, ReasonContestedJoin, metav1.Time{}, metav1.Time{})}, csrCreate, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			csr := &certificatesv1.CertificateSigningRequest{ObjectMeta: metav1.ObjectMeta{CreationTimestamp: metav1.NewTime(csrCreate)}}
			csr.Status.Conditions = tt.conds
			got, ok := contestedDenial(csr)
			if ok != tt.wantOK || !got.Equal(tt.want) {
				t.Errorf("contestedDenial = %v, %v; want %v, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

// TestControllerNeverDecidesAStaleContestedCSRAgain replays the race the
// contest test on the real API server found: the kubelet's CSR is denied
// (its rival's denial marked it), but the cache still shows it pending
// while it already shows the rival denied. Deciding it again would find
// no contest, record the instance as joined through that denied CSR, and
// the kubelet's next CSR would be denied AlreadyJoined.
func TestControllerNeverDecidesAStaleContestedCSRAgain(t *testing.T) {
	kubelet := newNodeFacts(t, reqSpec{}).CSR
	rival := newNodeFacts(t, reqSpec{}).CSR
	rival.Name, rival.UID = "csr-rival", "uid-rival"
	c, client, _ := newTestController(t, kubelet, rival)
	listCSRs(c, client)
	ctx := context.Background()
	v := Verdict{Action: ActionDeny, Reason: ReasonContestedJoin, Kind: KindNewNode, NodeName: testNode,
		Message: "contested join", Contested: []string{kubelet.Name}}
	if _, err := c.act(ctx, getCSR(t, client, rival.Name), v); err != nil {
		t.Fatal(err)
	}
	if _, err := c.sync(ctx, kubelet.Name); err != nil {
		t.Fatal(err)
	}
	// The cache lags: it shows the kubelet's CSR as it was, pending.
	stale := kubelet.DeepCopy()
	c.getCSR = func(string) (*certificatesv1.CertificateSigningRequest, error) { return stale, nil }
	if retry, err := c.sync(ctx, kubelet.Name); err != nil || retry != 0 {
		t.Fatalf("stale view: retry %v err %v", retry, err)
	}
	if got := getCSR(t, client, kubelet.Name); len(got.Status.Conditions) != 1 || got.Status.Conditions[0].Reason != ReasonContestedJoin {
		t.Errorf("kubelet's CSR: %+v, want its one ContestedJoin denial", got.Status.Conditions)
	}
	if approvals, err := c.Sources.Record.Approvals(ctx); err != nil || len(approvals) != 0 {
		t.Errorf("record after the stale view: %v %v, want nothing recorded", approvals, err)
	}
}

// TestControllerContestMarkedDuringGather: the other side is marked while
// a worker gathers a CSR's facts and its cache already hides the contest;
// the worker denies it too.
func TestControllerContestMarkedDuringGather(t *testing.T) {
	csr := newNodeFacts(t, reqSpec{}).CSR
	c, client, _ := newTestController(t, csr)
	listCSRs(c, client) // no other CSR: nothing contests it
	nodes := c.Sources.NodeCount
	c.Sources.NodeCount = func() (int, error) {
		c.contested.Store(csr.Name, csr.UID) // a rival's denial, meanwhile
		return nodes()
	}
	if _, err := c.sync(context.Background(), csr.Name); err != nil {
		t.Fatal(err)
	}
	if got := getCSR(t, client, csr.Name); ConditionOf(got) != Denied || got.Status.Conditions[0].Reason != ReasonContestedJoin {
		t.Errorf("CSR marked during its decision: %+v, want Denied ContestedJoin", got.Status.Conditions)
	}
	if approvals, _ := c.Sources.Record.Approvals(context.Background()); len(approvals) != 0 {
		t.Errorf("recorded %v", approvals)
	}
}
