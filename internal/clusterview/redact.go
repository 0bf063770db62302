package clusterview

import "regexp"

// Bootstrap token ids and secrets: the id is 6 and the secret 16 of
// [a-z0-9] (k8s.io/cluster-bootstrap). A token id names its Secret
// (bootstrap-token-<id>) and its user (system:bootstrap:<id>).
var (
	fullToken   = regexp.MustCompile(`\b[a-z0-9]{6}\.[a-z0-9]{16}\b`)
	tokenUser   = regexp.MustCompile(`system:bootstrap:[a-z0-9]{6}\b`)
	tokenSecret = regexp.MustCompile(`bootstrap-token-[a-z0-9]{6}\b`)
)

// Redacted stands for a token id in what Redact returns.
const Redacted = "******"

// Redact returns s with every bootstrap token (id.secret), token user
// (system:bootstrap:<id>) and token Secret name (bootstrap-token-<id>)
// masked: the id (and secret) become [Redacted], the prefix stays.
func Redact(s string) string {
	s = fullToken.ReplaceAllString(s, Redacted+"."+Redacted)
	s = tokenUser.ReplaceAllString(s, "system:bootstrap:"+Redacted)
	return tokenSecret.ReplaceAllString(s, "bootstrap-token-"+Redacted)
}
