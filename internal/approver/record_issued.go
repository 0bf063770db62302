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
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
)

// ErrBadCertificate is returned by Issued when a CSR's status.certificate
// holds no parsable certificate: nothing can be recorded, and the awaited
// certificate is dropped.
var ErrBadCertificate = errors.New("no parsable certificate in status.certificate")

// Issued records the certificate issued through csr, a client CSR kelp
// approved (see Add and Await), in the entry of the instance it was
// approved for, and returns that instance. A CSR whose certificate no
// entry awaits (one kelp did not approve, or already recorded) is left
// alone and returns "". It is idempotent.
func (r *ApprovalRecord) Issued(ctx context.Context, csr *certificatesv1.CertificateSigningRequest, now time.Time) (string, error) {
	uid := string(csr.UID)
	r.mu.Lock()
	err := r.loadLocked(ctx)
	id := awaitingInstance(r.cache, uid)
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
		if i < 0 {
			return nil
		}
		e.Await = slices.Delete(slices.Clone(e.Await), i, i+1)
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
