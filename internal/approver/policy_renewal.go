package approver

import (
	"strings"
	"time"
)

// This file holds the checks that tie a renewal to the instance rather
// than to its name, which EC2 recycles.

// CredentialIDKey is the key of spec.extra under which the API server
// (Kubernetes 1.32 and later) names the credential that created the CSR:
// for a client certificate, X509SHA256=<lower-case hex SHA-256 of its DER>.
// It is k8s.io/apiserver's user.CredentialIDKey.
const CredentialIDKey = "authentication.kubernetes.io/credential-id"

const credentialPrefix = "X509SHA256="

// nodeAfterLaunch: the Node must have been created after its instance was
// launched (to the second, the API's resolution); an older Node was
// registered by an earlier machine of the same name.
func (e *eval) nodeAfterLaunch() outcome {
	created := e.f.Node.CreationTimestamp.Time
	launched := e.inst.LaunchTime.Truncate(time.Second)
	if created.Before(launched) {
		return failed(ReasonNodeOlderThanInst, "Node %s was created at %s, before its instance %s was launched at %s",
			e.name, stamp(created), e.inst.ID, stamp(launched))
	}
	return passed("Node %s was created at %s, after instance %s was launched at %s", e.name, stamp(created), e.inst.ID, stamp(launched))
}

// credential: when the API server names the renewing certificate, it must
// be a current certificate kelp saw issued to the Node's instance. Without
// the credential ID (Kubernetes 1.30–1.31), or without kelp's certificate
// record of the instance (it joined before kelp kept one, or another
// approver let it join), the providerID and node-age checks are all there
// is.
func (e *eval) credential() outcome {
	vals, ok := e.f.CSR.Spec.Extra[CredentialIDKey]
	if !ok {
		return passed("the CSR names no credential (%s, Kubernetes 1.32+): only the providerID and node-age rules applied", CredentialIDKey)
	}
	if len(vals) != 1 {
		return failed(ReasonUnknownCredential, "%s holds %d values %s, want one %s<hex>", CredentialIDKey, len(vals), quoteAll(vals), credentialPrefix)
	}
	hash, ok := strings.CutPrefix(vals[0], credentialPrefix)
	if !ok || !isLowerHex(hash, 64) {
		return failed(ReasonUnknownCredential, "credential %s is not %s<64 lower-case hex digits>", quote(vals[0]), credentialPrefix)
	}
	short := hash[:16] + "…"
	a, ok := e.f.PriorApprovals[e.inst.ID]
	if !ok || len(a.Certificates) == 0 {
		return passed("kelp holds no certificate of instance %s (it joined before kelp kept them, or another approver let it join): only the providerID and node-age rules applied", e.inst.ID)
	}
	for _, c := range a.Certificates {
		if c.SHA256 == hash && c.NotAfter.After(e.f.Now) {
			return passed("the renewing certificate %s%s is one kelp saw issued to instance %s, valid until %s", credentialPrefix, short, e.inst.ID, stamp(c.NotAfter))
		}
	}
	return failed(ReasonUnknownCredential, "the renewing certificate %s%s is not a current certificate of instance %s (kelp saw %d issued to it)",
		credentialPrefix, short, e.inst.ID, len(a.Certificates))
}

// isLowerHex reports whether s is n lower-case hex digits.
func isLowerHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := range len(s) {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
