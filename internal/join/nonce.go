package join

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// MinNonceKeyBytes is the shortest nonce key accepted.
const MinNonceKeyBytes = 32

// DefaultNonceTTL is how long a nonce is accepted after it was issued.
const DefaultNonceTTL = 5 * time.Minute

// Nonces issues and verifies nonces: "<id>.<expiry>.<mac>", a random id
// (16 bytes, hex), the expiry in Unix seconds and an HMAC-SHA256 of both
// under Key. Any replica holding Key verifies a nonce any other issued;
// single use is the caller's (an atomic create per nonce id).
type Nonces struct {
	// Key is shared by every replica; at least MinNonceKeyBytes.
	Key []byte
	// TTL is a nonce's lifetime; DefaultNonceTTL when zero.
	TTL time.Duration
}

// Issue returns a new nonce expiring TTL after now.
func (n Nonces) Issue(now time.Time) (string, error) {
	if len(n.Key) < MinNonceKeyBytes {
		return "", fmt.Errorf("issue nonce: key of %d bytes, want at least %d", len(n.Key), MinNonceKeyBytes)
	}
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return "", fmt.Errorf("issue nonce: %w", err)
	}
	ttl := n.TTL
	if ttl <= 0 {
		ttl = DefaultNonceTTL
	}
	body := hex.EncodeToString(id) + "." + strconv.FormatInt(now.Add(ttl).Unix(), 10)
	return body + "." + n.mac(body), nil
}

// Check verifies nonce at now and returns its id and expiry, or a
// Refusal: ReasonNonceInvalid when it is malformed or its MAC does not
// verify, ReasonNonceExpired when it is past its expiry.
func (n Nonces) Check(nonce string, now time.Time) (id string, expires time.Time, err error) {
	parts := strings.Split(nonce, ".")
	if len(parts) != 3 || len(parts[0]) != 32 || len(n.Key) < MinNonceKeyBytes {
		return "", time.Time{}, refuse(ReasonNonceInvalid, "nonce %.80q is not one kelp issued", nonce)
	}
	body := parts[0] + "." + parts[1]
	want, err1 := hex.DecodeString(n.mac(body))
	got, err2 := hex.DecodeString(parts[2])
	if err1 != nil || err2 != nil || !hmac.Equal(want, got) {
		return "", time.Time{}, refuse(ReasonNonceInvalid, "nonce %.80q does not verify", nonce)
	}
	if _, err := hex.DecodeString(parts[0]); err != nil {
		return "", time.Time{}, refuse(ReasonNonceInvalid, "nonce id %q is not hex", parts[0])
	}
	exp, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil {
		return "", time.Time{}, refuse(ReasonNonceInvalid, "nonce expiry %q is not a number", parts[1])
	}
	expires = time.Unix(exp, 0).UTC()
	if !now.Before(expires) {
		return "", time.Time{}, refuse(ReasonNonceExpired, "nonce %s expired at %s", parts[0], expires.Format(time.RFC3339))
	}
	return parts[0], expires, nil
}

func (n Nonces) mac(body string) string {
	m := hmac.New(sha256.New, n.Key)
	m.Write([]byte("kelp-join-nonce\x00" + body))
	return hex.EncodeToString(m.Sum(nil))
}
