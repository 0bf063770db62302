package approver

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/userdata"
)

// Fixtures shared by the policy tests: one fresh instance of pool
// "workers" asking to join as node ip-10-0-0-1.ec2.internal.

const (
	testNode     = "ip-10-0-0-1.ec2.internal"
	testPeer     = "ip-10-0-0-2.ec2.internal"
	testIP       = "10.0.0.1"
	testPool     = "workers"
	testInstance = "i-0aaaaaaaaaaaaaaa1"
	testToken    = "system:bootstrap:abcdef"
)

var (
	t0        = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	csrCreate = t0.Add(-2 * time.Minute)

	keysMu sync.Mutex
	keys   = map[string]crypto.Signer{}
)

// testKey returns a key of kind p256, p384, p224, rsa1024 or rsa2048,
// generated once per test binary.
func testKey(t testing.TB, kind string) crypto.Signer {
	t.Helper()
	keysMu.Lock()
	defer keysMu.Unlock()
	if k, ok := keys[kind]; ok {
		return k
	}
	var k crypto.Signer
	var err error
	switch kind {
	case "p256":
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "p384":
		k, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "p224":
		k, err = ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	case "rsa1024":
		k, err = rsa.GenerateKey(rand.Reader, 1024)
	case "rsa2048":
		k, err = rsa.GenerateKey(rand.Reader, 2048)
	default:
		err = errors.New("unknown key kind " + kind)
	}
	if err != nil {
		t.Fatal(err)
	}
	keys[kind] = k
	return k
}

// reqSpec describes a certificate request to build; the zero value plus a
// key is a valid kubelet client request for testNode.
type reqSpec struct {
	key     string // key kind; "" is p256
	subject *pkix.Name
	dns     []string
	ips     []string
	emails  []string
	uris    []string
	exts    []pkix.Extension
	attrs   []pkix.AttributeTypeAndValueSET
}

func nodeSubject(name string) pkix.Name {
	return pkix.Name{CommonName: nodeNamePrefix + name, Organization: []string{nodesGroup}}
}

// der builds the DER request of s.
func (s reqSpec) der(t testing.TB) []byte {
	t.Helper()
	kind := s.key
	if kind == "" {
		kind = "p256"
	}
	subj := nodeSubject(testNode)
	if s.subject != nil {
		subj = *s.subject
	}
	tmpl := &x509.CertificateRequest{Subject: subj, DNSNames: s.dns, EmailAddresses: s.emails, ExtraExtensions: s.exts}
	//lint:ignore SA1019 tests forge requests with arbitrary attributes.
	tmpl.Attributes = s.attrs
	for _, ip := range s.ips {
		tmpl.IPAddresses = append(tmpl.IPAddresses, net.ParseIP(ip))
	}
	for _, u := range s.uris {
		parsed, err := url.Parse(u)
		if err != nil {
			t.Fatal(err)
		}
		tmpl.URIs = append(tmpl.URIs, parsed)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, testKey(t, kind))
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// pem builds the PEM request of s.
func (s reqSpec) pem(t testing.TB) []byte {
	t.Helper()
	return pemBlock(csrBlockType, s.der(t))
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

var (
	clientUsagesEC  = []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth}
	servingUsagesEC = []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageServerAuth}
)

func testCSR(t testing.TB, signer, user string, groups []string, usages []certificatesv1.KeyUsage, request []byte) *certificatesv1.CertificateSigningRequest {
	t.Helper()
	return &certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{Name: "csr-test", UID: "uid-test", CreationTimestamp: metav1.NewTime(csrCreate)},
		Spec: certificatesv1.CertificateSigningRequestSpec{
			Request: request, SignerName: signer, Username: user, Groups: groups, Usages: usages,
		},
	}
}

// Groups of the test cluster: testGroup is pool "workers", the others
// another pool and a managed group that is no kelp pool.
const (
	testGroup      = "kelp-dev-workers"
	testGPUGroup   = "kelp-dev-gpu"
	testPlainGroup = "kelp-dev-plain"
)

// testManagedGroups are the groups the test cluster manages, with their
// pools.
func testManagedGroups() map[string]string {
	return map[string]string{testGroup: testPool, testGPUGroup: "gpu", testPlainGroup: ""}
}

// freshInstance is the instance owning testNode: running, in managed pool
// "workers", launched five minutes before now.
func freshInstance() cloud.Instance {
	return cloud.Instance{
		ID: testInstance, ProviderID: "aws:///us-east-1a/" + testInstance, State: cloud.InstanceStateRunning,
		GroupName: testGroup, Pool: testPool,
		PrivateDNSName: testNode, PrivateIPs: []string{testIP, "fd00::1"}, LaunchTime: t0.Add(-5 * time.Minute),
	}
}

// nodeFor is the Node of inst, registered a minute after it launched.
func nodeFor(name string, inst cloud.Instance) *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(inst.LaunchTime.Add(time.Minute).Truncate(time.Second))},
		Spec:       corev1.NodeSpec{ProviderID: inst.ProviderID},
	}
}

// kelpNodeFor is nodeFor with the pool label kelp's user-data sets.
func kelpNodeFor(name string, inst cloud.Instance) *corev1.Node {
	n := nodeFor(name, inst)
	n.Labels = map[string]string{userdata.PoolLabel: testPool}
	return n
}

func baseFacts(csr *certificatesv1.CertificateSigningRequest) Facts {
	return Facts{
		CSR:             csr,
		InstancesByName: []cloud.Instance{freshInstance()},
		Nodes:           3,
		PendingNodeCSRs: 1,
		ManagedGroups:   testManagedGroups(),
		Now:             t0,
		Config:          Config{ClusterName: "dev"},
	}
}

// newNodeFacts: a valid first join through a bootstrap token of pool
// "workers", request built from s.
func newNodeFacts(t testing.TB, s reqSpec) Facts { return newNodeFactsFor(t, s.pem(t)) }

func newNodeFactsFor(t testing.TB, request []byte) Facts {
	groups := []string{"system:bootstrappers", "system:bootstrappers:kelp", "system:bootstrappers:kelp:" + testPool, "system:authenticated"}
	return baseFacts(testCSR(t, certificatesv1.KubeAPIServerClientKubeletSignerName, testToken, groups, clientUsagesEC, request))
}

// renewalFacts: the joined node renews its client certificate.
func renewalFacts(t testing.TB, s reqSpec) Facts { return renewalFactsFor(t, s.pem(t)) }

func renewalFactsFor(t testing.TB, request []byte) Facts {
	groups := []string{nodesGroup, "system:authenticated"}
	f := baseFacts(testCSR(t, certificatesv1.KubeAPIServerClientKubeletSignerName, nodeNamePrefix+testNode, groups, clientUsagesEC, request))
	inst := freshInstance()
	inst.LaunchTime = t0.Add(-300 * 24 * time.Hour)
	f.InstancesByName = []cloud.Instance{inst}
	f.Node, f.NodeInstance = kelpNodeFor(testNode, inst), &inst
	return f
}

// servingSpec is the serving request a kubelet on the fresh instance sends.
func servingSpec() reqSpec {
	return reqSpec{dns: []string{testNode}, ips: []string{testIP}}
}

// servingFacts: the joined node asks for its serving certificate.
func servingFacts(t testing.TB, s reqSpec) Facts { return servingFactsFor(t, s.pem(t)) }

func servingFactsFor(t testing.TB, request []byte) Facts {
	groups := []string{nodesGroup, "system:authenticated"}
	f := baseFacts(testCSR(t, certificatesv1.KubeletServingSignerName, nodeNamePrefix+testNode, groups, servingUsagesEC, request))
	inst := freshInstance()
	f.Node, f.NodeInstance = kelpNodeFor(testNode, inst), &inst
	return f
}

func ptr[T any](v T) *T { return &v }

var oidBasicConstraints = asn1.ObjectIdentifier{2, 5, 29, 19}

func basicConstraintsCA(t testing.TB) pkix.Extension {
	t.Helper()
	v, err := asn1.Marshal(struct {
		IsCA bool
	}{true})
	if err != nil {
		t.Fatal(err)
	}
	return pkix.Extension{Id: oidBasicConstraints, Critical: true, Value: v}
}
