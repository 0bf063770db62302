package join

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Policy is what a proof is checked against.
type Policy struct {
	// STSEndpoint is the one STS endpoint kelp forwards proofs to, e.g.
	// https://sts.us-east-1.amazonaws.com; a proof naming another host is
	// refused.
	STSEndpoint string
	// Freshness bounds |now - X-Amz-Date|; DefaultFreshness when zero.
	Freshness time.Duration
	// AllowedRoles are the IAM role names whose instance sessions may
	// join (the pools' instance profiles' roles).
	AllowedRoles []string
	// Account, when set, is the only AWS account accepted.
	Account string
}

// Validate returns every problem of p, each naming its field.
func (p Policy) Validate() error {
	var errs []string
	u, err := url.Parse(p.STSEndpoint)
	switch {
	case err != nil:
		errs = append(errs, fmt.Sprintf("sts endpoint %q: %v", p.STSEndpoint, err))
	case u.Scheme != "https" || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "":
		errs = append(errs, fmt.Sprintf("sts endpoint %q: want https://<host>[:port]", p.STSEndpoint))
	}
	if p.Freshness < 0 {
		errs = append(errs, fmt.Sprintf("freshness %s: must not be negative", p.Freshness))
	}
	if len(p.AllowedRoles) == 0 {
		errs = append(errs, "allowed roles: name at least one")
	}
	if len(errs) > 0 {
		return fmt.Errorf("join policy: %s", strings.Join(errs, "; "))
	}
	return nil
}

// stsHost returns the host[:port] of the STS endpoint.
func (p Policy) stsHost() string {
	u, err := url.Parse(p.STSEndpoint)
	if err != nil {
		return ""
	}
	return u.Host
}

// requiredSigned are the headers a proof must sign, lower case.
var requiredSigned = []string{"host", "x-amz-date", strings.ToLower(HeaderNonce), strings.ToLower(HeaderRequestHash)}

// Checked is a proof that passed CheckProof.
type Checked struct {
	Request      Request
	NonceID      string
	NonceExpires time.Time
	// SignedAt is the proof's X-Amz-Date; Freshness the window it was
	// within.
	SignedAt  time.Time
	Freshness time.Duration
	// STSEndpoint is the policy's, which the proof was addressed to.
	STSEndpoint string
	// Header is what kelp forwards to STS: the signed headers (but Host
	// and Content-Length, which the HTTP client sets) and Authorization.
	Header http.Header
}

// CheckProof checks everything about p that needs no IO, in order: the
// request is a POST of GetCallerIdentityBody to the root of the policy's
// STS host; it is SigV4-signed for sts with host, x-amz-date, the nonce
// and the request hash among its signed headers; it was signed within the
// freshness window of now; the nonce verifies and has not expired; the
// request hash is that of p.Request, a valid [Request]. Each failure is a
// *Refusal.
func CheckProof(p Proof, pol Policy, nonces Nonces, now time.Time) (Checked, error) {
	if err := checkTarget(p.STS, pol); err != nil {
		return Checked{}, err
	}
	signed, err := signedHeaders(p.STS.Header)
	if err != nil {
		return Checked{}, err
	}
	signedAt, err := checkFresh(p.STS.Header.Get("X-Amz-Date"), pol, now)
	if err != nil {
		return Checked{}, err
	}
	id, exp, err := nonces.Check(p.STS.Header.Get(HeaderNonce), now)
	if err != nil {
		return Checked{}, err
	}
	if got, want := p.STS.Header.Get(HeaderRequestHash), RequestHash(p.Request); got != want {
		return Checked{}, refuse(ReasonTampered, "%s %.80q is not the hash of the join request (%s)", HeaderRequestHash, got, want)
	}
	var req Request
	if err := json.Unmarshal(p.Request, &req); err != nil {
		return Checked{}, refuse(ReasonMalformed, "join request: %v", err)
	}
	if err := req.Validate(); err != nil {
		return Checked{}, refuse(ReasonMalformed, "join request: %v", err)
	}
	fwd := http.Header{"Authorization": {p.STS.Header.Get("Authorization")}}
	for _, h := range signed {
		if h == "host" || h == "content-length" {
			continue
		}
		fwd[http.CanonicalHeaderKey(h)] = p.STS.Header.Values(h)
	}
	return Checked{Request: req, NonceID: id, NonceExpires: exp, SignedAt: signedAt, Freshness: pol.freshness(), STSEndpoint: pol.STSEndpoint, Header: fwd}, nil
}

// checkTarget checks method, URL and body.
func checkTarget(r SignedRequest, pol Policy) error {
	u, err := url.Parse(r.URL)
	if err != nil {
		return refuse(ReasonMalformed, "sts url %.120q: %v", r.URL, err)
	}
	if want := pol.stsHost(); u.Host != want || u.Scheme != "https" {
		return refuse(ReasonWrongSTSHost, "sts url %.120q: kelp forwards only to https://%s", r.URL, want)
	}
	if r.Method != http.MethodPost {
		return refuse(ReasonTampered, "sts method %.20q: want POST", r.Method)
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return refuse(ReasonTampered, "sts url %.120q: want the endpoint's root, with no query", r.URL)
	}
	if r.Body != GetCallerIdentityBody {
		return refuse(ReasonTampered, "sts body %.120q: want %q", r.Body, GetCallerIdentityBody)
	}
	return nil
}

// signedHeaders parses the Authorization header and returns its signed
// headers, which must include requiredSigned.
func signedHeaders(h http.Header) ([]string, error) {
	auth := h.Values("Authorization")
	if len(auth) != 1 {
		return nil, refuse(ReasonTampered, "want one Authorization header, got %d", len(auth))
	}
	alg, rest, _ := strings.Cut(auth[0], " ")
	if alg != "AWS4-HMAC-SHA256" {
		return nil, refuse(ReasonTampered, "authorization algorithm %.40q: want AWS4-HMAC-SHA256", alg)
	}
	var cred, signed string
	for f := range strings.SplitSeq(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(f), "=")
		switch k {
		case "Credential":
			cred = v
		case "SignedHeaders":
			signed = v
		}
	}
	if parts := strings.Split(cred, "/"); len(parts) != 5 || parts[3] != "sts" || parts[4] != "aws4_request" {
		return nil, refuse(ReasonTampered, "authorization credential scope %.120q: want <key>/<date>/<region>/sts/aws4_request", cred)
	}
	names := strings.Split(signed, ";")
	for _, want := range requiredSigned {
		if !slices.Contains(names, want) {
			return nil, refuse(ReasonTampered, "signed headers %.200q lack %s", signed, want)
		}
	}
	for _, n := range names {
		if n != "host" && n != "content-length" && len(h.Values(n)) == 0 {
			return nil, refuse(ReasonTampered, "signed header %.60q is missing", n)
		}
	}
	return names, nil
}

// amzDate is the layout of X-Amz-Date.
const amzDate = "20060102T150405Z"

// freshness is the freshness window: Freshness, or DefaultFreshness.
func (p Policy) freshness() time.Duration {
	if p.Freshness == 0 {
		return DefaultFreshness
	}
	return p.Freshness
}

// checkFresh returns when the proof was signed, refusing it outside the
// freshness window of now.
func checkFresh(date string, pol Policy, now time.Time) (time.Time, error) {
	t, err := time.Parse(amzDate, date)
	if err != nil {
		return time.Time{}, refuse(ReasonTampered, "X-Amz-Date %.40q: want %s", date, amzDate)
	}
	window := pol.freshness()
	if d := now.Sub(t); d > window || d < -window {
		return time.Time{}, refuse(ReasonStale, "signed at %s, %s from now; the window is %s", t.Format(time.RFC3339), d.Round(time.Second), window)
	}
	return t, nil
}
