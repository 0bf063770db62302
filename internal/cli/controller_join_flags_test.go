package cli

import (
	"slices"
	"testing"

	"github.com/kelp-dev/kelp/internal/testenv"
)

// TestControllerJoinFlags: the join endpoint is off without --join-addr;
// with it, the flags reach its options and bad ones are refused by name.
func TestControllerJoinFlags(t *testing.T) {
	o, err := parseControllerFlags(t).options("dev")
	if err != nil || o.Join != nil {
		t.Fatalf("defaults: join %+v %v, want off", o.Join, err)
	}
	o, err = parseControllerFlags(t, "--join-addr=:8443", "--join-sts-endpoint=https://sts.us-east-1.amazonaws.com",
		"--join-roles=kelp-node,kelp-gpu", "--join-cert-hosts=kelp.example.com,10.0.0.5", "--join-account=123456789012",
		"--join-rate-limit=50", "--join-burst=300").options("dev")
	if err != nil || o.Join == nil || o.Join.Addr != ":8443" || o.Join.RateLimit != 50 || o.Join.Burst != 300 || !slices.Equal(o.Join.Policy.AllowedRoles, []string{"kelp-node", "kelp-gpu"}) ||
		o.Join.Policy.Account != "123456789012" || !slices.Equal(o.Join.Hosts, []string{"kelp.example.com", "10.0.0.5"}) {
		t.Fatalf("set: %+v %v", o.Join, err)
	}
	if err := o.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	o, err = parseControllerFlags(t, "--join-addr=8443", "--join-sts-endpoint=http://sts.example.com", "--join-cert-file=c.pem",
		"--join-rate-limit=-1", "--join-burst=-2").options("dev")
	if err != nil {
		t.Fatal(err)
	}
	testenv.ErrorContains(t, o.Validate(), `join address "8443"`, `sts endpoint "http://sts.example.com": want https://`,
		"allowed roles: name at least one", `join cert file "c.pem" and key file "": give both or neither`,
		"join rate limit -1: must not be negative", "join burst -2: must not be negative")
	o, _ = parseControllerFlags(t, "--join-addr=:8443", "--join-sts-endpoint=https://sts.us-east-1.amazonaws.com", "--join-roles=r").options("dev")
	testenv.ErrorContains(t, o.Validate(), "join cert hosts: name the host names or addresses")
}
