package approver

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Condition is the state of a CSR as `kubectl get csr` shows it.
type Condition string

const (
	Pending        Condition = "Pending"
	Approved       Condition = "Approved"
	Issued         Condition = "Approved,Issued"
	Denied         Condition = "Denied"
	Failed         Condition = "Failed"
	nodeNamePrefix           = "system:node:"
)

// Summary is one CSR as an operator sees it.
type Summary struct {
	Name      string
	Requestor string
	Signer    string
	// NodeName is the node the CSR asks to become (from its subject CN
	// `system:node:<name>`), empty when it is not a node CSR.
	NodeName  string
	Age       time.Duration
	Condition Condition
}

// Summarize describes a CSR at time now.
func Summarize(csr *certificatesv1.CertificateSigningRequest, now time.Time) Summary {
	return Summary{
		Name:      csr.Name,
		Requestor: csr.Spec.Username,
		Signer:    csr.Spec.SignerName,
		NodeName:  requestedNodeName(csr.Spec.Request),
		Age:       now.Sub(csr.CreationTimestamp.Time),
		Condition: ConditionOf(csr),
	}
}

// ConditionOf returns the CSR's condition: Denied or Failed win over
// Approved; Approved with a certificate is Issued.
func ConditionOf(csr *certificatesv1.CertificateSigningRequest) Condition {
	var approved bool
	for _, c := range csr.Status.Conditions {
		if c.Status != corev1.ConditionTrue {
			continue
		}
		switch c.Type {
		case certificatesv1.CertificateDenied:
			return Denied
		case certificatesv1.CertificateFailed:
			return Failed
		case certificatesv1.CertificateApproved:
			approved = true
		}
	}
	switch {
	case approved && len(csr.Status.Certificate) > 0:
		return Issued
	case approved:
		return Approved
	}
	return Pending
}

func requestedNodeName(request []byte) string {
	block, _ := pem.Decode(request)
	if block == nil {
		return ""
	}
	req, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return ""
	}
	if name, ok := strings.CutPrefix(req.Subject.CommonName, nodeNamePrefix); ok {
		return name
	}
	return ""
}

// List returns every CSR, oldest first.
func List(ctx context.Context, client kubernetes.Interface, now time.Time) ([]Summary, error) {
	list, err := client.CertificatesV1().CertificateSigningRequests().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list csrs: %w", err)
	}
	out := make([]Summary, 0, len(list.Items))
	for i := range list.Items {
		out = append(out, Summarize(&list.Items[i], now))
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Age != out[j].Age {
			return out[i].Age > out[j].Age
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}

// ErrAlreadyDecided is returned when a CSR already carries an Approved or
// Denied condition: a decision is never overwritten.
var ErrAlreadyDecided = errors.New("already decided")

// Decision is an approval or denial as it is written on a CSR: by hand
// ([Apply]) or by the controller, from [Verdict.Decision].
type Decision struct {
	Approve bool
	// Reason is a CamelCase machine reason; Message a sentence for humans.
	Reason  string
	Message string
}

// conditionType is Approved or Denied.
func (d Decision) conditionType() certificatesv1.RequestConditionType {
	if d.Approve {
		return certificatesv1.CertificateApproved
	}
	return certificatesv1.CertificateDenied
}

// condition returns the CSR condition that records d at now.
func (d Decision) condition(now time.Time) certificatesv1.CertificateSigningRequestCondition {
	return certificatesv1.CertificateSigningRequestCondition{
		Type: d.conditionType(), Status: corev1.ConditionTrue,
		Reason: d.Reason, Message: d.Message, LastUpdateTime: metav1.NewTime(now),
	}
}

// write records d on csr through the approval subresource, at now. csr is
// not modified. The one place a decision is written: callers wrap the
// error with their verb.
func (d Decision) write(ctx context.Context, client kubernetes.Interface, csr *certificatesv1.CertificateSigningRequest, now time.Time) error {
	updated := csr.DeepCopy()
	updated.Status.Conditions = append(updated.Status.Conditions, d.condition(now))
	_, err := client.CertificatesV1().CertificateSigningRequests().UpdateApproval(ctx, csr.Name, updated, metav1.UpdateOptions{})
	return err
}

// Apply records the decision on the named CSR through the approval
// subresource. A missing CSR is an error naming it.
func Apply(ctx context.Context, client kubernetes.Interface, name string, d Decision) error {
	csr, err := client.CertificatesV1().CertificateSigningRequests().Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("csr %q not found", name)
	}
	if err != nil {
		return fmt.Errorf("get csr %s: %w", name, err)
	}
	if c := ConditionOf(csr); c != Pending {
		return fmt.Errorf("csr %s is %s: %w", name, c, ErrAlreadyDecided)
	}
	if err := d.write(ctx, client, csr, time.Now()); err != nil {
		return fmt.Errorf("record %s of csr %s: %w", d.conditionType(), name, err)
	}
	return nil
}
