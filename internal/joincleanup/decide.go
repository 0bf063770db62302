// Package joincleanup cleans up after identity joins (internal/join).
// Decide is the pure core: given kelp's bootstrap tokens, the join claims,
// the registered Nodes and the clock, it plans which single-instance
// tokens to delete (their Node registered, or they expired), which joins
// to record as an Event on their Node, and which claims to delete (nonce
// claims once their nonce expired, instance claims once the instance
// could no longer join anyway). The Cleaner is its small controller: each
// period it gathers the facts, asks Decide and acts.
package joincleanup

import (
	"slices"
	"strings"
	"time"

	"github.com/kelp-dev/kelp/internal/bootstrap"
	"github.com/kelp-dev/kelp/internal/join"
)

// Reasons of the actions.
const (
	ReasonNodeRegistered = "NodeRegistered"
	ReasonTokenExpired   = "TokenExpired"
	ReasonNonceExpired   = "NonceExpired"
	ReasonClaimExpired   = "ClaimExpired"
)

// Facts are what Decide reads.
type Facts struct {
	Now time.Time
	// Tokens are kelp's bootstrap tokens; only those bound to an instance
	// are considered.
	Tokens []bootstrap.Token
	Claims []join.Claim
	// Nodes maps every registered Node's name to its instance ID ("" when
	// its providerID names none).
	Nodes map[string]string
	// ClaimRetention is how long an instance claim is kept after its join:
	// past it, the instance is beyond its join window and cannot join
	// again whatever the claim says.
	ClaimRetention time.Duration
	// NonceGrace is kept past a nonce's expiry, for replicas' clock skew.
	NonceGrace time.Duration
}

// Action is one thing to do, and why.
type Action struct {
	// Name is the token ID or the claim's name.
	Name     string
	Instance string
	Reason   string
}

// Plan is what to do, each list sorted by Name.
type Plan struct {
	DeleteTokens []Action
	// Events are the instance claims whose join to record on their Node.
	Events       []join.Claim
	DeleteClaims []Action
}

// Decide plans the cleanup. It reads no clock.
func Decide(f Facts) Plan {
	var p Plan
	registered := map[string]bool{} // instance IDs whose Node exists
	for _, id := range f.Nodes {
		if id != "" {
			registered[id] = true
		}
	}
	for _, c := range f.Claims {
		if _, ok := f.Nodes[c.NodeName]; ok && c.Kind == "instance" && c.NodeName != "" {
			registered[c.InstanceID] = true
		}
	}
	for _, t := range f.Tokens {
		switch {
		case t.Instance == "":
		case registered[t.Instance]:
			p.DeleteTokens = append(p.DeleteTokens, Action{Name: t.ID, Instance: t.Instance, Reason: ReasonNodeRegistered})
		case t.Expired(f.Now):
			p.DeleteTokens = append(p.DeleteTokens, Action{Name: t.ID, Instance: t.Instance, Reason: ReasonTokenExpired})
		}
	}
	for _, c := range f.Claims {
		switch c.Kind {
		case "instance":
			if _, ok := f.Nodes[c.NodeName]; ok && c.NodeName != "" && !c.EventRecorded {
				p.Events = append(p.Events, c)
			}
			if f.Now.Sub(c.At) > f.ClaimRetention {
				p.DeleteClaims = append(p.DeleteClaims, Action{Name: c.Name, Instance: c.InstanceID, Reason: ReasonClaimExpired})
			}
		case "nonce":
			if f.Now.Sub(c.Expires) > f.NonceGrace {
				p.DeleteClaims = append(p.DeleteClaims, Action{Name: c.Name, Instance: c.InstanceID, Reason: ReasonNonceExpired})
			}
		}
	}
	byName := func(a, b Action) int { return strings.Compare(a.Name, b.Name) }
	slices.SortFunc(p.DeleteTokens, byName)
	slices.SortFunc(p.DeleteClaims, byName)
	slices.SortFunc(p.Events, func(a, b join.Claim) int { return strings.Compare(a.Name, b.Name) })
	return p
}
