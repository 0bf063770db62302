package join_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/kelp-dev/kelp/internal/join"
)

// TestClaimOf: an instance claim made by InstanceClaim reads back with
// every fact its checks passed on; a claim of an older kelp (without them)
// reads with zero checks; a recorded fact that does not parse is an error
// naming it.
func TestClaimOf(t *testing.T) {
	d := join.Decision{InstanceID: instA, NodeName: dnsName(instA), Pool: "workers", Group: "asg-workers",
		ProfileRoles: []string{"kelp-node", "extra"}, LaunchTime: start.Add(-3 * time.Minute), JoinWindow: 30 * time.Minute}
	id := join.Identity{ARN: callerA.arn, Role: "kelp-node", InstanceID: instA}
	c := join.Checked{NonceID: "n1", NonceExpires: start.Add(5 * time.Minute), SignedAt: start.Add(-2 * time.Second),
		Freshness: 5 * time.Minute, STSEndpoint: "https://sts.us-east-1.amazonaws.com"}
	want := join.Claim{Name: join.InstanceClaimName(instA), Kind: "instance", InstanceID: instA, NodeName: d.NodeName,
		ARN: id.ARN, Pool: "workers", At: start, Checks: join.ClaimChecks{STSEndpoint: c.STSEndpoint, Role: "kelp-node",
			ProfileRoles: d.ProfileRoles, Group: "asg-workers", LaunchTime: d.LaunchTime, JoinWindow: d.JoinWindow,
			SignedAt: c.SignedAt, Freshness: c.Freshness, NonceID: "n1", NonceExpires: c.NonceExpires}}
	older := want
	older.Checks = join.ClaimChecks{NonceID: "n1"}
	tests := []struct {
		name    string
		change  func(cm *corev1.ConfigMap)
		want    join.Claim
		wantErr string
	}{
		{name: "recorded by this kelp", change: func(*corev1.ConfigMap) {}, want: want},
		{name: "recorded by an older kelp", want: older, change: func(cm *corev1.ConfigMap) {
			for _, k := range []string{"role", "profileRoles", "group", "launched", "joinWindow", "signedAt", "freshness", "nonceExpires", "stsEndpoint"} {
				delete(cm.Data, k)
			}
		}},
		{name: "launch time garbled", wantErr: "launched", change: func(cm *corev1.ConfigMap) { cm.Data["launched"] = "yesterday" }},
		{name: "window garbled", wantErr: "joinWindow", change: func(cm *corev1.ConfigMap) { cm.Data["joinWindow"] = "long" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cm := join.InstanceClaim(d, id, c, start)
			tt.change(cm)
			got, err := join.ClaimOf(cm)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ClaimOf error %v, want one naming %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ClaimOf =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}
