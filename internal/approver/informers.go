package approver

import (
	"bytes"

	certificatesv1 "k8s.io/api/certificates/v1"
	"k8s.io/apimachinery/pkg/fields"
)

// Signers are the two signers whose CSRs kelp decides; the controller
// watches each through an informer of its own, with SignerSelector.
var Signers = []string{certificatesv1.KubeAPIServerClientKubeletSignerName, certificatesv1.KubeletServingSignerName}

// SignerSelector is the field selector of the CSRs of signer (the API
// server filters certificates/v1 CSRs by spec.signerName), so CSRs of
// other signers never reach kelp's caches.
func SignerSelector(signer string) string {
	return fields.OneTermEqualSelector("spec.signerName", signer).String()
}

// TrimDecided is the cache transform of kelp's CSR informers: it drops
// the managed fields of every CSR, and the request (spec.request) of a
// decided one (approved, denied or failed), so what the cache holds
// beyond the pending CSRs is bounded by their number, not by what their
// creators sent. status.certificate stays: the controller records the
// issued certificate. A pending request larger than MaxRequestBytes is
// cut to MaxRequestBytes+1 bytes: still too large for the policy, which
// denies it unread, without the cache holding all that was sent. Objects
// that are not CSRs pass unchanged.
func TrimDecided(obj any) (any, error) {
	csr, ok := obj.(*certificatesv1.CertificateSigningRequest)
	if !ok {
		return obj, nil
	}
	csr.ManagedFields = nil
	switch {
	case ConditionOf(csr) != Pending:
		csr.Spec.Request = nil
	case len(csr.Spec.Request) > MaxRequestBytes:
		csr.Spec.Request = bytes.Clone(csr.Spec.Request[:MaxRequestBytes+1]) // a copy: the rest is freed
	}
	return csr, nil
}
