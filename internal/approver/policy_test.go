package approver

import (
	"bytes"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/testenv"
)

type policyCase struct {
	name   string
	facts  func(t *testing.T) Facts
	action Action
	reason string
}

// join is a new-node case built from request spec s, then changed by mut.
func join(s reqSpec, mut func(*Facts)) func(t *testing.T) Facts {
	return func(t *testing.T) Facts {
		f := newNodeFacts(t, s)
		if mut != nil {
			mut(&f)
		}
		return f
	}
}

func renew(s reqSpec, mut func(*Facts)) func(t *testing.T) Facts {
	return func(t *testing.T) Facts {
		f := renewalFacts(t, s)
		if mut != nil {
			mut(&f)
		}
		return f
	}
}

func serve(s reqSpec, mut func(*Facts)) func(t *testing.T) Facts {
	return func(t *testing.T) Facts {
		f := servingFacts(t, s)
		if mut != nil {
			mut(&f)
		}
		return f
	}
}

// withRequest replaces spec.request by what build returns from the valid
// PEM.
func withRequest(build func(valid []byte) []byte) func(t *testing.T) Facts {
	return func(t *testing.T) Facts {
		f := newNodeFacts(t, reqSpec{})
		f.CSR.Spec.Request = build(f.CSR.Spec.Request)
		return f
	}
}

func setInstance(mut func(*cloud.Instance)) func(*Facts) {
	return func(f *Facts) { mut(&f.InstancesByName[0]) }
}

func peerSubject() *pkix.Name { s := nodeSubject(testPeer); return &s }

func subjectWith(mut func(*pkix.Name)) *pkix.Name {
	s := nodeSubject(testNode)
	mut(&s)
	return &s
}

// newNodeCases are the legitimate first joins that must be approved.
func newNodeCases() []policyCase {
	return []policyCase{
		{"new node: valid P-256", join(reqSpec{}, nil), ActionApprove, ReasonApproved},
		{"new node: valid P-384", join(reqSpec{key: "p384"}, nil), ActionApprove, ReasonApproved},
		{"new node: valid RSA 2048 with key encipherment", join(reqSpec{key: "rsa2048"}, func(f *Facts) {
			f.CSR.Spec.Usages = append(f.CSR.Spec.Usages, certificatesv1.UsageKeyEncipherment)
		}), ActionApprove, ReasonApproved},
		{"new node: duplicate usages are irrelevant", join(reqSpec{}, func(f *Facts) {
			f.CSR.Spec.Usages = []certificatesv1.KeyUsage{"client auth", "digital signature", "client auth"}
		}), ActionApprove, ReasonApproved},
		{"new node: instance still pending", join(reqSpec{}, setInstance(func(i *cloud.Instance) { i.State = cloud.InstanceStatePending })), ActionApprove, ReasonApproved},
		{"new node: expirationSeconds at the cap", join(reqSpec{}, func(f *Facts) {
			f.CSR.Spec.ExpirationSeconds = ptr(int32(DefaultMaxExpiration / time.Second))
		}), ActionApprove, ReasonApproved},
		{"new node: stale Node whose instance is terminated", join(reqSpec{}, func(f *Facts) {
			old := freshInstance()
			old.ID, old.ProviderID, old.State = "i-0old", "aws:///us-east-1a/i-0old", cloud.InstanceStateTerminated
			f.Node, f.NodeInstance = nodeFor(testNode, old), &old
		}), ActionApprove, ReasonApproved},
		{"new node: stale Node whose instance is gone", join(reqSpec{}, func(f *Facts) {
			f.Node = nodeFor(testNode, cloud.Instance{ProviderID: "aws:///us-east-1a/i-0gone"})
		}), ActionApprove, ReasonApproved},
		{"new node: the same CSR was approved and recorded", join(reqSpec{}, func(f *Facts) {
			f.PriorApprovals = map[string]Approval{testInstance: {CSRName: "csr-test", CSRUID: "uid-test", At: t0}}
		}), ActionApprove, ReasonApproved},
		{"new node: last one within the flood headroom", join(reqSpec{}, func(f *Facts) {
			f.PendingAhead, f.PendingNodeCSRs = f.Nodes+DefaultFloodHeadroom-1, 5*DefaultFloodHeadroom
		}), ActionApprove, ReasonApproved},
	}
}

func requestCases() []policyCase {
	return []policyCase{
		{"two PEM blocks", withRequest(func(v []byte) []byte { return append(append([]byte{}, v...), v...) }), ActionDeny, ReasonMalformedPEM},
		{"trailing garbage", withRequest(func(v []byte) []byte { return append(append([]byte{}, v...), "garbage"...) }), ActionDeny, ReasonMalformedPEM},
		{"leading garbage", withRequest(func(v []byte) []byte { return append([]byte("hello\n"), v...) }), ActionDeny, ReasonMalformedPEM},
		{"a PRIVATE KEY block instead", withRequest(func([]byte) []byte { return pemBlock("PRIVATE KEY", []byte{0x30, 0}) }), ActionDeny, ReasonMalformedPEM},
		{"a PRIVATE KEY block after the request", withRequest(func(v []byte) []byte {
			return append(append([]byte{}, v...), pemBlock("PRIVATE KEY", []byte{0x30, 0})...)
		}), ActionDeny, ReasonMalformedPEM},
		{"a broken block before the request", withRequest(func(v []byte) []byte {
			return append([]byte("-----BEGIN CERTIFICATE REQUEST-----\nnot base64\n"), v...)
		}), ActionDeny, ReasonMalformedPEM},
		{"PEM headers", withRequest(func(v []byte) []byte {
			return bytes.Replace(v, []byte("-----\n"), []byte("-----\nProc-Type: 4,ENCRYPTED\n\n"), 1)
		}), ActionDeny, ReasonMalformedPEM},
		{"empty request", withRequest(func([]byte) []byte { return nil }), ActionDeny, ReasonMalformedPEM},
		{"not DER inside", withRequest(func([]byte) []byte { return pemBlock(csrBlockType, []byte("not der")) }), ActionDeny, ReasonMalformedRequest},
		{"signature does not verify", func(t *testing.T) Facts {
			f := newNodeFacts(t, reqSpec{})
			der := reqSpec{}.der(t)
			der[len(der)-1] ^= 0xff
			f.CSR.Spec.Request = pemBlock(csrBlockType, der)
			return f
		}, ActionDeny, ReasonBadSignature},
		{"ECDSA P-224 key", join(reqSpec{key: "p224"}, nil), ActionDeny, ReasonWeakKey},
		{"RSA 1024 key", join(reqSpec{key: "rsa1024"}, nil), ActionDeny, ReasonWeakKey},
		{"CN without system:node:", join(reqSpec{subject: subjectWith(func(n *pkix.Name) { n.CommonName = testNode })}, nil), ActionDeny, ReasonBadCommonName},
		{"CN with an invalid node name", join(reqSpec{subject: subjectWith(func(n *pkix.Name) { n.CommonName = "system:node:../etc" })}, nil), ActionDeny, ReasonBadCommonName},
		{"O system:masters", join(reqSpec{subject: subjectWith(func(n *pkix.Name) { n.Organization = []string{"system:masters"} })}, nil), ActionDeny, ReasonBadOrganization},
		{"O system:nodes plus system:masters", join(reqSpec{subject: subjectWith(func(n *pkix.Name) {
			n.Organization = []string{nodesGroup, "system:masters"}
		})}, nil), ActionDeny, ReasonBadOrganization},
		{"extra OU", join(reqSpec{subject: subjectWith(func(n *pkix.Name) { n.OrganizationalUnit = []string{"ops"} })}, nil), ActionDeny, ReasonExtraSubjectFields},
		{"extra country and serial number", join(reqSpec{subject: subjectWith(func(n *pkix.Name) {
			n.Country, n.SerialNumber = []string{"CH"}, "42"
		})}, nil), ActionDeny, ReasonExtraSubjectFields},
		{"extra name attribute", join(reqSpec{subject: subjectWith(func(n *pkix.Name) {
			n.ExtraNames = []pkix.AttributeTypeAndValue{{Type: asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 1}, Value: "uid"}}
		})}, nil), ActionDeny, ReasonExtraSubjectFields},
		{"DNS SAN on a client CSR", join(reqSpec{dns: []string{testNode}}, nil), ActionDeny, ReasonSANNotAllowed},
		{"IP SAN on a client CSR", join(reqSpec{ips: []string{testIP}}, nil), ActionDeny, ReasonSANNotAllowed},
		{"email SAN on a client CSR", join(reqSpec{emails: []string{"a@example.com"}}, nil), ActionDeny, ReasonSANNotAllowed},
		{"URI SAN on a client CSR", join(reqSpec{uris: []string{"spiffe://example/node"}}, nil), ActionDeny, ReasonSANNotAllowed},
		{"requested basic constraints CA", func(t *testing.T) Facts {
			return join(reqSpec{exts: []pkix.Extension{basicConstraintsCA(t)}}, nil)(t)
		}, ActionDeny, ReasonExtensionNotAllowed},
		{"challengePassword attribute", join(reqSpec{attrs: []pkix.AttributeTypeAndValueSET{{
			Type:  asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 7},
			Value: [][]pkix.AttributeTypeAndValue{{{Type: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 7}, Value: "secret"}}},
		}}}, nil), ActionDeny, ReasonExtensionNotAllowed},
		{"server auth on a client CSR", join(reqSpec{}, func(f *Facts) {
			f.CSR.Spec.Usages = append(f.CSR.Spec.Usages, certificatesv1.UsageServerAuth)
		}), ActionDeny, ReasonBadUsages},
		{"client auth missing", join(reqSpec{}, func(f *Facts) {
			f.CSR.Spec.Usages = []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature}
		}), ActionDeny, ReasonBadUsages},
		{"no usages", join(reqSpec{}, func(f *Facts) { f.CSR.Spec.Usages = nil }), ActionDeny, ReasonBadUsages},
		{"expirationSeconds beyond the cap", join(reqSpec{}, func(f *Facts) {
			f.CSR.Spec.ExpirationSeconds = ptr(int32(DefaultMaxExpiration/time.Second) + 1)
		}), ActionDeny, ReasonBadExpiration},
		{"expirationSeconds below 600", join(reqSpec{}, func(f *Facts) { f.CSR.Spec.ExpirationSeconds = ptr(int32(599)) }), ActionDeny, ReasonBadExpiration},
	}
}

func requestorAndFactCases() []policyCase {
	return []policyCase{
		// Was Deny UnexpectedRequestor before kelp decided only its own CSRs.
		{"requestor is a service account", join(reqSpec{}, func(f *Facts) {
			f.CSR.Spec.Username = "system:serviceaccount:openshift-infra:node-bootstrapper"
		}), ActionIgnore, ReasonNotKelpRequestor},
		{"kelp groups but no bootstrap token id", join(reqSpec{}, func(f *Facts) { f.CSR.Spec.Username = "system:bootstrap:ABCDEF" }), ActionDeny, ReasonUnexpectedRequestor},
		{"token of another pool", join(reqSpec{}, func(f *Facts) { f.CSR.Spec.Groups[2] = "system:bootstrappers:kelp:gpu" }), ActionDeny, ReasonPoolMismatch},
		{"token without a pool group", join(reqSpec{}, func(f *Facts) { f.CSR.Spec.Groups = f.CSR.Spec.Groups[:2] }), ActionDeny, ReasonBadPoolGroup},
		{"token with two pool groups", join(reqSpec{}, func(f *Facts) {
			f.CSR.Spec.Groups = append(f.CSR.Spec.Groups, "system:bootstrappers:kelp:gpu")
		}), ActionDeny, ReasonBadPoolGroup},
		// The cloud and the cluster.
		{"CN of an established peer", join(reqSpec{subject: peerSubject()}, func(f *Facts) {
			peer := freshInstance()
			peer.ID, peer.PrivateDNSName, peer.LaunchTime = "i-0peer", testPeer, t0.Add(-72*time.Hour)
			f.InstancesByName = []cloud.Instance{peer}
		}), ActionDeny, ReasonInstanceTooOld},
		{"instance in an unmanaged group", join(reqSpec{}, setInstance(func(i *cloud.Instance) { i.GroupName = "someone-elses-asg" })), ActionDeny, ReasonInstanceNotManaged},
		{"instance in no group", join(reqSpec{}, setInstance(func(i *cloud.Instance) { i.GroupName = "" })), ActionDeny, ReasonInstanceNotManaged},
		{"no managed groups", join(reqSpec{}, func(f *Facts) { f.ManagedGroups = nil }), ActionDeny, ReasonInstanceNotManaged},
		{"instance in another pool's group", join(reqSpec{}, setInstance(func(i *cloud.Instance) { i.GroupName = testGPUGroup })), ActionDeny, ReasonPoolMismatch},
		{"instance in a managed group of no pool", join(reqSpec{}, setInstance(func(i *cloud.Instance) { i.GroupName = testPlainGroup })), ActionDeny, ReasonPoolMismatch},
		{"instance tagged with the token's pool in another pool's group", join(reqSpec{}, setInstance(func(i *cloud.Instance) {
			i.GroupName, i.Pool = testGPUGroup, testPool // the policy reads the group's pool, not the instance's tag
		})), ActionDeny, ReasonPoolMismatch},
		{"instance terminated", join(reqSpec{}, setInstance(func(i *cloud.Instance) { i.State = cloud.InstanceStateTerminated })), ActionDeny, ReasonInstanceNotRunning},
		{"instance terminating", join(reqSpec{}, setInstance(func(i *cloud.Instance) { i.State = cloud.InstanceStateTerminating })), ActionDeny, ReasonInstanceNotRunning},
		{"instance state unknown", join(reqSpec{}, setInstance(func(i *cloud.Instance) { i.State = cloud.InstanceStateUnknown })), ActionPending, ReasonInstanceNotRunning},
		{"instance launched 2h ago", join(reqSpec{}, setInstance(func(i *cloud.Instance) { i.LaunchTime = t0.Add(-2 * time.Hour) })), ActionDeny, ReasonInstanceTooOld},
		{"instance launched after the CSR", join(reqSpec{}, setInstance(func(i *cloud.Instance) { i.LaunchTime = csrCreate.Add(time.Second) })), ActionDeny, ReasonLaunchedAfterCSR},
		{"two instances with the name", join(reqSpec{}, func(f *Facts) {
			twin := freshInstance()
			twin.ID = "i-0twin"
			f.InstancesByName = append(f.InstancesByName, twin)
		}), ActionDeny, ReasonDuplicateInstances},
		{"instance fact of another name", join(reqSpec{}, setInstance(func(i *cloud.Instance) { i.PrivateDNSName = testPeer })), ActionDeny, ReasonInstanceNameMismatch},
		{"existing Node of a running instance", join(reqSpec{}, func(f *Facts) {
			inst := freshInstance()
			f.Node, f.NodeInstance = nodeFor(testNode, inst), &inst
		}), ActionDeny, ReasonNodeExists},
		{"existing Node without providerID", join(reqSpec{}, func(f *Facts) { f.Node = nodeFor(testNode, cloud.Instance{}) }), ActionDeny, ReasonNodeExists},
		{"replay after join (approval recorded)", join(reqSpec{}, func(f *Facts) {
			f.PriorApprovals = map[string]Approval{testInstance: {CSRName: "node-csr-old", CSRUID: "uid-old", At: t0.Add(-4 * time.Minute)}}
		}), ActionDeny, ReasonAlreadyJoined},
		{"cloud error", join(reqSpec{}, func(f *Facts) { f.CloudErr, f.InstancesByName = errors.New("throttled"), nil }), ActionPending, ReasonCloudUnavailable},
		{"cloud error after the join window", join(reqSpec{}, func(f *Facts) {
			f.CloudErr, f.InstancesByName, f.Now = errors.New("throttled"), nil, csrCreate.Add(DefaultJoinWindow)
		}), ActionDeny, ReasonCloudUnavailable},
		{"instance not visible yet", join(reqSpec{}, func(f *Facts) { f.InstancesByName = nil }), ActionPending, ReasonInstanceNotFound},
		{"instance never visible within the join window", join(reqSpec{}, func(f *Facts) {
			f.InstancesByName, f.Now = nil, csrCreate.Add(DefaultJoinWindow+time.Second)
		}), ActionDeny, ReasonInstanceNotFound},
		{"beyond the flood headroom", join(reqSpec{}, func(f *Facts) {
			f.PendingAhead, f.PendingNodeCSRs = f.Nodes+DefaultFloodHeadroom, f.Nodes+DefaultFloodHeadroom+1
		}), ActionPending, ReasonFloodControl},
		{"already approved", join(reqSpec{}, func(f *Facts) {
			f.CSR.Status.Conditions = []certificatesv1.CertificateSigningRequestCondition{{Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue}}
		}), ActionIgnore, ReasonAlreadyDecided},
	}
}

func renewalCases() []policyCase {
	return []policyCase{
		{"renewal: valid", renew(reqSpec{}, nil), ActionApprove, ReasonApproved},
		{"renewal by another node", renew(reqSpec{}, func(f *Facts) { f.CSR.Spec.Username = nodeNamePrefix + testPeer }), ActionDeny, ReasonRequestorMismatch},
		{"renewal for a node whose instance is terminated", renew(reqSpec{}, func(f *Facts) { f.NodeInstance.State = cloud.InstanceStateTerminated }), ActionDeny, ReasonInstanceNotRunning},
		{"renewal for a node whose instance is gone", renew(reqSpec{}, func(f *Facts) { f.NodeInstance = nil }), ActionDeny, ReasonInstanceNotFound},
		{"renewal for a deleted Node", renew(reqSpec{}, func(f *Facts) { f.Node, f.NodeInstance = nil, nil }), ActionDeny, ReasonNodeNotFound},
		{"renewal of an unmanaged instance", renew(reqSpec{}, func(f *Facts) { f.NodeInstance.GroupName = "someone-elses-asg" }), ActionDeny, ReasonInstanceNotManaged},
		{"renewal whose Node is another instance's name", renew(reqSpec{}, func(f *Facts) { f.NodeInstance.PrivateDNSName = testPeer }), ActionDeny, ReasonNodeInstanceMismatch},
		{"renewal without group system:nodes", renew(reqSpec{}, func(f *Facts) { f.CSR.Spec.Groups = []string{"system:authenticated"} }), ActionDeny, ReasonMissingNodesGroup},
		{"renewal with O system:masters", renew(reqSpec{subject: subjectWith(func(n *pkix.Name) { n.Organization = []string{"system:masters"} })}, nil), ActionDeny, ReasonBadOrganization},
		{"renewal with an IP SAN", renew(reqSpec{ips: []string{testIP}}, nil), ActionDeny, ReasonSANNotAllowed},
		{"renewal while the cloud is down", renew(reqSpec{}, func(f *Facts) { f.CloudErr, f.NodeInstance = errors.New("timeout"), nil }), ActionPending, ReasonCloudUnavailable},
	}
}

func servingCases() []policyCase {
	return []policyCase{
		{"serving: valid ECDSA", serve(servingSpec(), nil), ActionApprove, ReasonApproved},
		{"serving: valid RSA 2048 with key encipherment", serve(reqSpec{key: "rsa2048", dns: []string{testNode}, ips: []string{testIP}}, func(f *Facts) {
			f.CSR.Spec.Usages = append(f.CSR.Spec.Usages, certificatesv1.UsageKeyEncipherment)
		}), ActionApprove, ReasonApproved},
		{"serving: IPv6 private IP only", serve(reqSpec{ips: []string{"fd00::1"}}, nil), ActionApprove, ReasonApproved},
		{"serving: key encipherment with an ECDSA key", serve(servingSpec(), func(f *Facts) {
			f.CSR.Spec.Usages = append(f.CSR.Spec.Usages, certificatesv1.UsageKeyEncipherment)
		}), ActionDeny, ReasonBadUsages},
		{"serving: client auth usage", serve(servingSpec(), func(f *Facts) {
			f.CSR.Spec.Usages = append(f.CSR.Spec.Usages, certificatesv1.UsageClientAuth)
		}), ActionDeny, ReasonBadUsages},
		{"serving: foreign IP SAN", serve(reqSpec{dns: []string{testNode}, ips: []string{testIP, "10.0.9.9"}}, nil), ActionDeny, ReasonForeignSAN},
		{"serving: IP the Node status claims but the cloud does not", serve(reqSpec{ips: []string{"10.0.9.9"}}, func(f *Facts) {
			f.Node.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "10.0.9.9"}}
		}), ActionDeny, ReasonForeignSAN},
		{"serving: foreign DNS SAN", serve(reqSpec{dns: []string{testNode, "kubernetes.default.svc"}, ips: []string{testIP}}, nil), ActionDeny, ReasonForeignSAN},
		{"serving: email SAN", serve(reqSpec{dns: []string{testNode}, emails: []string{"root@example.com"}}, nil), ActionDeny, ReasonSANNotAllowed},
		{"serving: URI SAN", serve(reqSpec{dns: []string{testNode}, uris: []string{"https://evil.example"}}, nil), ActionDeny, ReasonSANNotAllowed},
		{"serving: no SAN", serve(reqSpec{}, nil), ActionDeny, ReasonMissingSAN},
		{"serving: requestor is not the CN", serve(servingSpec(), func(f *Facts) { f.CSR.Spec.Username = nodeNamePrefix + testPeer }), ActionDeny, ReasonRequestorMismatch},
		// Was Deny UnexpectedRequestor before kelp decided only its own CSRs.
		{"serving: requestor is a bootstrap token", serve(servingSpec(), func(f *Facts) { f.CSR.Spec.Username = testToken }), ActionIgnore, ReasonNotKelpRequestor},
		{"serving: O system:masters", serve(reqSpec{subject: subjectWith(func(n *pkix.Name) { n.Organization = []string{"system:masters"} }), dns: []string{testNode}}, nil), ActionDeny, ReasonBadOrganization},
		{"serving: Node missing", serve(servingSpec(), func(f *Facts) { f.Node, f.NodeInstance = nil, nil }), ActionPending, ReasonNodeNotFound},
		{"serving: Node missing after the join window", serve(servingSpec(), func(f *Facts) {
			f.Node, f.NodeInstance, f.Now = nil, nil, csrCreate.Add(time.Hour)
		}), ActionDeny, ReasonNodeNotFound},
		{"serving: Node's instance is not the instance by name", serve(servingSpec(), func(f *Facts) {
			other := freshInstance()
			other.ID = "i-0other"
			f.NodeInstance = &other
		}), ActionDeny, ReasonNodeInstanceMismatch},
		{"serving: instance terminated", serve(servingSpec(), func(f *Facts) {
			f.InstancesByName[0].State = cloud.InstanceStateTerminated
		}), ActionDeny, ReasonInstanceNotRunning},
		{"serving: expirationSeconds beyond the cap", serve(servingSpec(), func(f *Facts) {
			f.CSR.Spec.ExpirationSeconds = ptr(int32(400 * 24 * 3600))
		}), ActionDeny, ReasonBadExpiration},
	}
}

func otherCases() []policyCase {
	return []policyCase{
		{"unknown signer is not touched", join(reqSpec{}, func(f *Facts) { f.CSR.Spec.SignerName = "example.com/custom" }), ActionIgnore, ReasonNotOurSigner},
		{"kube-apiserver-client signer is not touched", join(reqSpec{}, func(f *Facts) {
			f.CSR.Spec.SignerName = certificatesv1.KubeAPIServerClientSignerName
		}), ActionIgnore, ReasonNotOurSigner},
		{"no CSR", func(*testing.T) Facts { return Facts{Now: t0} }, ActionIgnore, ReasonNoRequest},
	}
}

func TestDecide(t *testing.T) {
	var cases []policyCase
	for _, group := range allCaseGroups() {
		cases = append(cases, group...)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.facts(t)
			v := Decide(f)
			if v.Action != tc.action || v.Reason != tc.reason {
				t.Fatalf("Decide = %s %s, want %s %s\nmessage: %s\nchecks: %+v", v.Action, v.Reason, tc.action, tc.reason, v.Message, v.Checks)
			}
			assertConsistent(t, v)
		})
	}
	t.Logf("%d cases", len(cases))
}

func allCaseGroups() [][]policyCase {
	return [][]policyCase{newNodeCases(), requestCases(), requestorAndFactCases(), renewalCases(), servingCases(), otherCases(),
		scopeCases(), sizeAndContestCases(), renewalInstanceCases(), servingSANCases(), instanceTokenCases()}
}

// assertConsistent checks the invariants of any verdict: approval only with
// every check passed; a denial or pending names a check with its reason;
// messages are bounded valid UTF-8; a contested denial names the others.
func assertConsistent(t *testing.T, v Verdict) {
	t.Helper()
	assertBounded(t, v)
	if (v.Reason == ReasonContestedJoin) != (len(v.Contested) > 0) {
		t.Fatalf("%s %s with Contested %q", v.Action, v.Reason, v.Contested)
	}
	switch v.Action {
	case ActionApprove:
		if len(v.Checks) == 0 || len(v.Failed()) > 0 {
			t.Fatalf("approved with checks %+v", v.Checks)
		}
		for _, c := range v.Checks {
			if c.Status != CheckPassed {
				t.Fatalf("approved with check %+v", c)
			}
		}
		if v.InstanceID == "" || v.NodeName == "" {
			t.Fatalf("approval without instance or node: %+v", v)
		}
	case ActionDeny, ActionPending:
		found := false
		for _, c := range v.Failed() {
			found = found || c.Reason == v.Reason
		}
		if !found {
			t.Fatalf("%s %s names no check: %+v", v.Action, v.Reason, v.Checks)
		}
		if v.Message == "" {
			t.Fatal("no message")
		}
	case ActionIgnore:
		if len(v.Checks) > 0 {
			t.Fatalf("ignored CSR with checks %+v", v.Checks)
		}
	}
	if (v.Action == ActionPending) != (v.RetryAfter > 0) {
		t.Fatalf("%s with RetryAfter %s", v.Action, v.RetryAfter)
	}
}

func TestDecideMessagesNameValues(t *testing.T) {
	tests := []struct {
		name  string
		facts func(t *testing.T) Facts
		want  []string
	}{
		{"organization", join(reqSpec{subject: subjectWith(func(n *pkix.Name) { n.Organization = []string{"system:masters"} })}, nil), []string{"system:masters"}},
		{"pool", join(reqSpec{}, func(f *Facts) { f.CSR.Spec.Groups[2] = "system:bootstrappers:kelp:gpu" }), []string{`"gpu"`, `"workers"`, testInstance}},
		{"foreign IP", serve(reqSpec{ips: []string{"10.0.9.9"}}, nil), []string{"10.0.9.9", testInstance}},
		{"replay", join(reqSpec{}, func(f *Facts) {
			f.PriorApprovals = map[string]Approval{testInstance: {CSRName: "node-csr-old", CSRUID: "uid-old", At: t0}}
		}), []string{testInstance, "node-csr-old"}},
		{"window", join(reqSpec{}, func(f *Facts) { f.InstancesByName, f.Now = nil, t0.Add(time.Hour) }), []string{testNode, "join window 30m0s"}},
		// States read as they always did in CSR conditions: lower case.
		{"state", join(reqSpec{}, setInstance(func(i *cloud.Instance) { i.State = cloud.InstanceStateTerminated })),
			[]string{testInstance + ` is terminated, want ["pending" "running"]`}},
		{"approved", join(reqSpec{}, nil), []string{testInstance, "pool workers (group " + testGroup + ")", ", running, joins for the first time"}},
		{"group pool", join(reqSpec{}, setInstance(func(i *cloud.Instance) { i.GroupName = testGPUGroup })), []string{`in pool "gpu" (group "` + testGPUGroup + `")`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := Decide(tt.facts(t))
			testenv.Contains(t, "message", v.Message, tt.want...)
		})
	}
}

func TestDecidePendingRetryAfter(t *testing.T) {
	f := newNodeFacts(t, reqSpec{})
	f.InstancesByName = nil
	if v := Decide(f); v.RetryAfter != retryHints[ReasonInstanceNotFound] {
		t.Errorf("RetryAfter = %s, want the hint %s", v.RetryAfter, retryHints[ReasonInstanceNotFound])
	}
	// Two seconds before the window closes, the retry lands on the deadline.
	f.Now = csrCreate.Add(DefaultJoinWindow - 2*time.Second)
	if v := Decide(f); v.Action != ActionPending || v.RetryAfter != 2*time.Second {
		t.Errorf("near the deadline: %s RetryAfter %s, want Pending 2s", v.Action, v.RetryAfter)
	}
	f.Now = csrCreate.Add(DefaultJoinWindow)
	if v := Decide(f); v.Action != ActionDeny {
		t.Errorf("at the deadline: %s, want Deny", v.Action)
	}
}

func TestDecideDenyWinsOverPending(t *testing.T) {
	f := newNodeFacts(t, reqSpec{})
	f.CloudErr, f.InstancesByName = errors.New("down"), nil
	f.CSR.Spec.Usages = nil
	if v := Decide(f); v.Action != ActionDeny || v.Reason != ReasonBadUsages {
		t.Fatalf("Decide = %s %s, want Deny BadUsages", v.Action, v.Reason)
	}
}

func TestDecideDoesNotModifyFacts(t *testing.T) {
	f := servingFacts(t, servingSpec())
	before := f.CSR.DeepCopy()
	inst := *f.NodeInstance
	Decide(f)
	if !equalCSR(before, f.CSR) || inst.ID != f.NodeInstance.ID {
		t.Fatal("Decide modified its facts")
	}
}

func equalCSR(a, b *certificatesv1.CertificateSigningRequest) bool {
	return bytes.Equal(a.Spec.Request, b.Spec.Request) && a.Spec.Username == b.Spec.Username &&
		len(a.Spec.Usages) == len(b.Spec.Usages) && len(a.Status.Conditions) == len(b.Status.Conditions)
}

func TestVerdictDecision(t *testing.T) {
	for _, tt := range []struct {
		v    Verdict
		want Decision
		ok   bool
	}{
		{Verdict{Action: ActionApprove, Reason: ReasonApproved, Message: "m"}, Decision{Approve: true, Reason: ReasonApproved, Message: "m"}, true},
		{Verdict{Action: ActionDeny, Reason: ReasonNodeExists, Message: "m"}, Decision{Reason: ReasonNodeExists, Message: "m"}, true},
		{Verdict{Action: ActionPending, Reason: ReasonInstanceNotFound}, Decision{}, false},
		{Verdict{Action: ActionIgnore, Reason: ReasonNotOurSigner}, Decision{}, false},
	} {
		if got, ok := tt.v.Decision(); got != tt.want || ok != tt.ok {
			t.Errorf("%s.Decision() = %+v, %v; want %+v, %v", tt.v.Action, got, ok, tt.want, tt.ok)
		}
	}
}

func TestNodeNameAndClassify(t *testing.T) {
	f := newNodeFacts(t, reqSpec{})
	if name, ok := NodeName(f.CSR); !ok || name != testNode {
		t.Errorf("NodeName = %q, %v", name, ok)
	}
	f.CSR.Spec.Request = append(f.CSR.Spec.Request, "x"...)
	if _, ok := NodeName(f.CSR); ok {
		t.Error("NodeName read a request with trailing data")
	}
	for _, tt := range []struct {
		signer, user string
		want         Kind
	}{
		{certificatesv1.KubeAPIServerClientKubeletSignerName, testToken, KindNewNode},
		{certificatesv1.KubeAPIServerClientKubeletSignerName, nodeNamePrefix + testNode, KindRenewal},
		{certificatesv1.KubeletServingSignerName, nodeNamePrefix + testNode, KindServing},
		{certificatesv1.KubeAPIServerClientSignerName, testToken, KindOther},
	} {
		csr := &certificatesv1.CertificateSigningRequest{Spec: certificatesv1.CertificateSigningRequestSpec{SignerName: tt.signer, Username: tt.user}}
		if got := Classify(csr); got != tt.want {
			t.Errorf("Classify(%s, %s) = %s, want %s", tt.signer, tt.user, got, tt.want)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	if err := (Config{ClusterName: "dev"}).Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
	err := Config{JoinWindow: time.Second, MaxExpiration: time.Minute, FloodHeadroom: -1}.Validate()
	for _, want := range []string{"join window", "max expiration", "flood headroom", "cluster name"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want it to name %q", err, want)
		}
	}
}

// assertBounded checks that v's message and every check's detail are at
// most MaxMessageBytes of valid UTF-8 without control characters.
func assertBounded(t testing.TB, v Verdict) {
	t.Helper()
	texts := []string{v.Message}
	for _, c := range v.Checks {
		texts = append(texts, c.Detail)
	}
	for _, s := range texts {
		if len(s) > MaxMessageBytes || !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			t.Fatalf("unbounded text (%d bytes, valid UTF-8 %t): %q", len(s), utf8.ValidString(s), s)
		}
	}
}
