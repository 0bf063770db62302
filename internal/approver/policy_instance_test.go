package approver

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/kelp-dev/kelp/internal/bootstrap"
	"github.com/kelp-dev/kelp/internal/cloud"
)

// Issue 17: a token bound to one instance (an identity join) may join
// only that instance's node name, with every cloud check on top.

// boundGroups are the groups of a token bound to instance id.
func boundGroups(id string) []string {
	return []string{"system:bootstrappers", bootstrap.GroupPrefix, bootstrap.InstanceGroup(id), "system:authenticated"}
}

// bound is join with the token bound to testInstance.
func bound(s reqSpec, mut func(*Facts)) func(t *testing.T) Facts {
	return join(s, func(f *Facts) {
		f.CSR.Spec.Groups = boundGroups(testInstance)
		if mut != nil {
			mut(f)
		}
	})
}

// peerInstance is another fresh instance of pool "workers", owning testPeer.
func peerInstance() cloud.Instance {
	p := freshInstance()
	p.ID, p.ProviderID, p.PrivateDNSName, p.PrivateIPs = "i-0bbbbbbbbbbbbbbb2", "aws:///us-east-1a/i-0bbbbbbbbbbbbbbb2", testPeer, []string{"10.0.0.2"}
	return p
}

func instanceTokenCases() []policyCase {
	return []policyCase{
		{"instance token: its own node name", bound(reqSpec{}, nil), ActionApprove, ReasonApproved},
		{"instance token: its own name, another CSR pending for it", bound(reqSpec{}, func(f *Facts) {
			f.ContestingCSRs = []string{"node-csr-other"}
		}), ActionApprove, ReasonApproved},
		{"instance token: another instance's node name", bound(reqSpec{subject: peerSubject()}, func(f *Facts) {
			f.InstancesByName = []cloud.Instance{peerInstance()}
		}), ActionDeny, ReasonInstanceTokenNameMismatch},
		{"instance token: the name of another, terminated instance", bound(reqSpec{subject: peerSubject()}, func(f *Facts) {
			p := peerInstance()
			p.State = cloud.InstanceStateTerminated
			f.InstancesByName = []cloud.Instance{p}
		}), ActionDeny, ReasonInstanceTokenNameMismatch},
		{"instance token: another instance's name, its Node registered", bound(reqSpec{subject: peerSubject()}, func(f *Facts) {
			p := peerInstance()
			f.InstancesByName, f.Node, f.NodeInstance = []cloud.Instance{p}, nodeFor(testPeer, p), &p
		}), ActionDeny, ReasonInstanceTokenNameMismatch},
		{"instance token: a name no instance has (yet)", bound(reqSpec{subject: peerSubject()}, func(f *Facts) {
			f.InstancesByName = nil
		}), ActionPending, ReasonInstanceNotFound},
		{"instance token: a name no instance has, after the join window", bound(reqSpec{subject: peerSubject()}, func(f *Facts) {
			f.InstancesByName, f.Now = nil, csrCreate.Add(DefaultJoinWindow+time.Second)
		}), ActionDeny, ReasonInstanceNotFound},
		{"instance token: instance of another cluster's pool", bound(reqSpec{}, setInstance(func(i *cloud.Instance) {
			i.GroupName = "other-cluster-workers"
		})), ActionDeny, ReasonInstanceNotManaged},
		{"instance token: instance in a managed group of no pool", bound(reqSpec{}, setInstance(func(i *cloud.Instance) {
			i.GroupName = testPlainGroup
		})), ActionDeny, ReasonPoolMismatch},
		{"instance token: instance of another pool of this cluster", bound(reqSpec{}, setInstance(func(i *cloud.Instance) {
			i.GroupName = testGPUGroup
		})), ActionApprove, ReasonApproved},
		{"instance token: instance launched 2h ago", bound(reqSpec{}, setInstance(func(i *cloud.Instance) {
			i.LaunchTime = t0.Add(-2 * time.Hour)
		})), ActionDeny, ReasonInstanceTooOld},
		{"instance token: instance terminating", bound(reqSpec{}, setInstance(func(i *cloud.Instance) {
			i.State = cloud.InstanceStateTerminating
		})), ActionDeny, ReasonInstanceNotRunning},
		{"instance token: instance joined before", bound(reqSpec{}, func(f *Facts) {
			f.PriorApprovals = map[string]Approval{testInstance: {CSRName: "node-csr-old", CSRUID: "uid-old", At: t0.Add(-4 * time.Minute)}}
		}), ActionDeny, ReasonAlreadyJoined},
		{"instance token: its Node exists", bound(reqSpec{}, func(f *Facts) {
			inst := freshInstance()
			f.Node, f.NodeInstance = nodeFor(testNode, inst), &inst
		}), ActionDeny, ReasonNodeExists},
		{"instance token: cloud down", bound(reqSpec{}, func(f *Facts) {
			f.CloudErr, f.InstancesByName, f.ManagedGroups = errors.New("throttled"), nil, nil
		}), ActionPending, ReasonCloudUnavailable},
		{"instance token with a pool group too", bound(reqSpec{}, func(f *Facts) {
			f.CSR.Spec.Groups = append(f.CSR.Spec.Groups, bootstrap.PoolGroup(testPool))
		}), ActionDeny, ReasonBadPoolGroup},
		{"instance token naming two instances", bound(reqSpec{}, func(f *Facts) {
			f.CSR.Spec.Groups = append(f.CSR.Spec.Groups, bootstrap.InstanceGroup("i-0bbbbbbbbbbbbbbb2"))
		}), ActionDeny, ReasonBadPoolGroup},
		{"instance group of no instance id", bound(reqSpec{}, func(f *Facts) {
			f.CSR.Spec.Groups = boundGroups("node-1")
		}), ActionDeny, ReasonBadPoolGroup},
	}
}

// TestDecideInstanceTokenChecks: the approval of a bound token says so,
// and a mismatch names both instances.
func TestDecideInstanceTokenChecks(t *testing.T) {
	v := Decide(bound(reqSpec{}, nil)(t))
	if v.Action != ActionApprove || v.InstanceID != testInstance || !slices.ContainsFunc(v.Checks, func(c Check) bool {
		return c.Name == "instance-token" && c.Status == CheckPassed
	}) {
		t.Fatalf("Decide = %s, checks %+v; want approved with check instance-token passed", v, v.Checks)
	}
	f := bound(reqSpec{subject: peerSubject()}, func(f *Facts) { f.InstancesByName = []cloud.Instance{peerInstance()} })(t)
	v = Decide(f)
	want := "the bootstrap token is bound to instance " + testInstance + ", but node name " + testPeer + " is instance i-0bbbbbbbbbbbbbbb2's"
	if v.Message != want {
		t.Fatalf("message %q, want %q", v.Message, want)
	}
	if sv, final := Screen(f); final {
		t.Fatalf("Screen is final (%s) for a bound token's CSR: the binding needs the cloud", sv)
	}
}

// TestGatherBoundTokenNeitherContestsNorIsContested: a pending CSR of a
// token bound to an instance contests no CSR for the same name (its holder
// could otherwise block joins of its pool), and no CSR contests it: it is
// approved for its own instance's name only.
func TestGatherBoundTokenNeitherContestsNorIsContested(t *testing.T) {
	w := newGatherWorld(NewScreenCache())
	pooled := newNodeFacts(t, reqSpec{}).CSR
	boundCSR := pooled.DeepCopy()
	boundCSR.Spec.Groups = boundGroups(testInstance)
	mine := w.add(boundCSR, 0)
	rival := w.add(pooled, 1)
	w.add(pooled, 2)
	other := boundCSR.DeepCopy()
	other.Spec.Groups = boundGroups("i-0bbbbbbbbbbbbbbb2")
	w.add(other, 3)
	v, f, _ := w.decide(t, mine)
	if v.Action != ActionApprove || len(f.ContestingCSRs) != 0 {
		t.Fatalf("bound token's CSR: %s, contesting %q; want approved, none contesting", v, f.ContestingCSRs)
	}
	if _, f, _ := w.decide(t, rival); !slices.Equal(f.ContestingCSRs, []string{"csr-002"}) {
		t.Fatalf("pool token's CSR contested by %q, want only the other pool token's csr-002", f.ContestingCSRs)
	}
}
