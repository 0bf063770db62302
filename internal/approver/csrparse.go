package approver

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"

	certificatesv1 "k8s.io/api/certificates/v1"
	"k8s.io/apimachinery/pkg/util/validation"
)

// This file holds the pure inspection of a PEM certificate request: strict
// decoding, key strength, subject, SANs, extensions and usages. Every
// function returns an error naming the offending value, or nil.

const (
	csrBlockType = "CERTIFICATE REQUEST"
	nodesGroup   = "system:nodes"
	minRSABits   = 2048
	maxRSABits   = 8192
)

var (
	errMalformedPEM = errors.New("malformed PEM")
	errMalformedDER = errors.New("malformed certificate request")

	oidCommonName       = asn1.ObjectIdentifier{2, 5, 4, 3}
	oidOrganization     = asn1.ObjectIdentifier{2, 5, 4, 10}
	oidSubjectAltName   = asn1.ObjectIdentifier{2, 5, 29, 17}
	oidExtensionRequest = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 14}
)

// ParseCSR decodes a CSR's spec.request strictly: exactly one PEM block of
// type CERTIFICATE REQUEST, without headers, with nothing but whitespace
// before or after it, holding DER without trailing data. It does not check
// the signature. Errors wrap errMalformedPEM or errMalformedDER.
func ParseCSR(data []byte) (*x509.CertificateRequest, error) {
	der, err := decodeSinglePEM(data)
	if err != nil {
		return nil, err
	}
	req, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", errMalformedDER, stableASN1Error(err))
	}
	return req, nil
}

// stableASN1Error is err's text without the field parameters an asn1
// structure error dumps, which hold pointer addresses: the same request
// then always gets the same message.
func stableASN1Error(err error) string {
	var se asn1.StructuralError
	if errors.As(err, &se) {
		msg, _, _ := strings.Cut(se.Msg, " (")
		return "asn1: structure error: " + msg
	}
	return err.Error()
}

func decodeSinglePEM(data []byte) ([]byte, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, fmt.Errorf("%w: request is empty", errMalformedPEM)
	}
	// pem.Decode skips any text before a block, including a broken block:
	// nothing may precede ours, and there may be no other block marker.
	if !bytes.HasPrefix(trimmed, []byte("-----BEGIN ")) {
		return nil, fmt.Errorf("%w: request does not start with a PEM block", errMalformedPEM)
	}
	if b, e := bytes.Count(trimmed, []byte("-----BEGIN")), bytes.Count(trimmed, []byte("-----END")); b != 1 || e != 1 {
		return nil, fmt.Errorf("%w: request holds %d BEGIN and %d END markers, want one block", errMalformedPEM, b, e)
	}
	block, rest := pem.Decode(trimmed)
	switch {
	case block == nil:
		return nil, fmt.Errorf("%w: no PEM block could be decoded", errMalformedPEM)
	case block.Type != csrBlockType:
		return nil, fmt.Errorf("%w: PEM block is %s, want %q", errMalformedPEM, quote(block.Type), csrBlockType)
	case len(block.Headers) > 0:
		return nil, fmt.Errorf("%w: PEM block has %d headers, want none", errMalformedPEM, len(block.Headers))
	case len(bytes.TrimSpace(rest)) > 0:
		if next, _ := pem.Decode(rest); next != nil {
			return nil, fmt.Errorf("%w: a second PEM block %s follows the request", errMalformedPEM, quote(next.Type))
		}
		return nil, fmt.Errorf("%w: %d bytes of trailing data follow the PEM block", errMalformedPEM, len(bytes.TrimSpace(rest)))
	}
	return block.Bytes, nil
}

// checkKey accepts ECDSA P-256 and P-384 and RSA keys of 2048 to 8192 bits.
func checkKey(pub any) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P256() || k.Curve == elliptic.P384() {
			return nil
		}
		return fmt.Errorf("ECDSA key on curve %s, want P-256 or P-384", k.Curve.Params().Name)
	case *rsa.PublicKey:
		if bits := k.N.BitLen(); bits < minRSABits || bits > maxRSABits {
			return fmt.Errorf("RSA key of %d bits, want %d to %d", bits, minRSABits, maxRSABits)
		}
		return nil
	case ed25519.PublicKey:
		return errors.New("Ed25519 key, want ECDSA P-256/P-384 or RSA ≥ 2048 bits")
	}
	return fmt.Errorf("key of type %T, want ECDSA P-256/P-384 or RSA ≥ 2048 bits", pub)
}

// nodeNameFromCN returns <name> of a common name system:node:<name>, where
// name must be a DNS-1123 subdomain (a valid Node name).
func nodeNameFromCN(cn string) (string, error) {
	name, ok := strings.CutPrefix(cn, nodeNamePrefix)
	if !ok {
		return "", fmt.Errorf("common name %s does not start with %q", quote(cn), nodeNamePrefix)
	}
	if msgs := validation.IsDNS1123Subdomain(name); len(msgs) > 0 {
		return "", fmt.Errorf("common name %s names no valid node: %s", quote(cn), strings.Join(msgs, "; "))
	}
	return name, nil
}

// checkOrganization requires O to be exactly [system:nodes].
func checkOrganization(req *x509.CertificateRequest) error {
	if !slices.Equal(req.Subject.Organization, []string{nodesGroup}) {
		return fmt.Errorf("organization %s, want [%q]", quoteAll(req.Subject.Organization), nodesGroup)
	}
	return nil
}

// checkSubjectFields requires the subject to hold exactly one CN and one O
// attribute: no OU, C, L, ST, serial number or any other attribute.
func checkSubjectFields(req *x509.CertificateRequest) error {
	var cn, o int
	var extra []string
	for _, atv := range req.Subject.Names {
		switch {
		case atv.Type.Equal(oidCommonName):
			cn++
		case atv.Type.Equal(oidOrganization):
			o++
		default:
			extra = append(extra, quote(fmt.Sprintf("%s=%v", atv.Type, atv.Value)))
		}
	}
	switch {
	case len(extra) > 0:
		return fmt.Errorf("subject has attributes other than CN and O: %s", quoteAll(extra))
	case cn != 1 || o != 1:
		return fmt.Errorf("subject has %d CN and %d O attributes, want one of each", cn, o)
	}
	return nil
}

// sanSummary lists every SAN the request carries, Go-parsed or not.
type sanSummary struct {
	DNS, Email, URI []string
	IP              []netip.Addr
	// Other counts general names of types Go does not parse (otherName,
	// directoryName, registeredID, x400Address, ediPartyName).
	Other int
	// Extensions is the number of SAN extensions requested.
	Extensions int
}

func (s sanSummary) total() int {
	return len(s.DNS) + len(s.Email) + len(s.URI) + len(s.IP) + s.Other
}

// summarizeSANs reads the parsed SANs and counts the raw general names Go
// ignores.
func summarizeSANs(req *x509.CertificateRequest) (sanSummary, error) {
	s := sanSummary{DNS: req.DNSNames, Email: req.EmailAddresses}
	for _, u := range req.URIs {
		s.URI = append(s.URI, u.String())
	}
	for _, ip := range req.IPAddresses {
		a, ok := netip.AddrFromSlice(ip)
		if !ok {
			return s, fmt.Errorf("IP SAN %v cannot be read", ip)
		}
		s.IP = append(s.IP, a.Unmap())
	}
	for _, ext := range req.Extensions {
		if !ext.Id.Equal(oidSubjectAltName) {
			continue
		}
		s.Extensions++
		other, err := countOtherGeneralNames(ext.Value)
		if err != nil {
			return s, err
		}
		s.Other += other
	}
	return s, nil
}

// countOtherGeneralNames returns how many general names in a SAN extension
// value are neither rfc822Name (1), dNSName (2), URI (6) nor iPAddress (7).
func countOtherGeneralNames(value []byte) (int, error) {
	var seq asn1.RawValue
	if rest, err := asn1.Unmarshal(value, &seq); err != nil || len(rest) > 0 || seq.Tag != asn1.TagSequence {
		return 0, errors.New("SAN extension is not a DER sequence")
	}
	n := 0
	for rest := seq.Bytes; len(rest) > 0; {
		var gn asn1.RawValue
		var err error
		if rest, err = asn1.Unmarshal(rest, &gn); err != nil {
			return 0, fmt.Errorf("SAN extension holds a malformed general name: %v", err)
		}
		if gn.Class != asn1.ClassContextSpecific || !slices.Contains([]int{1, 2, 6, 7}, gn.Tag) {
			n++
		}
	}
	return n, nil
}

// checkNoSANs requires a request without any SAN and without a SAN
// extension (client certificates name the node by CN only).
func checkNoSANs(s sanSummary) error {
	if s.total() == 0 && s.Extensions == 0 {
		return nil
	}
	return fmt.Errorf("subject alternative names are not allowed: dns=%s ip=%s email=%s uri=%s other=%d",
		quoteAll(s.DNS), quoteAll(addrStrings(s.IP)), quoteAll(s.Email), quoteAll(s.URI), s.Other)
}

// checkServingSANTypes requires at least one DNS or IP SAN, exactly one SAN
// extension, and no email, URI or other general names.
func checkServingSANTypes(s sanSummary) error {
	switch {
	case len(s.Email) > 0 || len(s.URI) > 0 || s.Other > 0:
		return fmt.Errorf("only DNS and IP SANs are allowed: email=%s uri=%s other=%d", quoteAll(s.Email), quoteAll(s.URI), s.Other)
	case len(s.DNS)+len(s.IP) == 0:
		return errors.New("no DNS or IP subject alternative name")
	case s.Extensions != 1:
		return fmt.Errorf("%d SAN extensions, want 1", s.Extensions)
	}
	return nil
}

// checkExtensions allows, among the requested extensions, only a SAN
// extension and only when allowSAN; and, among the request's attributes,
// only one extensionRequest.
func checkExtensions(req *x509.CertificateRequest, allowSAN bool) error {
	for _, ext := range req.Extensions {
		if allowSAN && ext.Id.Equal(oidSubjectAltName) {
			continue
		}
		return fmt.Errorf("requested extension %s is not allowed", quote(ext.Id.String()))
	}
	oids, err := attributeOIDs(req.RawTBSCertificateRequest)
	if err != nil {
		return err
	}
	seen := 0
	for _, oid := range oids {
		if !oid.Equal(oidExtensionRequest) {
			return fmt.Errorf("request attribute %s is not allowed", quote(oid.String()))
		}
		if seen++; seen > 1 {
			return errors.New("request carries more than one extensionRequest attribute")
		}
	}
	return nil
}

// attributeOIDs returns the type of every attribute of a DER
// CertificationRequestInfo.
func attributeOIDs(tbs []byte) ([]asn1.ObjectIdentifier, error) {
	var info struct {
		Version    int
		Subject    asn1.RawValue
		PublicKey  asn1.RawValue
		Attributes []asn1.RawValue `asn1:"tag:0"`
	}
	if _, err := asn1.Unmarshal(tbs, &info); err != nil {
		return nil, fmt.Errorf("request attributes cannot be read: %v", err)
	}
	oids := make([]asn1.ObjectIdentifier, 0, len(info.Attributes))
	for _, raw := range info.Attributes {
		var attr struct {
			Type   asn1.ObjectIdentifier
			Values asn1.RawValue
		}
		if _, err := asn1.Unmarshal(raw.FullBytes, &attr); err != nil {
			return nil, fmt.Errorf("request attribute cannot be read: %v", err)
		}
		oids = append(oids, attr.Type)
	}
	return oids, nil
}

// addrStrings renders addresses for messages.
func addrStrings(as []netip.Addr) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.String()
	}
	return out
}

// usageSet returns the distinct usages, sorted, for messages and
// comparison.
func usageSet(usages []certificatesv1.KeyUsage) []string {
	out := make([]string, 0, len(usages))
	for _, u := range usages {
		out = append(out, string(u))
	}
	sort.Strings(out)
	return slices.Compact(out)
}

// checkUsages requires the set of usages to equal one of allowed.
func checkUsages(usages []certificatesv1.KeyUsage, allowed ...[]certificatesv1.KeyUsage) error {
	got := usageSet(usages)
	for _, want := range allowed {
		if slices.Equal(got, usageSet(want)) {
			return nil
		}
	}
	wants := make([]string, 0, len(allowed))
	for _, want := range allowed {
		wants = append(wants, fmt.Sprintf("%q", usageSet(want)))
	}
	return fmt.Errorf("usages %s, want one of %s", quoteAll(got), strings.Join(wants, " or "))
}

// keyName describes pub for messages: "ECDSA P-256", "RSA 2048".
func keyName(pub any) string {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA %d", k.N.BitLen())
	}
	return fmt.Sprintf("%T", pub)
}

// isRSA reports whether pub is an RSA key (key encipherment is meaningful
// only for RSA).
func isRSA(pub any) bool {
	_, ok := pub.(*rsa.PublicKey)
	return ok
}
