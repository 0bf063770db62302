package instancejoin

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"time"

	"github.com/kelp-dev/kelp/internal/join"
)

// next is what to do after a failed attempt.
type next struct {
	// Retry: the failure is transient; try again.
	Retry bool
	// After is the least wait the endpoint asked for (Retry-After).
	After time.Duration
}

// metadataError is a failure to read the instance's metadata: transient,
// as the metadata service may not answer yet early in boot.
type metadataError struct{ err error }

func (e *metadataError) Error() string { return "read instance metadata: " + e.err.Error() }
func (e *metadataError) Unwrap() error { return e.err }

// finalError is a failure no retry can fix (a local one, after kelp
// answered).
type finalError struct{ err error }

func (e *finalError) Error() string { return e.err.Error() }
func (e *finalError) Unwrap() error { return e.err }

// decide says whether a failed attempt is worth another: a refusal kelp
// means is final, and so is a join endpoint that is not kelp's (a 4xx
// without kelp's reason) or whose certificate does not verify; a rate
// limit, an unavailable dependency, a 5xx, a 408 or 429, a metadata
// service that does not answer yet and a network failure are transient.
func decide(err error) next {
	var (
		ref    *join.Refusal
		status *join.StatusError
		md     *metadataError
		final  *finalError
	)
	switch {
	case errors.As(err, &final):
		return next{}
	case errors.As(err, &md):
		return next{Retry: true}
	case errors.As(err, &ref):
		switch ref.Reason {
		case join.ReasonRateLimited, join.ReasonUnavailable:
			return next{Retry: true, After: ref.RetryAfter}
		}
		return next{}
	case errors.As(err, &status):
		transient := status.Status >= 500 || status.Status == http.StatusTooManyRequests || status.Status == http.StatusRequestTimeout
		return next{Retry: transient, After: status.RetryAfter}
	case untrusted(err):
		return next{}
	}
	return next{Retry: true}
}

// untrusted reports whether err is a failure to verify the endpoint's
// certificate: the CA given is not the endpoint's, which no retry fixes.
func untrusted(err error) bool {
	var (
		verify   *tls.CertificateVerificationError
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
	)
	return errors.As(err, &verify) || errors.As(err, &unknown) || errors.As(err, &hostname) || errors.As(err, &invalid)
}
