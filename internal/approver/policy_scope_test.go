package approver

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kelp-dev/kelp/internal/bootstrap"
	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/testenv"
	"github.com/kelp-dev/kelp/internal/userdata"
)

// cpName is a control-plane node of the cluster: no providerID, no pool
// label, no record, no instance of a kelp pool (kubeadm's cp-1).
const cpName = "cp-1"

// controlPlane turns renewal or serving facts into those of node cp-1,
// which the cloud knows nothing of; the request keeps its CN (the scope
// reads the requestor).
func controlPlane(f *Facts) {
	f.CSR.Spec.Username = nodeNamePrefix + cpName
	f.Node = nodeFor(cpName, cloud.Instance{})
	f.NodeInstance, f.InstancesByName = nil, nil
}

// unlabelled drops the pool label of the Node.
func unlabelled(f *Facts) { delete(f.Node.Labels, userdata.PoolLabel) }

func scopeCases() []policyCase {
	kubeadmGroups := []string{"system:bootstrappers", "system:bootstrappers:kubeadm:default-node-token", "system:authenticated"}
	return []policyCase{
		{"scope: kubeadm's token", join(reqSpec{}, func(f *Facts) { f.CSR.Spec.Groups = kubeadmGroups }), ActionIgnore, ReasonNotKelpRequestor},
		{"scope: an admin files a kubelet client CSR", join(reqSpec{}, func(f *Facts) {
			f.CSR.Spec.Username, f.CSR.Spec.Groups = "kubernetes-admin", []string{"system:masters", "system:authenticated"}
		}), ActionIgnore, ReasonNotKelpRequestor},
		{"scope: a group that only looks like kelp's", join(reqSpec{}, func(f *Facts) {
			f.CSR.Spec.Groups = []string{"system:bootstrappers", bootstrap.GroupPrefix + "ish", "system:authenticated"}
		}), ActionIgnore, ReasonNotKelpRequestor},
		{"scope: kelp's base group alone is kelp's", join(reqSpec{}, func(f *Facts) {
			f.CSR.Spec.Groups = []string{"system:bootstrappers", bootstrap.GroupPrefix}
		}), ActionDeny, ReasonBadPoolGroup},
		{"scope: kubeadm's token, junk request", func(t *testing.T) Facts {
			f := newNodeFactsFor(t, []byte("junk"))
			f.CSR.Spec.Groups = kubeadmGroups
			return f
		}, ActionIgnore, ReasonNotKelpRequestor},
		// The control plane of issue 13: left alone, never denied.
		{"scope: control-plane renewal", renew(reqSpec{}, controlPlane), ActionIgnore, ReasonNotManagedNode},
		{"scope: control-plane serving CSR", serve(servingSpec(), controlPlane), ActionIgnore, ReasonNotManagedNode},
		{"scope: control-plane renewal while the cloud is down", renew(reqSpec{}, func(f *Facts) {
			controlPlane(f)
			f.CloudErr = errors.New("throttled")
		}), ActionPending, ReasonScopeUndetermined},
		{"scope: undetermined is never denied by the join window", renew(reqSpec{}, func(f *Facts) {
			controlPlane(f)
			f.CloudErr, f.Now = errors.New("throttled"), csrCreate.Add(10*DefaultJoinWindow)
		}), ActionPending, ReasonScopeUndetermined},
		{"scope: undetermined is not denied for a bad request", func(t *testing.T) Facts {
			f := renewalFactsFor(t, []byte("junk"))
			controlPlane(&f)
			f.CloudErr = errors.New("throttled")
			return f
		}, ActionPending, ReasonScopeUndetermined},
		{"scope: serving CSR of an admin", serve(servingSpec(), func(f *Facts) { f.CSR.Spec.Username = "kubernetes-admin" }), ActionIgnore, ReasonNotKelpRequestor},
		{"scope: a node of a managed group that is no kelp pool", renew(reqSpec{}, func(f *Facts) {
			unlabelled(f)
			f.NodeInstance.GroupName, f.InstancesByName[0].GroupName = testPlainGroup, testPlainGroup
		}), ActionIgnore, ReasonNotManagedNode},
		{"scope: unlabelled, but the cloud puts it in a kelp pool", renew(reqSpec{}, unlabelled), ActionApprove, ReasonApproved},
		{"scope: unlabelled, in kelp's record by its providerID", renew(reqSpec{}, func(f *Facts) {
			unlabelled(f)
			f.PriorApprovals = map[string]Approval{testInstance: {CSRName: "node-csr-1", CSRUID: "uid-1", At: t0.Add(-time.Hour)}}
			f.CloudErr, f.NodeInstance, f.InstancesByName, f.ManagedGroups = errors.New("down"), nil, nil, nil
		}), ActionPending, ReasonCloudUnavailable},
		{"scope: Node deleted, in kelp's record by name", renew(reqSpec{}, func(f *Facts) {
			f.Node, f.NodeInstance, f.InstancesByName = nil, nil, nil
			f.PriorApprovals = map[string]Approval{"i-0gone": {CSRName: "node-csr-1", At: t0.Add(-time.Hour), NodeName: testNode}}
		}), ActionDeny, ReasonNodeNotFound},
		{"scope: renewal of a terminated managed instance is denied", renew(reqSpec{}, func(f *Facts) {
			f.NodeInstance.State, f.InstancesByName = cloud.InstanceStateTerminated, nil
		}), ActionDeny, ReasonInstanceNotRunning},
		{"scope: labelled Node without providerID", renew(reqSpec{}, func(f *Facts) {
			f.Node.Spec.ProviderID, f.NodeInstance = "", nil
		}), ActionDeny, ReasonInstanceNotFound},
		{"scope: a label on another Node does not count", renew(reqSpec{}, func(f *Facts) {
			controlPlane(f)
			f.Node = kelpNodeFor(testNode, freshInstance())
		}), ActionIgnore, ReasonNotManagedNode},
	}
}

// contender is the name of another pending CSR for the same node.
const contender = "node-csr-contender"

func sizeAndContestCases() []policyCase {
	huge := func(f *Facts) {
		f.CSR.Spec.Request = append(f.CSR.Spec.Request, make([]byte, MaxRequestBytes)...)
	}
	return []policyCase{
		{"size: a request over 16 KiB", join(reqSpec{}, huge), ActionDeny, ReasonRequestTooLarge},
		{"size: exactly 16 KiB is read", withRequest(func(v []byte) []byte {
			return append(append([]byte{}, v...), strings.Repeat("\n", MaxRequestBytes-len(v))...)
		}), ActionApprove, ReasonApproved},
		{"size: too large renewal of a kelp node", renew(reqSpec{}, huge), ActionDeny, ReasonRequestTooLarge},
		{"size: too large but not kelp's", join(reqSpec{}, func(f *Facts) {
			huge(f)
			f.CSR.Spec.Username = "kubernetes-admin"
		}), ActionIgnore, ReasonNotKelpRequestor},
		{"contested: another pending CSR for the node", join(reqSpec{}, func(f *Facts) { f.ContestingCSRs = []string{contender} }), ActionDeny, ReasonContestedJoin},
		{"contested: even while the cloud is down", join(reqSpec{}, func(f *Facts) {
			f.ContestingCSRs, f.CloudErr, f.InstancesByName = []string{contender}, errors.New("down"), nil
		}), ActionDeny, ReasonContestedJoin},
		{"contested: a broken request is denied for what it is", withRequest(func([]byte) []byte { return []byte("junk") }), ActionDeny, ReasonMalformedPEM},
	}
}

// certHash is the credential ID hash of a made-up certificate.
func certHash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// withCredential sets the API server's credential ID of the renewing
// certificate, and records certs as issued to the Node's instance.
func withCredential(id string, certs ...IssuedCertificate) func(*Facts) {
	return func(f *Facts) {
		f.CSR.Spec.Extra = map[string]certificatesv1.ExtraValue{CredentialIDKey: {id}}
		if certs != nil {
			f.PriorApprovals = map[string]Approval{testInstance: {CSRName: "node-csr-1", At: t0.Add(-time.Hour), NodeName: testNode, Certificates: certs}}
		}
	}
}

func renewalInstanceCases() []policyCase {
	current := IssuedCertificate{SHA256: certHash("current"), NotAfter: t0.Add(24 * time.Hour), CSRUID: "uid-1"}
	expired := IssuedCertificate{SHA256: certHash("expired"), NotAfter: t0.Add(-time.Second), CSRUID: "uid-0"}
	both := []IssuedCertificate{expired, current}
	return []policyCase{
		{"node age: Node registered before its instance launched", renew(reqSpec{}, func(f *Facts) {
			f.Node.CreationTimestamp = metav1.NewTime(f.NodeInstance.LaunchTime.Add(-time.Minute))
		}), ActionDeny, ReasonNodeOlderThanInst},
		{"node age: Node registered in the second of the launch", renew(reqSpec{}, func(f *Facts) {
			f.NodeInstance.LaunchTime = f.NodeInstance.LaunchTime.Add(700 * time.Millisecond)
			f.Node.CreationTimestamp = metav1.NewTime(f.NodeInstance.LaunchTime.Truncate(time.Second))
		}), ActionApprove, ReasonApproved},
		{"credential: a current certificate of the instance", renew(reqSpec{}, withCredential(credentialPrefix+current.SHA256, both...)), ActionApprove, ReasonApproved},
		{"credential: a certificate kelp never saw issued", renew(reqSpec{}, withCredential(credentialPrefix+certHash("stolen"), both...)), ActionDeny, ReasonUnknownCredential},
		{"credential: an expired certificate of the instance", renew(reqSpec{}, withCredential(credentialPrefix+expired.SHA256, both...)), ActionDeny, ReasonUnknownCredential},
		{"credential: another instance's certificate", renew(reqSpec{}, func(f *Facts) {
			withCredential(credentialPrefix+current.SHA256, both...)(f)
			f.PriorApprovals = map[string]Approval{
				"i-0other":   {NodeName: testNode, Certificates: both},
				testInstance: {NodeName: testNode, Certificates: []IssuedCertificate{expired}},
			}
		}), ActionDeny, ReasonUnknownCredential},
		{"credential: instance without a record", renew(reqSpec{}, withCredential(credentialPrefix+current.SHA256)), ActionApprove, ReasonApproved},
		{"credential: record kept no certificate", renew(reqSpec{}, withCredential(credentialPrefix+current.SHA256, []IssuedCertificate{}...)), ActionApprove, ReasonApproved},
		{"credential: upper-case hex", renew(reqSpec{}, withCredential(credentialPrefix+strings.ToUpper(current.SHA256), both...)), ActionDeny, ReasonUnknownCredential},
		{"credential: not an X509 credential", renew(reqSpec{}, withCredential("JTI="+current.SHA256)), ActionDeny, ReasonUnknownCredential},
		{"credential: short hash", renew(reqSpec{}, withCredential(credentialPrefix+current.SHA256[:63])), ActionDeny, ReasonUnknownCredential},
		{"credential: two values", renew(reqSpec{}, func(f *Facts) {
			withCredential("", both...)(f)
			f.CSR.Spec.Extra[CredentialIDKey] = []string{credentialPrefix + current.SHA256, credentialPrefix + current.SHA256}
		}), ActionDeny, ReasonUnknownCredential},
		{"credential: the key without a value", renew(reqSpec{}, func(f *Facts) {
			f.CSR.Spec.Extra = map[string]certificatesv1.ExtraValue{CredentialIDKey: nil}
		}), ActionDeny, ReasonUnknownCredential},
		{"credential: other extra keys are not read", renew(reqSpec{}, func(f *Facts) {
			f.CSR.Spec.Extra = map[string]certificatesv1.ExtraValue{"example.com/x": {strings.Repeat("x", 1<<16)}}
		}), ActionApprove, ReasonApproved},
	}
}

func servingSANCases() []policyCase {
	strict := func(f *Facts) { f.Config.ServingSANs = SANsPrimaryIP }
	return []policyCase{
		{"strict SANs: primary IP and DNS name", serve(servingSpec(), strict), ActionApprove, ReasonApproved},
		{"strict SANs: a secondary private IP", serve(reqSpec{dns: []string{testNode}, ips: []string{"fd00::1"}}, strict), ActionDeny, ReasonForeignSAN},
		{"strict SANs: an instance without IPs", serve(servingSpec(), func(f *Facts) {
			strict(f)
			f.InstancesByName[0].PrivateIPs = nil
		}), ActionDeny, ReasonForeignSAN},
		{"strict SANs: DNS name only", serve(reqSpec{dns: []string{testNode}}, strict), ActionApprove, ReasonApproved},
		{"any private IP: a secondary private IP", serve(reqSpec{dns: []string{testNode}, ips: []string{"fd00::1"}}, nil), ActionApprove, ReasonApproved},
	}
}

// TestDecideNewChecksMessages: denials name what they must.
func TestDecideNewChecksMessages(t *testing.T) {
	tests := []struct {
		name  string
		facts func(t *testing.T) Facts
		want  []string
	}{
		{"strict SANs name the setting", serve(reqSpec{ips: []string{"fd00::1"}}, func(f *Facts) { f.Config.ServingSANs = SANsPrimaryIP }),
			[]string{"--serving-sans=primary-ip", "fd00::1", testInstance}},
		{"contested", join(reqSpec{}, func(f *Facts) { f.ContestingCSRs = []string{contender} }), []string{contender, testNode, "neither is approved"}},
		{"unknown credential names the instance", renew(reqSpec{}, withCredential(credentialPrefix+certHash("x"),
			IssuedCertificate{SHA256: certHash("y"), NotAfter: t0.Add(time.Hour)})), []string{testInstance}},
		{"node age", renew(reqSpec{}, func(f *Facts) { f.Node.CreationTimestamp = metav1.NewTime(t0.Add(-400 * 24 * time.Hour)) }),
			[]string{testNode, testInstance, "before"}},
		{"control plane", renew(reqSpec{}, controlPlane), []string{`"cp-1"`, "no kelp pool", "other approvers"}},
		{"kubeadm token", join(reqSpec{}, func(f *Facts) { f.CSR.Spec.Groups = []string{"system:bootstrappers:kubeadm:default-node-token"} }),
			[]string{testToken, "kubeadm:default-node-token", bootstrap.GroupPrefix}},
		{"scope undetermined", renew(reqSpec{}, func(f *Facts) { controlPlane(f); f.CloudErr = errors.New("throttled") }), []string{"cp-1", "throttled"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := Decide(tt.facts(t))
			testenv.Contains(t, "message", v.Message, tt.want...)
		})
	}
}

func TestDecideContestedNamesTheOthers(t *testing.T) {
	f := newNodeFacts(t, reqSpec{})
	f.ContestingCSRs = []string{contender, "node-csr-third"}
	v := Decide(f)
	if v.Action != ActionDeny || !slices.Equal(v.Contested, f.ContestingCSRs) {
		t.Fatalf("Decide = %s %s, Contested %q; want Deny naming %q", v.Action, v.Reason, v.Contested, f.ContestingCSRs)
	}
	v.Contested[0] = "changed"
	if f.ContestingCSRs[0] != contender {
		t.Error("Verdict.Contested aliases the facts")
	}
}

func TestDecideTooLargeMessageIsFixed(t *testing.T) {
	for _, fill := range []byte{'A', 0xff, '\n'} {
		f := newNodeFacts(t, reqSpec{})
		f.CSR.Spec.Request = append(f.CSR.Spec.Request, slices.Repeat([]byte{fill}, MaxRequestBytes)...)
		if v := Decide(f); v.Message != tooLargeMessage {
			t.Errorf("fill %q: message %q, want the fixed %q", fill, v.Message, tooLargeMessage)
		}
	}
	if _, ok := NodeName(newNodeFactsFor(t, make([]byte, MaxRequestBytes+1)).CSR); ok {
		t.Error("NodeName read a request over MaxRequestBytes")
	}
}

// TestDecideBoundsAttackerText fills every attacker-controlled field with
// long, invalid and control text: every message stays bounded and quotes
// each value short.
func TestDecideBoundsAttackerText(t *testing.T) {
	// A value quoted whole would show MARK (within 100 bytes of its start)
	// or an unescaped right-to-left override.
	long := "\u202e" + strings.Repeat("a", 80) + "MARK" + strings.Repeat("\x00\xff\n\u202eé", 5000)
	for _, tc := range []struct {
		name string
		mut  func(f *Facts)
	}{
		{"username", func(f *Facts) { f.CSR.Spec.Username = "system:bootstrap:" + long }},
		{"groups", func(f *Facts) {
			f.CSR.Spec.Groups = []string{bootstrap.GroupPrefix, bootstrap.GroupPrefix + ":" + long, bootstrap.GroupPrefix + ":b" + long}
		}},
		{"many groups", func(f *Facts) {
			for i := range 1000 {
				f.CSR.Spec.Groups = append(f.CSR.Spec.Groups, bootstrap.GroupPrefix+":"+strings.Repeat("p", i))
			}
		}},
		{"usages", func(f *Facts) { f.CSR.Spec.Usages = []certificatesv1.KeyUsage{certificatesv1.KeyUsage(long)} }},
		{"signer", func(f *Facts) { f.CSR.Spec.SignerName = long }},
		{"contested", func(f *Facts) { f.ContestingCSRs = []string{long, long} }},
		{"credential", func(f *Facts) {
			f.CSR.Spec.Username = nodeNamePrefix + testNode
			f.Node, f.NodeInstance = kelpNodeFor(testNode, freshInstance()), &f.InstancesByName[0]
			f.CSR.Spec.Extra = map[string]certificatesv1.ExtraValue{CredentialIDKey: {long}}
		}},
		{"renewal requestor", func(f *Facts) { f.CSR.Spec.Username = nodeNamePrefix + long }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newNodeFacts(t, reqSpec{})
			tc.mut(&f)
			v := Decide(f)
			assertBounded(t, v)
			for _, s := range append([]string{v.Message}, details(v)...) {
				if strings.Contains(s, "MARK") || strings.Contains(s, "\u202e") {
					t.Errorf("%s %s: a value is quoted whole: %q", v.Action, v.Reason, s)
				}
			}
		})
	}
}

func details(v Verdict) []string {
	var out []string
	for _, c := range v.Checks {
		out = append(out, c.Detail)
	}
	return out
}

// stripCloud returns f without the cloud's facts, as Gather has it before
// asking the cloud.
func stripCloud(f Facts) Facts {
	f.InstancesByName, f.NodeInstance, f.ManagedGroups, f.CloudErr = nil, nil, nil, nil
	return f
}

// TestScreenAgreesWithDecide: whenever Screen is final on the cluster's
// facts, Decide gives the same verdict whatever the cloud says (with the
// cloud's facts, without them, with the cloud down); and the junk of every
// table above is final, so it costs no cloud call.
func TestScreenAgreesWithDecide(t *testing.T) {
	final := map[string]int{}
	for _, group := range allCaseGroups() {
		for _, tc := range group {
			f := tc.facts(t)
			sv, ok := Screen(f)
			if !ok {
				if sv.Action != "" {
					t.Errorf("%s: Screen not final but returned %s", tc.name, sv.Action)
				}
				continue
			}
			final[string(sv.Action)]++
			down := stripCloud(f)
			down.CloudErr = errors.New("down")
			for _, g := range []Facts{f, stripCloud(f), down} {
				if v := Decide(g); v.Action != sv.Action || v.Reason != sv.Reason || v.Message != sv.Message || len(v.Checks) != len(sv.Checks) {
					t.Errorf("%s: Screen = %s %s (%s), Decide = %s %s (%s)", tc.name, sv.Action, sv.Reason, sv.Message, v.Action, v.Reason, v.Message)
				}
			}
			if sv.Action == ActionApprove || sv.Action == ActionPending {
				t.Errorf("%s: Screen is final with %s", tc.name, sv.Action)
			}
		}
	}
	t.Logf("final on screening: %v", final)
	// Every request or requestor denial of the new-node tables is final;
	// a contest is judged after the cloud's checks.
	for _, tc := range slices.Concat(requestCases(), sizeAndContestCases()) {
		if tc.reason == ReasonContestedJoin {
			continue
		}
		f := tc.facts(t)
		if _, ok := Screen(f); !ok && tc.action != ActionApprove {
			t.Errorf("%s: %s %s needs the cloud", tc.name, tc.action, tc.reason)
		}
	}
}
