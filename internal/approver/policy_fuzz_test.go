package approver

import (
	"bytes"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"net/netip"
	"slices"
	"testing"

	certificatesv1 "k8s.io/api/certificates/v1"
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

// FuzzDecide decides fuzzed requests and requestors against facts that
// would let a valid request through, and checks an approval is always
// justified: a single request with a valid signature, and for each kind
// what the naive rule demands.
func FuzzDecide(f *testing.F) {
	for i, s := range fuzzSeeds(f) {
		f.Add(s, uint8(i%3), uint8(0), "", int32(0))
	}
	f.Add(reqSpec{}.pem(f), uint8(0), uint8(0), testToken, int32(3600))
	f.Add(servingSpec().pem(f), uint8(1), uint8(0), nodeNamePrefix+testNode, int32(0))
	// Facts are built around the fuzzed request; no key work per input.
	f.Fuzz(func(t *testing.T, request []byte, kind, usageBits uint8, username string, expiration int32) {
		var facts Facts
		switch kind % 3 {
		case 0:
			facts = newNodeFactsFor(t, request)
		case 1:
			facts = servingFactsFor(t, request)
		default:
			facts = renewalFactsFor(t, request)
		}
		csr := facts.CSR
		csr.Spec.Request = request
		if username != "" {
			csr.Spec.Username = username
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
		if v.Action != ActionApprove {
			return
		}
		req, ok := singleCSR(request)
		if !ok || req.CheckSignature() != nil {
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
		case KindRenewal:
			if csr.Spec.Username != req.Subject.CommonName || len(req.Extensions) > 0 {
				t.Fatalf("approved renewal %s for %q", v, csr.Spec.Username)
			}
		}
	})
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
