package approver

import (
	"context"
	"errors"
	"testing"

	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// manualFor returns a ManualApproval over the fixtures of
// newTestController (a fresh managed instance, a fake clientset).
func manualFor(t *testing.T, csrs ...*certificatesv1.CertificateSigningRequest) ManualApproval {
	t.Helper()
	c, _, _ := newTestController(t, csrs...)
	return ManualApproval{Client: c.Client, Sources: c.Sources, Config: c.Config}
}

func (m ManualApproval) condition(t *testing.T, name string) (Condition, string) {
	t.Helper()
	got, err := m.Client.CertificatesV1().CertificateSigningRequests().Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Status.Conditions) == 0 {
		return ConditionOf(got), ""
	}
	return ConditionOf(got), got.Status.Conditions[0].Reason
}

func (m ManualApproval) recorded(t *testing.T) map[string]Approval {
	t.Helper()
	approvals, err := (&ApprovalRecord{Client: m.Client}).Approvals(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return approvals
}

func TestManualApproveRecordsLikeTheController(t *testing.T) {
	csr := newNodeFacts(t, reqSpec{}).CSR
	m := manualFor(t, csr)
	res, err := m.Approve(context.Background(), csr.Name, t0)
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict.Action != ActionApprove || res.Forced || res.RecordedInstance != testInstance {
		t.Errorf("result %+v: want the policy's approval, not forced, recording %s", res, testInstance)
	}
	if c, reason := m.condition(t, csr.Name); c != Approved || reason != ReasonManual {
		t.Errorf("CSR is %s (%s), want Approved (%s)", c, reason, ReasonManual)
	}
	if a := m.recorded(t)[testInstance]; a.CSRName != csr.Name || a.CSRUID != csr.UID {
		t.Errorf("record of %s = %+v, want CSR %s", testInstance, a, csr.Name)
	}
	_, err = m.Approve(context.Background(), csr.Name, t0)
	if !errors.Is(err, ErrAlreadyDecided) {
		t.Errorf("approving twice: %v, want ErrAlreadyDecided", err)
	}
}

func TestManualApproveNeedsForceAgainstThePolicy(t *testing.T) {
	csr := newNodeFacts(t, reqSpec{}).CSR
	m := manualFor(t, csr)
	m.Sources.Cloud = testCloud() // the instance is unknown: the policy waits
	res, err := m.Approve(context.Background(), csr.Name, t0)
	if !errors.Is(err, ErrPolicyWouldNotApprove) || res.Verdict.Action == ActionApprove {
		t.Fatalf("Approve = %+v, %v; want the verdict and ErrPolicyWouldNotApprove", res, err)
	}
	if c, _ := m.condition(t, csr.Name); c != Pending {
		t.Errorf("refused CSR is %s, want Pending", c)
	}

	m.Force, m.Reason = true, "OperatorVouched"
	res, err = m.Approve(context.Background(), csr.Name, t0)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Forced || res.RecordedInstance != "" {
		t.Errorf("forced result %+v: want Forced, nothing recorded (no instance known)", res)
	}
	if c, reason := m.condition(t, csr.Name); c != Approved || reason != "OperatorVouched" {
		t.Errorf("forced CSR is %s (%s), want Approved (OperatorVouched)", c, reason)
	}
	if len(m.recorded(t)) != 0 {
		t.Errorf("recorded %v for an unknown instance", m.recorded(t))
	}
}

// TestManualApproveNeverOverwritesTheRecord: a replay (another CSR is
// recorded for the instance) is refused even with --force, since the
// record cannot hold both.
func TestManualApproveNeverOverwritesTheRecord(t *testing.T) {
	csr := newNodeFacts(t, reqSpec{}).CSR
	m := manualFor(t, csr)
	m.Force, m.Reason = true, "OperatorVouched"
	if err := (&ApprovalRecord{Client: m.Client}).Add(context.Background(), testInstance, Approval{CSRName: "csr-earlier", CSRUID: "uid-earlier", At: t0}, t0); err != nil {
		t.Fatal(err)
	}
	res, err := m.Approve(context.Background(), csr.Name, t0)
	if !errors.Is(err, ErrAlreadyRecorded) || res.Verdict.Action != ActionDeny {
		t.Fatalf("forced replay: %+v, %v; want a Deny verdict and ErrAlreadyRecorded", res, err)
	}
	if c, _ := m.condition(t, csr.Name); c != Pending {
		t.Errorf("replay is %s, want Pending", c)
	}
}

func TestManualApproveOnlyKubeletSigners(t *testing.T) {
	csr := newNodeFacts(t, reqSpec{}).CSR
	csr.Spec.SignerName = certificatesv1.KubeAPIServerClientSignerName
	m := manualFor(t, csr)
	m.Force, m.Reason = true, "OperatorVouched"
	_, err := m.Approve(context.Background(), csr.Name, t0)
	if !errors.Is(err, ErrNotKubeletSigner) {
		t.Fatalf("Approve of a %s CSR: %v, want ErrNotKubeletSigner", csr.Spec.SignerName, err)
	}
	if c, _ := m.condition(t, csr.Name); c != Pending {
		t.Errorf("CSR of another signer is %s, want Pending", c)
	}
}
