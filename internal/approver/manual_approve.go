package approver

import (
	"context"
	"errors"
	"fmt"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// ReasonManual is the condition reason of an approval by hand without
// --reason.
const ReasonManual = "KelpManualApproval"

var (
	// ErrNotKubeletSigner is returned for a CSR of another signer than
	// the two kubelet signers: `kelp csr approve` does not approve it.
	ErrNotKubeletSigner = errors.New("not a kubelet signer")
	// ErrPolicyWouldNotApprove is returned, with the verdict, when the
	// policy would deny the CSR, leave it pending or leave it alone and
	// ManualApproval.Force is false.
	ErrPolicyWouldNotApprove = errors.New("kelp's policy would not approve it")
)

// IsKubeletSigner reports whether signer is one of the two signers kelp
// decides: kubelet client and kubelet serving certificates.
func IsKubeletSigner(signer string) bool {
	return signer == certificatesv1.KubeAPIServerClientKubeletSignerName || signer == certificatesv1.KubeletServingSignerName
}

// ManualApproval approves CSRs by hand (`kelp csr approve`) the way the
// controller does: only kubelet CSRs, after asking the policy (the same
// facts and [Decide] as the controller and `kelp csr explain`), recording
// before writing the condition a new node's instance, or that a renewal's
// certificate belongs to the Node's instance (the controller then records
// the certificate once issued).
type ManualApproval struct {
	Client  kubernetes.Interface
	Sources Sources
	// Config is the policy's configuration (ClusterName set).
	Config Config
	// Force approves a CSR the policy would not approve (deny, pending,
	// or not kelp's to decide). The CLI demands a Reason with it.
	Force bool
	// Reason and Message go into the Approved condition; Reason defaults
	// to ReasonManual, Message to one naming the policy's verdict.
	Reason, Message string
}

// ManualResult is what Approve did with one CSR.
type ManualResult struct {
	// Verdict is the policy's, shown to the operator whatever happened.
	Verdict Verdict
	// Forced is true when the CSR was approved against the verdict.
	Forced bool
	// RecordedInstance is the instance whose approval was recorded (a new
	// node's client CSR, or a renewal whose certificate the record now
	// awaits), "" when none was.
	RecordedInstance string
}

// Approve approves the named pending kubelet CSR at now. It returns the
// verdict with an error wrapping ErrPolicyWouldNotApprove when the policy
// would not approve it and Force is false; ErrNotKubeletSigner for another
// signer; ErrAlreadyDecided for a decided CSR; the record's error (such as
// ErrAlreadyRecorded, even with Force) when the approval of a new node's
// instance, or of a renewal of a known instance, cannot be recorded, and
// then nothing is written.
func (m ManualApproval) Approve(ctx context.Context, name string, now time.Time) (ManualResult, error) {
	var res ManualResult
	csr, err := m.Client.CertificatesV1().CertificateSigningRequests().Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return res, fmt.Errorf("csr %q not found", name)
	}
	if err != nil {
		return res, fmt.Errorf("get csr %s: %w", name, err)
	}
	if c := ConditionOf(csr); c != Pending {
		return res, fmt.Errorf("csr %s is %s: %w", name, c, ErrAlreadyDecided)
	}
	if !IsKubeletSigner(csr.Spec.SignerName) {
		return res, fmt.Errorf("csr %s: signer %q is %w: kelp csr approve handles only %s and %s (kubectl certificate approve handles others)",
			name, BoundText(csr.Spec.SignerName), ErrNotKubeletSigner, certificatesv1.KubeAPIServerClientKubeletSignerName, certificatesv1.KubeletServingSignerName)
	}
	facts, err := m.Sources.Gather(ctx, csr, now, m.Config)
	if err != nil {
		return res, fmt.Errorf("gather the facts of csr %s: %w", name, err)
	}
	v := Decide(facts)
	res.Verdict = v
	if v.Action != ActionApprove {
		if !m.Force {
			return res, fmt.Errorf("csr %s: %w (%s %s: %s); approve it anyway with --force --reason REASON",
				name, ErrPolicyWouldNotApprove, v.Action, v.Reason, v.Message)
		}
		res.Forced = true
	}
	if res.RecordedInstance, err = m.record(ctx, csr, v, now); err != nil {
		return res, fmt.Errorf("csr %s: %w", name, err)
	}
	d := Decision{Approve: true, Reason: m.Reason, Message: m.Message}
	if d.Reason == "" {
		d.Reason = ReasonManual
	}
	if d.Message == "" {
		d.Message = fmt.Sprintf("approved by hand with kelp csr approve; kelp's policy: %s %s", v.Action, v.Reason)
	}
	d.Message = BoundText(d.Message)
	if err := d.write(ctx, m.Client, csr, now); err != nil {
		return res, fmt.Errorf("approve csr %s: %w", name, err)
	}
	return res, nil
}

// record writes, before csr is approved, what kelp's record must know, as
// the controller does (Controller.recordApproval) and first, so that a
// crash after it can only refuse a replay: the instance a new node joins
// as, or that the certificate of a renewal is awaited for the Node's
// instance. It returns the instance recorded, "" when v names none (or is
// a serving CSR's: nothing is recorded for those).
func (m ManualApproval) record(ctx context.Context, csr *certificatesv1.CertificateSigningRequest, v Verdict, now time.Time) (string, error) {
	a := Approval{CSRName: csr.Name, CSRUID: csr.UID, At: now, NodeName: v.NodeName}
	var err error
	switch {
	case v.InstanceID == "":
		return "", nil
	case v.Kind == KindNewNode:
		err = m.Sources.Record.Add(ctx, v.InstanceID, a, now)
	case v.Kind == KindRenewal:
		err = m.Sources.Record.Await(ctx, v.InstanceID, a, now)
	default:
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return v.InstanceID, nil
}
