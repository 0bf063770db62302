package approver

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clienttesting "k8s.io/client-go/testing"
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

// TestManualApproveRecordsARenewal: a renewal approved by hand is
// recorded like the controller's: the record awaits its certificate for
// the Node's instance before the approval is written, so the certificate
// lands in the instance's entry once issued.
func TestManualApproveRecordsARenewal(t *testing.T) {
	renewal := renewalFacts(t, reqSpec{}).CSR
	c, client, _ := newTestController(t, renewal)
	m := ManualApproval{Client: client, Sources: c.Sources, Config: c.Config}
	node := kelpNodeFor(testNode, freshInstance()) // joined after the instance launched
	m.Sources.Node = func(name string) (*corev1.Node, error) {
		if name == node.Name {
			return node, nil
		}
		return nil, nil
	}
	// The record must already hold the await when the approval is
	// written: check it at the approval's write.
	var awaitedAtApproval bool
	client.PrependReactor("update", "certificatesigningrequests", func(a clienttesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() == "approval" {
			cm, err := client.Tracker().Get(corev1.SchemeGroupVersion.WithResource("configmaps"), RecordNamespace, RecordName)
			awaitedAtApproval = err == nil && strings.Contains(cm.(*corev1.ConfigMap).Data[testInstance], string(renewal.UID))
		}
		return false, nil, nil
	})
	res, err := m.Approve(context.Background(), renewal.Name, t0)
	if err != nil {
		t.Fatalf("Approve = %+v, %v", res.Verdict, err)
	}
	if res.Verdict.Action != ActionApprove || res.Forced || res.RecordedInstance != testInstance {
		t.Errorf("result %+v: want the policy's approval, not forced, recording %s", res, testInstance)
	}
	if !awaitedAtApproval {
		t.Error("the approval was written before the record awaited the renewal's certificate")
	}
	// The controller, seeing it issued, records the certificate.
	got := getCSR(t, client, renewal.Name)
	issued, sum := issue(t, got, t0.Add(24*time.Hour))
	if id, err := c.Sources.Record.Issued(context.Background(), issued, t0); err != nil || id != testInstance {
		t.Fatalf("Issued = %q, %v; want the renewal's certificate recorded for %s", id, err, testInstance)
	}
	a := m.recorded(t)[testInstance]
	if len(a.Certificates) != 1 || a.Certificates[0].SHA256 != sum || a.Certificates[0].CSRUID != renewal.UID {
		t.Errorf("record of %s: %+v, want the renewal's certificate", testInstance, a)
	}
}
