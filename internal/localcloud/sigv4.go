package localcloud

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

const (
	sigV4Algorithm  = "AWS4-HMAC-SHA256"
	sigV4Terminator = "aws4_request"
	amzDateFormat   = "20060102T150405Z"
)

// sigV4Auth is a parsed Authorization header.
type sigV4Auth struct {
	AccessKey, Date, Region, Service string // the credential scope
	SignedHeaders                    []string
	Signature                        string
}

// parseAuthorization parses "AWS4-HMAC-SHA256 Credential=AKID/date/region/
// service/aws4_request, SignedHeaders=a;b, Signature=hex". An empty header
// is a MissingAuthenticationToken error.
func parseAuthorization(h string) (sigV4Auth, *failed) {
	var a sigV4Auth
	if strings.TrimSpace(h) == "" {
		return a, fail(failMissingAuth, "Request is missing Authentication Token")
	}
	rest, ok := strings.CutPrefix(h, sigV4Algorithm+" ")
	if !ok {
		return a, failf(failIncompleteSignature, "Unsupported authorization type; only %s is accepted", sigV4Algorithm)
	}
	fields := map[string]string{}
	for part := range strings.SplitSeq(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if ok {
			fields[k] = v
		}
	}
	for _, k := range []string{"Credential", "SignedHeaders", "Signature"} {
		if fields[k] == "" {
			return a, failf(failIncompleteSignature, "Authorization header requires '%s' parameter. Authorization=%s", k, h)
		}
	}
	scope := strings.Split(fields["Credential"], "/")
	if len(scope) != 5 || scope[4] != sigV4Terminator {
		return a, failf(failIncompleteSignature, "Credential should be scoped to a valid region, service and %s: %q",
			sigV4Terminator, fields["Credential"])
	}
	a.AccessKey, a.Date, a.Region, a.Service = scope[0], scope[1], scope[2], scope[3]
	a.SignedHeaders = strings.Split(fields["SignedHeaders"], ";")
	a.Signature = fields["Signature"]
	return a, nil
}

// verifySigV4 recomputes the request's signature from its method, path,
// query, signed headers and body with secret, the secret key of the access
// key the credential scope names, and compares it with the one sent.
func verifySigV4(r *http.Request, body []byte, a sigV4Auth, region, secret string) *failed {
	amzDate := r.Header.Get("X-Amz-Date")
	if amzDate == "" {
		return failf(failIncompleteSignature, "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
	}
	if len(amzDate) != len(amzDateFormat) || amzDate[:8] != a.Date {
		return failf(failBadSignature,
			"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s'", a.Date, amzDate)
	}
	if a.Region != region {
		return failf(failBadSignature, "Credential should be scoped to a valid region, not '%s'. ", a.Region)
	}
	if !slices.Contains(a.SignedHeaders, "host") {
		return failf(failBadSignature, "'Host' must be a signed header.")
	}
	sum := sha256.Sum256(body)
	payloadHash := hex.EncodeToString(sum[:])
	if h := r.Header.Get("X-Amz-Content-Sha256"); h != "" && h != payloadHash {
		return failf(failBadSignature, "The provided 'x-amz-content-sha256' header does not match what was computed.")
	}
	canonical := strings.Join([]string{
		r.Method,
		canonicalURI(r.URL),
		canonicalQuery(r.URL.RawQuery),
		canonicalHeaders(r, a.SignedHeaders),
		strings.Join(a.SignedHeaders, ";"),
		payloadHash,
	}, "\n")
	crSum := sha256.Sum256([]byte(canonical))
	scope := strings.Join([]string{a.Date, a.Region, a.Service, sigV4Terminator}, "/")
	toSign := strings.Join([]string{sigV4Algorithm, amzDate, scope, hex.EncodeToString(crSum[:])}, "\n")
	key := hmacSHA256([]byte("AWS4"+secret), a.Date)
	for _, s := range []string{a.Region, a.Service, sigV4Terminator} {
		key = hmacSHA256(key, s)
	}
	want := hex.EncodeToString(hmacSHA256(key, toSign))
	if !hmac.Equal([]byte(want), []byte(a.Signature)) {
		return failf(failBadSignature, "The request signature we calculated does not match the signature you provided. "+
			"Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")
	}
	return nil
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// canonicalURI is the URI-encoded path ("/" when empty); non-S3 services
// encode the already escaped path once more, segment by segment.
func canonicalURI(u *url.URL) string {
	p := u.EscapedPath()
	if p == "" {
		return "/"
	}
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = awsURIEncode(s)
	}
	return strings.Join(segs, "/")
}

// canonicalQuery sorts the query parameters by name then value and encodes
// them with AWS's URI encoding.
func canonicalQuery(raw string) string {
	if raw == "" {
		return ""
	}
	vals, err := url.ParseQuery(raw)
	if err != nil {
		return raw // a malformed query cannot match any signature anyway
	}
	var pairs []string
	for k, vs := range vals {
		for _, v := range vs {
			pairs = append(pairs, awsURIEncode(k)+"="+awsURIEncode(v))
		}
	}
	slices.Sort(pairs)
	return strings.Join(pairs, "&")
}

// canonicalHeaders renders the signed headers, one "name:value\n" each, in
// the order of SignedHeaders, values trimmed with inner spaces collapsed.
func canonicalHeaders(r *http.Request, signed []string) string {
	var b strings.Builder
	for _, name := range signed {
		var vals []string
		switch name {
		case "host":
			vals = []string{r.Host}
		default:
			vals = r.Header.Values(name)
			if name == "content-length" && len(vals) == 0 {
				vals = []string{strconv.FormatInt(r.ContentLength, 10)}
			}
		}
		clean := make([]string, len(vals))
		for i, v := range vals {
			clean[i] = strings.Join(strings.Fields(v), " ")
		}
		b.WriteString(name)
		b.WriteByte(':')
		b.WriteString(strings.Join(clean, ","))
		b.WriteByte('\n')
	}
	return b.String()
}

// awsURIEncode percent-encodes every byte except the unreserved characters
// A-Z a-z 0-9 - _ . ~, with upper-case hex digits.
func awsURIEncode(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}
