package approver

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
)

// ErrBadCertificate is returned by Issued when a CSR's status.certificate
// holds no parsable certificate: nothing can be recorded, and the awaited
// certificate is dropped.
var ErrBadCertificate = errors.New("no parsable certificate in status.certificate")

// Issued records the certificate issued through csr in the entry of the
// instance it belongs to, and returns that instance: a client CSR kelp
// approved (see Add and Await), or a renewal someone else approved
// (kube-controller-manager's selfnodeclient rule, `kubectl certificate
// approve`) that was requested with a current certificate of the instance
// (its credential ID), so that the instance's chain of certificates stays
// whole and its next renewal is not refused. Any other CSR is left alone
// and returns "". It is idempotent.
func (r *ApprovalRecord) Issued(ctx context.Context, csr *certificatesv1.CertificateSigningRequest, now time.Time) (string, error) {
	uid := string(csr.UID)
	r.mu.Lock()
	err := r.loadLocked(ctx)
	id, awaited := awaitingInstance(r.cache, uid), true
	if id == "" {
		id, awaited = renewedInstance(r.cache, csr, now), false
	}
	r.mu.Unlock()
	if err != nil || id == "" {
		return "", err
	}
	cert, parseErr := issuedCertificate(csr.Status.Certificate)
	err = r.update(ctx, now, func(entries map[string]recordEntry, _ map[string]bool) error {
		e, ok := entries[id]
		if !ok {
			return nil
		}
		i := slices.IndexFunc(e.Await, func(w awaitedCert) bool { return w.CSRUID == uid })
		switch {
		case i >= 0:
			e.Await = slices.Delete(slices.Clone(e.Await), i, i+1)
		case awaited:
			return nil // recorded meanwhile
		}
		if parseErr == nil && !slices.ContainsFunc(e.Certs, func(c recordCert) bool { return c.SHA256 == cert.SHA256 }) {
			e.Certs = append(slices.Clip(e.Certs), recordCert{SHA256: cert.SHA256, NotAfter: cert.NotAfter.UTC(), CSRUID: uid})
		}
		entries[id] = e
		return nil
	})
	if err != nil {
		return id, fmt.Errorf("record certificate of csr %s for instance %s: %w", csr.Name, id, err)
	}
	if parseErr != nil {
		return id, fmt.Errorf("record certificate of csr %s for instance %s: %w", csr.Name, id, parseErr)
	}
	return id, nil
}

// awaitingInstance returns the instance whose entry awaits the certificate
// of the CSR uid, "" if none.
func awaitingInstance(entries map[string]recordEntry, uid string) string {
	for id, e := range entries {
		if slices.ContainsFunc(e.Await, func(w awaitedCert) bool { return w.CSRUID == uid }) {
			return id
		}
	}
	return ""
}

// renewedInstance returns the instance one of whose current certificates
// requested csr, a node's renewal of its client certificate, "" if none:
// the API server names the requesting certificate in spec.extra
// (CredentialIDKey, Kubernetes 1.32+), which a requestor cannot forge.
func renewedInstance(entries map[string]recordEntry, csr *certificatesv1.CertificateSigningRequest, now time.Time) string {
	if Classify(csr) != KindRenewal {
		return ""
	}
	vals := csr.Spec.Extra[CredentialIDKey]
	if len(vals) != 1 {
		return ""
	}
	hash, ok := strings.CutPrefix(vals[0], credentialPrefix)
	if !ok || hash == "" {
		return ""
	}
	for id, e := range entries {
		if e.Node != "" && csr.Spec.Username != nodeNamePrefix+e.Node {
			continue
		}
		if slices.ContainsFunc(e.Certs, func(c recordCert) bool { return c.SHA256 == hash && c.NotAfter.After(now) }) {
			return id
		}
	}
	return ""
}

// issuedCertificate reads the first certificate of a CSR's
// status.certificate (PEM): the SHA-256 of its DER bytes in lower hex, as
// the API server's credential ID spells it, and its NotAfter.
func issuedCertificate(data []byte) (IssuedCertificate, error) {
	for block, rest := pem.Decode(data); block != nil; block, rest = pem.Decode(rest) {
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return IssuedCertificate{}, fmt.Errorf("%w: %w", ErrBadCertificate, err)
		}
		sum := sha256.Sum256(block.Bytes)
		return IssuedCertificate{SHA256: hex.EncodeToString(sum[:]), NotAfter: cert.NotAfter}, nil
	}
	return IssuedCertificate{}, ErrBadCertificate
}
