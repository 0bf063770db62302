package approver

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"
)

// newTestController wires a controller to a fake clientset holding csrs.
func newTestController(t *testing.T, csrs ...*certificatesv1.CertificateSigningRequest) (*Controller, *fake.Clientset, *record.FakeRecorder) {
	t.Helper()
	client := fake.NewClientset()
	for _, c := range csrs {
		if _, err := client.CertificatesV1().CertificateSigningRequests().Create(context.Background(), c, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	recorder := record.NewFakeRecorder(1000)
	c := &Controller{
		Client: client,
		Sources: Sources{
			Node:      func(string) (*corev1.Node, error) { return nil, nil },
			CSRs:      func() ([]*certificatesv1.CertificateSigningRequest, error) { return csrs, nil },
			NodeCount: func() (int, error) { return 3, nil },
			Cloud:     testCloud(freshInstance()),
			Record:    &ApprovalRecord{Client: client},
		},
		Recorder: recorder, Metrics: NewMetrics(prometheus.NewRegistry()), Clock: clocktesting.NewFakeClock(t0),
		Config: Config{ClusterName: "dev"}.WithDefaults(), Mode: ModeAuto,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	c.getCSR = func(name string) (*certificatesv1.CertificateSigningRequest, error) {
		return client.CertificatesV1().CertificateSigningRequests().Get(context.Background(), name, metav1.GetOptions{})
	}
	return c, client, recorder
}

func TestControllerApprovesRecordsAndRefusesReplay(t *testing.T) {
	first := newNodeFacts(t, reqSpec{}).CSR
	c, client, recorder := newTestController(t, first)
	ctx := context.Background()
	if _, err := c.sync(ctx, first.Name); err != nil {
		t.Fatal(err)
	}
	got, _ := client.CertificatesV1().CertificateSigningRequests().Get(ctx, first.Name, metav1.GetOptions{})
	if ConditionOf(got) != Approved || got.Status.Conditions[0].Reason != ReasonApproved {
		t.Fatalf("first join: %+v", got.Status.Conditions)
	}
	approvals, err := (&ApprovalRecord{Client: client}).Approvals(ctx)
	if err != nil || approvals[testInstance].CSRName != first.Name {
		t.Fatalf("approval not recorded durably: %+v %v", approvals, err)
	}
	if e := <-recorder.Events; !strings.Contains(e, "CSRApproved") {
		t.Errorf("event %q, want CSRApproved", e)
	}
	// Deciding it again writes nothing: it is decided.
	if _, err := c.sync(ctx, first.Name); err != nil {
		t.Fatal(err)
	}
	again, _ := client.CertificatesV1().CertificateSigningRequests().Get(ctx, first.Name, metav1.GetOptions{})
	if len(again.Status.Conditions) != 1 {
		t.Errorf("a decided CSR was written again: %+v", again.Status.Conditions)
	}

	// A second CSR for the same instance, with a valid token, is a replay.
	replay := newNodeFacts(t, reqSpec{}).CSR
	replay.Name, replay.UID = "csr-replay", "uid-replay"
	if _, err := client.CertificatesV1().CertificateSigningRequests().Create(ctx, replay, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.sync(ctx, replay.Name); err != nil {
		t.Fatal(err)
	}
	denied, _ := client.CertificatesV1().CertificateSigningRequests().Get(ctx, replay.Name, metav1.GetOptions{})
	if ConditionOf(denied) != Denied || denied.Status.Conditions[0].Reason != ReasonAlreadyJoined {
		t.Errorf("replay: %+v, want Denied AlreadyJoined", denied.Status.Conditions)
	}
}

func TestControllerManualModeWritesNothing(t *testing.T) {
	csr := newNodeFacts(t, reqSpec{}).CSR
	c, client, _ := newTestController(t, csr)
	c.Mode = ModeManual
	if _, err := c.sync(context.Background(), csr.Name); err != nil {
		t.Fatal(err)
	}
	got, _ := client.CertificatesV1().CertificateSigningRequests().Get(context.Background(), csr.Name, metav1.GetOptions{})
	if len(got.Status.Conditions) != 0 {
		t.Errorf("manual mode decided a CSR: %+v", got.Status.Conditions)
	}
}

func TestControllerPendingRetriesAndReportsOnce(t *testing.T) {
	csr := newNodeFacts(t, reqSpec{}).CSR
	c, client, recorder := newTestController(t, csr)
	c.Sources.Cloud = testCloud() // the instance is not visible yet
	for range 2 {
		retry, err := c.sync(context.Background(), csr.Name)
		if err != nil || retry <= 0 {
			t.Fatalf("pending CSR: retry %v err %v, want a positive retry", retry, err)
		}
	}
	got, _ := client.CertificatesV1().CertificateSigningRequests().Get(context.Background(), csr.Name, metav1.GetOptions{})
	if len(got.Status.Conditions) != 0 {
		t.Errorf("a CSR waiting for facts was decided: %+v", got.Status.Conditions)
	}
	if n := len(recorder.Events); n != 1 {
		t.Errorf("%d events for one pending state, want 1", n)
	}
}

// TestControllerRecordIsCompareAndSet plays the race of two CSRs for one
// instance decided at once: the one whose record write loses is not
// approved, and deciding it again denies it as a replay.
func TestControllerRecordIsCompareAndSet(t *testing.T) {
	csr := newNodeFacts(t, reqSpec{}).CSR
	c, client, _ := newTestController(t, csr)
	ctx := context.Background()
	if _, err := c.Sources.Record.Approvals(ctx); err != nil { // cache loaded: empty
		t.Fatal(err)
	}
	// Meanwhile another worker recorded an approval of another CSR.
	other := &ApprovalRecord{Client: client}
	if err := other.Add(ctx, testInstance, Approval{CSRName: "csr-other", CSRUID: "uid-other", At: t0}, t0); err != nil {
		t.Fatal(err)
	}
	retry, err := c.sync(ctx, csr.Name)
	if err != nil || retry <= 0 {
		t.Fatalf("losing the record race: retry %v err %v, want a quick retry", retry, err)
	}
	got, _ := client.CertificatesV1().CertificateSigningRequests().Get(ctx, csr.Name, metav1.GetOptions{})
	if len(got.Status.Conditions) != 0 {
		t.Fatalf("approved although another CSR holds the instance: %+v", got.Status.Conditions)
	}
	if _, err := c.sync(ctx, csr.Name); err != nil {
		t.Fatal(err)
	}
	got, _ = client.CertificatesV1().CertificateSigningRequests().Get(ctx, csr.Name, metav1.GetOptions{})
	if ConditionOf(got) != Denied || got.Status.Conditions[0].Reason != ReasonAlreadyJoined {
		t.Errorf("second decision: %+v, want Denied AlreadyJoined", got.Status.Conditions)
	}
}
