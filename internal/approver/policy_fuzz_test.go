package approver

import (
	"bytes"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"

	"github.com/kelp-dev/kelp/internal/userdata"
)

// Bounded runs (one target per invocation):
//
//	go test -run='^$' -fuzz='^FuzzParseCSR$' -fuzztime=10s ./internal/approver
//	go test -run='^$' -fuzz='^FuzzDecide$' -fuzztime=10s ./internal/approver
//
// Without -fuzz, `go test` runs the seed corpus below (and any crasher
// saved under testdata/fuzz) as regular tests.

// fuzzSeeds are valid and broken requests. (No RSA seed: generating an
// RSA key in a coverage-instrumented fuzz worker takes too long.)
func fuzzSeeds(f *testing.F) [][]byte {
	valid := reqSpec{}.pem(f)
	serving := servingSpec().pem(f)
	return [][]byte{
		valid,
		serving,
		reqSpec{key: "p224"}.pem(f),
		append(slices.Clone(valid), valid...),
		append(slices.Clone(valid), "garbage"...),
		append([]byte("garbage\n"), valid...),
		pemBlock("PRIVATE KEY", []byte{0x30, 0x03, 0x02, 0x01, 0x00}),
		pemBlock(csrBlockType, nil),
		pemBlock(csrBlockType, []byte{0x30, 0x80, 0x00, 0x00}),
		append([]byte("-----BEGIN CERTIFICATE REQUEST-----\nbroken\n"), valid...),
		reqSpec{dns: []string{testNode}, emails: []string{"a@b.c"}, uris: []string{"x://y"}}.pem(f),
		reqSpec{exts: []pkix.Extension{basicConstraintsCA(f)}}.pem(f),
		{},
		[]byte("-----BEGIN CERTIFICATE REQUEST-----\n-----END CERTIFICATE REQUEST-----\n"),
	}
}

func FuzzParseCSR(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := ParseCSR(data)
		if err != nil {
			if !errors.Is(err, errMalformedPEM) && !errors.Is(err, errMalformedDER) {
				t.Fatalf("ParseCSR error %v wraps neither sentinel", err)
			}
			return
		}
		if _, ok := singleCSR(data); !ok {
			t.Fatalf("ParseCSR accepted %q, which is not exactly one CERTIFICATE REQUEST block", data)
		}
		// The inspections must not panic on any parsed request.
		_ = req.CheckSignature()
		_ = checkKey(req.PublicKey)
		_, _ = nodeNameFromCN(req.Subject.CommonName)
		_ = checkOrganization(req)
		_ = checkSubjectFields(req)
		if s, err := summarizeSANs(req); err == nil {
			_ = checkNoSANs(s)
			_ = checkServingSANTypes(s)
		}
		_ = checkExtensions(req, true)
		_ = checkExtensions(req, false)
		_ = keyName(req.PublicKey)
	})
}

// singleCSR is the reference for "parses as a single CSR": without
// whitespace, the input is one BEGIN/END CERTIFICATE REQUEST pair around
// base64 only, and the block x509 parses.
func singleCSR(data []byte) (*x509.CertificateRequest, bool) {
	compact := bytes.Join(bytes.Fields(data), nil)
	head, tail := []byte("-----BEGINCERTIFICATEREQUEST-----"), []byte("-----ENDCERTIFICATEREQUEST-----")
	if !bytes.HasPrefix(compact, head) || !bytes.HasSuffix(compact, tail) || len(compact) < len(head)+len(tail) ||
		bytes.Contains(compact[len(head):len(compact)-len(tail)], []byte("-")) ||
		bytes.Contains(compact[len(head):len(compact)-len(tail)], []byte(":")) {
		return nil, false
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, false
	}
	req, err := x509.ParseCertificateRequest(block.Bytes)
	return req, err == nil
}

// FuzzDecide decides fuzzed requests, requestors, groups, credential IDs
// and facts (bits of shape) against facts that would let a valid request
// through, and checks the invariants: an approval is always justified (a
// single request with a valid signature, and for each kind what the naive
// rule demands); a CSR out of kelp's scope is never approved nor denied;
// every message is bounded valid UTF-8; a final Screen is Decide's verdict.
func FuzzDecide(f *testing.F) {
	for i, s := range fuzzSeeds(f) {
		f.Add(s, uint8(i%3), uint8(0), "", int32(0), "", "", uint8(0))
	}
	f.Add(reqSpec{}.pem(f), uint8(0), uint8(0), testToken, int32(3600), "", "", uint8(0))
	f.Add(servingSpec().pem(f), uint8(1), uint8(0), nodeNamePrefix+testNode, int32(0), "", "", uint8(0))
	f.Add(reqSpec{}.pem(f), uint8(2), uint8(0), "", int32(0), "", credentialPrefix+certHash("current"), uint8(shapeRecord))
	f.Add(reqSpec{}.pem(f), uint8(0), uint8(0), "", int32(0), "system:bootstrappers:kubeadm:default-node-token", "", uint8(0))
	f.Add(reqSpec{}.pem(f), uint8(0), uint8(0), "", int32(0), "system:bootstrappers:kelp:instance:"+testInstance, "", uint8(shapeContested))
	f.Add(reqSpec{}.pem(f), uint8(0), uint8(0), "", int32(0), "system:bootstrappers:kelp:instance:i-0bbbbbbbbbbbbbbb2", "", uint8(0))
	f.Add(reqSpec{}.pem(f), uint8(0), uint8(0), "", int32(0), "", "", uint8(shapeContested|shapeHuge))
	f.Add(reqSpec{}.pem(f), uint8(2), uint8(0), nodeNamePrefix+"cp-1", int32(0), "", "", uint8(shapeUnmanaged|shapeCloudDown))
	// Facts are built around the fuzzed request; no key work per input.
	f.Fuzz(func(t *testing.T, request []byte, kind, usageBits uint8, username string, expiration int32, group, credential string, shape uint8) {
		facts := fuzzFacts(t, request, kind, shape)
		csr := facts.CSR
		if username != "" {
			csr.Spec.Username = username
		}
		if group != "" {
			csr.Spec.Groups = append(csr.Spec.Groups[:0:0], group)
		}
		if credential != "" {
			csr.Spec.Extra = map[string]certificatesv1.ExtraValue{CredentialIDKey: {credential}}
		}
		if usageBits != 0 {
			csr.Spec.Usages = nil
			for i, u := range allUsages {
				if usageBits&(1<<i) != 0 {
					csr.Spec.Usages = append(csr.Spec.Usages, u)
				}
			}
		}
		if expiration != 0 {
			csr.Spec.ExpirationSeconds = &expiration
		}
		v := Decide(facts)
		assertConsistent(t, v)
		assertScope(t, facts, v)
		if sv, final := Screen(facts); final && (sv.Action != v.Action || sv.Reason != v.Reason || sv.Message != v.Message) {
			t.Fatalf("Screen = %s %s (%s), Decide = %s", sv.Action, sv.Reason, sv.Message, v)
		}
		if v.Action != ActionApprove {
			return
		}
		assertApprovalJustified(t, facts, v)
	})
}

// Bits of FuzzDecide's shape: how the facts differ from a valid CSR's.
const (
	shapeUnmanaged  = 1 << iota // the node is in no kelp pool: no label, no record, no kelp group
	shapeCloudDown              // the cloud did not answer
	shapeContested              // another pending CSR asks for the node
	shapeHuge                   // the request is padded past MaxRequestBytes
	shapeRecord                 // kelp recorded the instance's certificate "current"
	shapeStrictSANs             // --serving-sans=primary-ip
	shapeFlood                  // the headroom is used up ahead of this CSR
)

func fuzzFacts(t *testing.T, request []byte, kind, shape uint8) Facts {
	var facts Facts
	switch kind % 3 {
	case 0:
		facts = newNodeFactsFor(t, request)
	case 1:
		facts = servingFactsFor(t, request)
	default:
		facts = renewalFactsFor(t, request)
	}
	facts.CSR.Spec.Request = request
	if shape&shapeUnmanaged != 0 {
		facts.ManagedGroups = map[string]string{testGroup: ""}
		if facts.Node != nil {
			delete(facts.Node.Labels, userdata.PoolLabel)
		}
	}
	if shape&shapeCloudDown != 0 {
		facts.CloudErr, facts.InstancesByName, facts.NodeInstance, facts.ManagedGroups = errors.New("down"), nil, nil, nil
	}
	if shape&shapeContested != 0 {
		facts.ContestingCSRs = []string{"node-csr-other"}
	}
	if shape&shapeHuge != 0 {
		facts.CSR.Spec.Request = append(slices.Clone(request), make([]byte, MaxRequestBytes)...)
	}
	if shape&shapeRecord != 0 {
		facts.PriorApprovals = map[string]Approval{testInstance: {NodeName: testNode, Certificates: []IssuedCertificate{
			{SHA256: certHash("current"), NotAfter: t0.Add(time.Hour)}}}}
	}
	if shape&shapeStrictSANs != 0 {
		facts.Config.ServingSANs = SANsPrimaryIP
	}
	if shape&shapeFlood != 0 {
		facts.PendingAhead = facts.Nodes + DefaultFloodHeadroom
	}
	return facts
}

// assertScope: a CSR that is not kelp's (by the rules written out plainly)
// is ignored; one whose scope needs the cloud while it is down stays
// pending; neither is ever denied.
func assertScope(t *testing.T, f Facts, v Verdict) {
	t.Helper()
	csr := f.CSR
	if Classify(csr) == KindOther || len(csr.Status.Conditions) > 0 {
		return
	}
	name, node := strings.CutPrefix(csr.Spec.Username, nodeNamePrefix)
	var out bool
	switch {
	case csr.Spec.SignerName == certificatesv1.KubeAPIServerClientKubeletSignerName && !node:
		out = !naiveKelpToken(csr)
	case !node:
		out = true
	default:
		labelled := false
		if f.Node != nil && f.Node.Name == name {
			_, labelled = f.Node.Labels[userdata.PoolLabel]
		}
		recorded := false
		for id, a := range f.PriorApprovals {
			recorded = recorded || a.NodeName == name || (f.Node != nil && f.Node.Name == name && strings.HasSuffix(f.Node.Spec.ProviderID, "/"+id))
		}
		if !labelled && !recorded {
			if f.CloudErr != nil {
				if v.Action != ActionPending || v.Reason != ReasonScopeUndetermined {
					t.Fatalf("scope needs the cloud, which is down: %s", v)
				}
				return
			}
			out = !naiveCloudMember(f)
		}
	}
	if out && v.Action != ActionIgnore {
		t.Fatalf("a CSR out of kelp's scope got %s", v)
	}
	if !out && v.Action == ActionIgnore {
		t.Fatalf("a CSR of kelp's was ignored: %s", v)
	}
}

func naiveCloudMember(f Facts) bool {
	insts := slices.Clone(f.InstancesByName)
	if f.NodeInstance != nil {
		insts = append(insts, *f.NodeInstance)
	}
	for _, in := range insts {
		if in.GroupName != "" && f.ManagedGroups[in.GroupName] != "" {
			return true
		}
	}
	return false
}

// assertApprovalJustified checks an approval against the naive rules.
func assertApprovalJustified(t *testing.T, facts Facts, v Verdict) {
	t.Helper()
	csr := facts.CSR
	request := csr.Spec.Request
	req, ok := singleCSR(request)
	if !ok || req.CheckSignature() != nil || len(request) > MaxRequestBytes {
		t.Fatalf("approved a request that is not one validly signed CSR: %q", request)
	}
	if req.Subject.CommonName != nodeNamePrefix+testNode || !slices.Equal(req.Subject.Organization, []string{nodesGroup}) {
		t.Fatalf("approved subject %v", req.Subject)
	}
	switch v.Kind {
	case KindNewNode:
		if !naiveApprove(facts) {
			t.Fatalf("approved a new-node CSR the naive rule rejects: %s", v)
		}
	case KindServing:
		assertServingOwned(t, req, csr)
		if facts.Config.ServingSANs == SANsPrimaryIP {
			for _, ip := range req.IPAddresses {
				if ip.String() != testIP {
					t.Fatalf("approved secondary IP %s with --serving-sans=primary-ip", ip)
				}
			}
		}
	case KindRenewal:
		if csr.Spec.Username != req.Subject.CommonName || len(req.Extensions) > 0 {
			t.Fatalf("approved renewal %s for %q", v, csr.Spec.Username)
		}
		if ids, ok := csr.Spec.Extra[CredentialIDKey]; ok && facts.PriorApprovals != nil &&
			!slices.Equal(ids, []string{credentialPrefix + certHash("current")}) {
			t.Fatalf("approved renewal by credential %q, not the instance's", ids)
		}
	}
}

func assertServingOwned(t *testing.T, req *x509.CertificateRequest, csr *certificatesv1.CertificateSigningRequest) {
	t.Helper()
	if csr.Spec.Username != req.Subject.CommonName || len(req.EmailAddresses)+len(req.URIs) > 0 {
		t.Fatalf("approved serving CSR of %q with CN %q, emails %q, URIs %v", csr.Spec.Username, req.Subject.CommonName, req.EmailAddresses, req.URIs)
	}
	for _, d := range req.DNSNames {
		if d != testNode {
			t.Fatalf("approved foreign DNS SAN %q", d)
		}
	}
	owned := freshInstance().PrivateIPs
	for _, ip := range req.IPAddresses {
		a, _ := netip.AddrFromSlice(ip)
		if !slices.Contains(owned, a.Unmap().String()) {
			t.Fatalf("approved foreign IP SAN %s", ip)
		}
	}
}
