package joincleanup

import (
	"slices"
	"testing"
	"time"

	"github.com/kelp-dev/kelp/internal/bootstrap"
	"github.com/kelp-dev/kelp/internal/join"
)

var now = time.Date(2026, 5, 6, 7, 0, 0, 0, time.UTC)

const (
	instA = "i-0000000000000000a"
	instB = "i-0000000000000000b"
	nodeA = "ip-10-0-0-10.ec2.internal"
	nodeB = "ip-10-0-0-11.ec2.internal"
)

func instanceClaim(id, node string, at time.Time, recorded bool) join.Claim {
	return join.Claim{Name: join.InstanceClaimName(id), Kind: "instance", InstanceID: id, NodeName: node, At: at, EventRecorded: recorded}
}

func names(as []Action) []string {
	out := []string{}
	for _, a := range as {
		out = append(out, a.Name+":"+a.Reason)
	}
	return out
}

func TestDecide(t *testing.T) {
	live := now.Add(10 * time.Minute)
	base := func() Facts {
		return Facts{Now: now, ClaimRetention: time.Hour, NonceGrace: 5 * time.Minute, Nodes: map[string]string{}}
	}
	cases := []struct {
		name                 string
		facts                func(*Facts)
		tokens, claims, evts []string
	}{
		{name: "nothing joined yet: nothing to do", facts: func(f *Facts) {
			f.Tokens = []bootstrap.Token{{ID: "aaaaaa", Instance: instA, Expires: live}}
			f.Claims = []join.Claim{instanceClaim(instA, nodeA, now.Add(-time.Minute), false)}
		}},
		{name: "node registered by providerID: token deleted, join recorded", facts: func(f *Facts) {
			f.Tokens = []bootstrap.Token{{ID: "aaaaaa", Instance: instA, Expires: live}, {ID: "bbbbbb", Instance: instB, Expires: live}}
			f.Claims = []join.Claim{instanceClaim(instA, nodeA, now.Add(-time.Minute), false)}
			f.Nodes[nodeA] = instA
		}, tokens: []string{"aaaaaa:NodeRegistered"}, evts: []string{join.InstanceClaimName(instA)}},
		{name: "node of the claim's name without providerID: token deleted", facts: func(f *Facts) {
			f.Tokens = []bootstrap.Token{{ID: "aaaaaa", Instance: instA, Expires: live}}
			f.Claims = []join.Claim{instanceClaim(instA, nodeA, now.Add(-time.Minute), true)}
			f.Nodes[nodeA] = ""
		}, tokens: []string{"aaaaaa:NodeRegistered"}},
		{name: "another instance's node does not delete the token", facts: func(f *Facts) {
			f.Tokens = []bootstrap.Token{{ID: "aaaaaa", Instance: instA, Expires: live}}
			f.Claims = []join.Claim{instanceClaim(instA, nodeA, now.Add(-time.Minute), false)}
			f.Nodes[nodeB] = instB
		}},
		{name: "expired instance token deleted; pool tokens never", facts: func(f *Facts) {
			f.Tokens = []bootstrap.Token{{ID: "aaaaaa", Instance: instA, Expires: now.Add(-time.Second)},
				{ID: "pppppp", Pool: "workers", Expires: now.Add(-time.Hour)}, {ID: "qqqqqq", Pool: "workers"}}
			f.Nodes[nodeB] = instB
		}, tokens: []string{"aaaaaa:TokenExpired"}},
		{name: "event recorded once", facts: func(f *Facts) {
			f.Claims = []join.Claim{instanceClaim(instA, nodeA, now.Add(-time.Minute), true)}
			f.Nodes[nodeA] = instA
		}},
		{name: "old instance claim and expired nonce claims deleted", facts: func(f *Facts) {
			f.Claims = []join.Claim{instanceClaim(instA, nodeA, now.Add(-time.Hour-time.Second), true),
				instanceClaim(instB, nodeB, now.Add(-time.Hour), false),
				{Name: join.NonceClaimName("n1"), Kind: "nonce", Expires: now.Add(-5*time.Minute - time.Second)},
				{Name: join.NonceClaimName("n2"), Kind: "nonce", Expires: now.Add(-5 * time.Minute)}}
		}, claims: []string{join.InstanceClaimName(instA) + ":ClaimExpired", join.NonceClaimName("n1") + ":NonceExpired"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := base()
			tc.facts(&f)
			p := Decide(f)
			var evts []string
			for _, c := range p.Events {
				evts = append(evts, c.Name)
			}
			if got := names(p.DeleteTokens); !slices.Equal(got, append([]string{}, tc.tokens...)) {
				t.Errorf("tokens %q, want %q", got, tc.tokens)
			}
			if got := names(p.DeleteClaims); !slices.Equal(got, append([]string{}, tc.claims...)) {
				t.Errorf("claims %q, want %q", got, tc.claims)
			}
			if !slices.Equal(evts, tc.evts) {
				t.Errorf("events %q, want %q", evts, tc.evts)
			}
		})
	}
}
