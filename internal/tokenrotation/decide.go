// Package tokenrotation keeps every token-mode pool's launch template
// carrying a valid bootstrap token (identity pools carry none and are
// left alone). Decide is the pure core: given what the cluster
// knows of a pool's token and the clock, it says whether to rotate and
// why. The Rotator is its small controller: each period it gathers the
// facts (the token in each pool's user-data, kelp's token Secrets), asks
// Decide, and acts through the pool provisioner (a fresh token in a new
// launch template version) and the token store (the old token expires once
// instances launched before the switch have had the join window to use
// it).
package tokenrotation

import "time"

// Facts are what Decide needs about one pool's token.
type Facts struct {
	// Found: the token the pool's user-data carries exists (a well-formed
	// kelp token Secret); Expires is then its expiry.
	Found   bool
	Expires time.Time
	Now     time.Time
	// TTL of fresh tokens and the rotation Period.
	TTL    time.Duration
	Period time.Duration
}

// Reasons a token is rotated.
const (
	ReasonTokenGone     = "TokenGone"
	ReasonTokenExpiring = "TokenExpiring"
)

// Decision says whether to rotate, and why.
type Decision struct {
	Rotate bool
	Reason string
}

// Decide rotates a pool's token when it is gone, or when less than a third
// of the TTL (and never less than two rotation periods) remains, so that a
// scale-up never meets an expired token.
func Decide(f Facts) Decision {
	switch {
	case !f.Found:
		return Decision{Rotate: true, Reason: ReasonTokenGone}
	case f.Expires.Sub(f.Now) < max(f.TTL/3, 2*f.Period):
		return Decision{Rotate: true, Reason: ReasonTokenExpiring}
	}
	return Decision{}
}
