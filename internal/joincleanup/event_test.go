package joincleanup

import (
	"strings"
	"testing"
	"time"

	"github.com/kelp-dev/kelp/internal/join"
)

// TestEventMessage: the IdentityJoined Event names the caller and every
// check, with the facts the claim recorded (none from an older claim).
func TestEventMessage(t *testing.T) {
	arn := "arn:aws:sts::123456789012:assumed-role/kelp-node/" + instA
	base := join.Claim{InstanceID: instA, ARN: arn, Pool: "workers", At: now}
	recorded := base
	recorded.Checks = join.ClaimChecks{Role: "kelp-node", ProfileRoles: []string{"kelp-node"}, LaunchTime: now.Add(-2 * time.Minute),
		JoinWindow: 30 * time.Minute, SignedAt: now.Add(-time.Second), Freshness: 5 * time.Minute, NonceID: "n1"}
	tests := []struct {
		name  string
		claim join.Claim
		wants []string
	}{
		{"older claim", base, []string{"instance " + instA + " joined by identity at 2026-05-06T07:00:00Z as " + arn,
			"fresh, nonce issued by kelp", "the instance profile carries the role", "in kelp pool workers", "launched within the join window"}},
		{"claim with its facts", recorded, []string{"to the configured STS at 2026-05-06T06:59:59Z (freshness window 5m0s), nonce n1 issued by kelp and used once",
			"the instance profile's roles (kelp-node) carry the role kelp-node",
			"launched at 2026-05-06T06:58:00Z, within the join window of 30m0s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := EventMessage(tt.claim)
			for _, w := range tt.wants {
				if !strings.Contains(msg, w) {
					t.Errorf("message lacks %q:\n%s", w, msg)
				}
			}
		})
	}
}
