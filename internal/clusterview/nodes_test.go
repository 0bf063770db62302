package clusterview

import (
	"maps"
	"strings"
	"testing"

	certificatesv1 "k8s.io/api/certificates/v1"

	"github.com/kelp-dev/kelp/internal/cloud"
)

// TestCSRPendingPool: a pending CSR counts under its pool — named by its
// token's pool group, or by the instance of its per-instance token among
// the cloud's groups — as csr-pending, not launching; when the pool is
// unknown, the node says so.
func TestCSRPendingPool(t *testing.T) {
	const instanceGroup = "system:bootstrappers:kelp:instance:"
	groups := []cloud.NodeGroup{{ID: "kelp-local-general", Pool: "general", MaxSize: 5, TargetSize: 3, Instances: []cloud.Instance{
		{ID: "i-0000000000000001", PrivateDNSName: "ip-127-4-0-1", State: cloud.InstanceStatePending},
		{ID: "i-0000000000000002", PrivateDNSName: "ip-127-4-0-2", State: cloud.InstanceStatePending},
		{ID: "i-0000000000000003", PrivateDNSName: "ip-127-4-0-3", State: cloud.InstanceStatePending},
	}}}
	threeByInstance := func(t *testing.T) []*certificatesv1.CertificateSigningRequest {
		var out []*certificatesv1.CertificateSigningRequest
		for _, n := range []string{"1", "2", "3"} {
			out = append(out, csr(t, "csr-"+n, "ip-127-4-0-"+n, "system:bootstrap:abc12"+n,
				[]string{"system:bootstrappers", "system:bootstrappers:kelp", instanceGroup + "i-000000000000000" + n}))
		}
		return out
	}
	tests := []struct {
		name       string
		in         func(t *testing.T) Input
		wantPool   string // of every csr-pending node
		wantNote   string // in every csr-pending node's reason
		wantPhases map[Phase]int
	}{{
		name: "pool token: the pool group names the pool",
		in: func(t *testing.T) Input {
			return Input{Now: now, Status: status, CSRs: []*certificatesv1.CertificateSigningRequest{
				csr(t, "csr-a", "ip-10-0-0-7", "system:bootstrap:abcdef", []string{"system:bootstrappers:kelp", "system:bootstrappers:kelp:general"})}}
		},
		wantPool:   "general",
		wantPhases: map[Phase]int{PhaseCSRPending: 1, PhaseLaunching: 4},
	}, {
		name:       "identity join on the leader: the instance's group names the pool",
		in:         func(t *testing.T) Input { return Input{Now: now, Groups: groups, CSRs: threeByInstance(t)} },
		wantPool:   "general",
		wantPhases: map[Phase]int{PhaseCSRPending: 3},
	}, {
		name: "identity join, instance unknown to the groups: the node name finds it",
		in: func(t *testing.T) Input {
			return Input{Now: now, Groups: groups, CSRs: []*certificatesv1.CertificateSigningRequest{
				csr(t, "csr-x", "ip-127-4-0-2", "system:bootstrap:abc123", []string{instanceGroup + "i-00000000000000ff"})}}
		},
		wantPool:   "general",
		wantPhases: map[Phase]int{PhaseCSRPending: 1, PhaseLaunching: 2},
	}, {
		name:       "identity join without the cloud (kelp status): pool unknown, said so",
		in:         func(t *testing.T) Input { return Input{Now: now, Status: status, CSRs: threeByInstance(t)} },
		wantNote:   "pool unknown: identity join of instance i-000000000000000",
		wantPhases: map[Phase]int{PhaseLaunching: 5},
	}, {
		name: "identity join of an instance in no group",
		in: func(t *testing.T) Input {
			return Input{Now: now, Groups: groups, CSRs: []*certificatesv1.CertificateSigningRequest{
				csr(t, "csr-x", "ip-9-9-9-9", "system:bootstrap:abc123", []string{instanceGroup + "i-00000000000000ff"})}}
		},
		wantNote:   "pool unknown: instance i-00000000000000ff is in no group",
		wantPhases: map[Phase]int{PhaseLaunching: 3},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := Build(tt.in(t))
			pending := 0
			for _, n := range v.Nodes {
				if n.Phase != PhaseCSRPending {
					continue
				}
				pending++
				if n.Pool != tt.wantPool || !strings.Contains(n.Reason, tt.wantNote) {
					t.Errorf("node %s: pool %q reason %q, want pool %q and a reason saying %q", n.Name, n.Pool, n.Reason, tt.wantPool, tt.wantNote)
				}
			}
			if pending == 0 {
				t.Fatalf("no csr-pending node in %+v", v.Nodes)
			}
			for _, p := range v.Pools {
				if p.Name == "general" && !maps.Equal(p.Phases, tt.wantPhases) {
					t.Errorf("pool general phases %v, want %v", p.Phases, tt.wantPhases)
				}
			}
		})
	}
}
