package approver

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/kelp-dev/kelp/internal/cloud"
)

// world is a new-node CSR under construction: the request spec and the
// facts; raw, when set, replaces the PEM built from spec.
type world struct {
	spec reqSpec
	f    Facts
	raw  func([]byte) []byte
}

// mutation changes a valid world. A harmful mutation always makes the CSR
// unacceptable; a harmless one never does.
type mutation struct {
	name string
	// slot is what the mutation sets; a later mutation of the same slot
	// overrides an earlier one (and its harm).
	slot    string
	harmful bool
	apply   func(r *rand.Rand, w *world)
}

func pick[T any](r *rand.Rand, xs ...T) T { return xs[r.IntN(len(xs))] }

func subj(w *world) *pkix.Name {
	if w.spec.subject == nil {
		s := nodeSubject(testNode)
		w.spec.subject = &s
	}
	return w.spec.subject
}

var allUsages = []certificatesv1.KeyUsage{
	certificatesv1.UsageDigitalSignature, certificatesv1.UsageKeyEncipherment, certificatesv1.UsageClientAuth,
	certificatesv1.UsageServerAuth, certificatesv1.UsageCodeSigning, certificatesv1.UsageCertSign,
}

func mutations(t *testing.T) []mutation {
	return slices.Concat(requestMutations(t), specMutations(), factMutations(), harmlessMutations())
}

// onInstances applies mut to every instance found by name.
func onInstances(mut func(*rand.Rand, *cloud.Instance)) func(*rand.Rand, *world) {
	return func(r *rand.Rand, w *world) {
		for i := range w.f.InstancesByName {
			mut(r, &w.f.InstancesByName[i])
		}
	}
}

func requestMutations(t *testing.T) []mutation {
	return []mutation{
		// Harmful: the request.
		{"cn", "cn", true, func(r *rand.Rand, w *world) {
			subj(w).CommonName = pick(r, nodeNamePrefix+testPeer, "system:admin", "", nodeNamePrefix, testNode, nodeNamePrefix+strings.ToUpper(testNode))
		}},
		{"organization", "org", true, func(r *rand.Rand, w *world) {
			subj(w).Organization = pick(r, []string{"system:masters"}, []string{nodesGroup, "system:masters"}, nil, []string{"system:nodes "}, []string{nodesGroup, nodesGroup})
		}},
		{"subject field", "subject", true, func(r *rand.Rand, w *world) {
			s := subj(w)
			switch r.IntN(5) {
			case 0:
				s.OrganizationalUnit = []string{"ops"}
			case 1:
				s.Country = []string{"CH"}
			case 2:
				s.Locality, s.Province = []string{"Bern"}, []string{"BE"}
			case 3:
				s.SerialNumber = "1"
			default:
				s.ExtraNames = []pkix.AttributeTypeAndValue{{Type: oidCommonName, Value: nodeNamePrefix + testPeer}}
			}
		}},
		{"san", "san", true, func(r *rand.Rand, w *world) {
			switch r.IntN(4) {
			case 0:
				w.spec.dns = []string{testNode}
			case 1:
				w.spec.ips = []string{testIP}
			case 2:
				w.spec.emails = []string{"a@b.c"}
			default:
				w.spec.uris = []string{"spiffe://x/y"}
			}
		}},
		{"extension", "ext", true, func(r *rand.Rand, w *world) { w.spec.exts = []pkix.Extension{basicConstraintsCA(t)} }},
		{"attribute", "attr", true, func(r *rand.Rand, w *world) {
			oid := asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 7}
			w.spec.attrs = []pkix.AttributeTypeAndValueSET{{Type: oid, Value: [][]pkix.AttributeTypeAndValue{{{Type: oid, Value: "pw"}}}}}
		}},
		{"weak key", "key", true, func(r *rand.Rand, w *world) { w.spec.key = pick(r, "p224", "rsa1024") }},
		{"raw request", "raw", true, func(r *rand.Rand, w *world) {
			n := r.IntN(1 << 16)
			w.raw = pick(r,
				func(b []byte) []byte { return append(append([]byte{}, b...), make([]byte, MaxRequestBytes)...) },
				func(b []byte) []byte { return append(b, "x"...) },
				func(b []byte) []byte { return append([]byte("x"), b...) },
				func(b []byte) []byte { return append(append([]byte{}, b...), b...) },
				func(b []byte) []byte {
					block, _ := pem.Decode(b)
					block.Bytes[n%len(block.Bytes)] ^= byte(1 + n%255)
					return pem.EncodeToMemory(block)
				})
		}},
	}
}

// specMutations change the CSR's spec and status around the request.
func specMutations() []mutation {
	return []mutation{
		{"usages", "usages", true, func(r *rand.Rand, w *world) {
			for {
				var us []certificatesv1.KeyUsage
				for _, u := range allUsages {
					if r.IntN(2) == 0 {
						us = append(us, u)
					}
				}
				if checkUsages(us, clientUsages...) != nil {
					w.f.CSR.Spec.Usages = us
					return
				}
			}
		}},
		{"expiration", "expiration", true, func(r *rand.Rand, w *world) {
			w.f.CSR.Spec.ExpirationSeconds = ptr(pick(r, int32(0), int32(599), int32(DefaultMaxExpiration/time.Second)+1+r.Int32N(1000)))
		}},
		{"signer", "signer", true, func(r *rand.Rand, w *world) {
			w.f.CSR.Spec.SignerName = pick(r, certificatesv1.KubeletServingSignerName, certificatesv1.KubeAPIServerClientSignerName, "kubernetes.io/legacy-unknown")
		}},
		{"username", "username", true, func(r *rand.Rand, w *world) {
			w.f.CSR.Spec.Username = pick(r, nodeNamePrefix+testNode, "system:serviceaccount:a:b", "admin", "system:bootstrap:ABCDEF", "system:bootstrap:")
		}},
		{"kubeadm token", "groups", true, func(r *rand.Rand, w *world) {
			w.f.CSR.Spec.Groups = pick(r, []string{"system:bootstrappers", "system:bootstrappers:kubeadm:default-node-token"}, []string{"system:bootstrappers:kelpx:" + testPool})
		}},
		{"pool group", "groups", true, func(r *rand.Rand, w *world) {
			g := w.f.CSR.Spec.Groups
			switch r.IntN(3) {
			case 0:
				w.f.CSR.Spec.Groups = slices.DeleteFunc(g, func(s string) bool { return strings.HasSuffix(s, ":"+testPool) })
			case 1:
				w.f.CSR.Spec.Groups = append(g, "system:bootstrappers:kelp:gpu")
			default:
				w.f.CSR.Spec.Groups = []string{"system:bootstrappers", "system:bootstrappers:kelp:gpu"}
			}
		}},
		{"already decided", "status", true, func(r *rand.Rand, w *world) {
			typ := pick(r, certificatesv1.CertificateApproved, certificatesv1.CertificateDenied, certificatesv1.CertificateFailed)
			w.f.CSR.Status.Conditions = []certificatesv1.CertificateSigningRequestCondition{{Type: typ, Status: corev1.ConditionTrue}}
		}},
	}
}

func factMutations() []mutation {
	inst := onInstances
	return []mutation{
		{"instance state", "state", true, inst(func(r *rand.Rand, i *cloud.Instance) {
			i.State = pick(r, cloud.InstanceStateTerminating, cloud.InstanceStateTerminated, cloud.InstanceStateUnknown, "stopped")
		})},
		{"unmanaged", "managed", true, inst(func(r *rand.Rand, i *cloud.Instance) { i.GroupName = pick(r, "", "someone-elses-asg") })},
		{"instance pool", "pool", true, inst(func(r *rand.Rand, i *cloud.Instance) { i.GroupName = pick(r, testPlainGroup, testGPUGroup) })},
		{"instance name", "name", true, inst(func(r *rand.Rand, i *cloud.Instance) { i.PrivateDNSName = pick(r, "", testPeer) })},
		{"launch too old", "launch", true, inst(func(r *rand.Rand, i *cloud.Instance) {
			i.LaunchTime = t0.Add(-DefaultJoinWindow - time.Duration(1+r.IntN(1e6))*time.Millisecond)
		})},
		{"launch after csr", "launch", true, inst(func(r *rand.Rand, i *cloud.Instance) {
			i.LaunchTime = csrCreate.Add(time.Duration(1+r.IntN(60)) * time.Second)
		})},
		{"duplicate instance", "instances", true, func(_ *rand.Rand, w *world) {
			twin := freshInstance()
			twin.ID = "i-0twin"
			w.f.InstancesByName = append(w.f.InstancesByName, twin)
		}},
		{"no instance", "instances", true, func(_ *rand.Rand, w *world) { w.f.InstancesByName = nil }},
		{"cloud error", "cloud", true, func(_ *rand.Rand, w *world) { w.f.CloudErr = errors.New("down") }},
		{"node exists", "node", true, func(r *rand.Rand, w *world) {
			i := freshInstance()
			i.State = pick(r, cloud.InstanceStateRunning, cloud.InstanceStatePending, cloud.InstanceStateTerminating)
			w.f.Node, w.f.NodeInstance = nodeFor(testNode, i), &i
			if r.IntN(3) == 0 {
				w.f.Node.Spec.ProviderID, w.f.NodeInstance = "", nil
			}
		}},
		{"replay", "prior", true, func(_ *rand.Rand, w *world) {
			w.f.PriorApprovals = map[string]Approval{testInstance: {CSRName: "old", CSRUID: "uid-old", At: t0}}
		}},
		{"flood", "flood", true, func(r *rand.Rand, w *world) {
			w.f.PendingAhead = w.f.Nodes + DefaultFloodHeadroom + r.IntN(100)
			w.f.PendingNodeCSRs = w.f.PendingAhead + 1 + r.IntN(100)
		}},
		{"contested", "contested", true, func(r *rand.Rand, w *world) {
			w.f.ContestingCSRs = pick(r, []string{"node-csr-a"}, []string{"node-csr-a", "node-csr-b"})
		}},
	}
}

func harmlessMutations() []mutation {
	inst := onInstances
	return []mutation{
		{"usage order", "usages", false, func(r *rand.Rand, w *world) {
			w.f.CSR.Spec.Usages = pick(r, []certificatesv1.KeyUsage{"client auth", "digital signature"}, []certificatesv1.KeyUsage{"digital signature", "client auth", "client auth"})
		}},
		{"group order", "group-order", false, func(r *rand.Rand, w *world) {
			g := slices.Clone(w.f.CSR.Spec.Groups)
			r.Shuffle(len(g), func(i, j int) { g[i], g[j] = g[j], g[i] })
			w.f.CSR.Spec.Groups = append(g, pick(r, "example:team", g[0]))
		}},
		{"whitespace", "raw", false, func(_ *rand.Rand, w *world) {
			w.raw = func(b []byte) []byte { return append(append([]byte("\n  "), b...), "\n\n"...) }
		}},
		{"strong key", "key", false, func(r *rand.Rand, w *world) { w.spec.key = pick(r, "p256", "p384", "rsa2048") }},
		{"stale node", "node", false, func(r *rand.Rand, w *world) {
			old := cloud.Instance{ID: "i-0old", ProviderID: "aws:///us-east-1a/i-0old", State: cloud.InstanceStateTerminated}
			w.f.Node, w.f.NodeInstance = nodeFor(testNode, old), nil
			if r.IntN(2) == 0 {
				w.f.NodeInstance = &old
			}
		}},
		{"same csr recorded", "prior", false, func(_ *rand.Rand, w *world) {
			w.f.PriorApprovals = map[string]Approval{testInstance: {CSRName: "csr-test", CSRUID: w.f.CSR.UID, At: t0}}
		}},
		{"other approvals", "prior", false, func(_ *rand.Rand, w *world) {
			w.f.PriorApprovals = map[string]Approval{"i-0other": {CSRUID: "x", At: t0}}
		}},
		{"pending csrs", "flood", false, func(r *rand.Rand, w *world) {
			// Many pending, but this one within the headroom.
			w.f.PendingAhead = r.IntN(w.f.Nodes + DefaultFloodHeadroom)
			w.f.PendingNodeCSRs = w.f.PendingAhead + 1 + r.IntN(1000)
		}},
		{"expiration within", "expiration", false, func(r *rand.Rand, w *world) {
			w.f.CSR.Spec.ExpirationSeconds = ptr(600 + r.Int32N(int32(DefaultMaxExpiration/time.Second)-599))
		}},
		{"instance pending", "state", false, inst(func(_ *rand.Rand, i *cloud.Instance) { i.State = cloud.InstanceStatePending })},
		{"launch within", "launch", false, inst(func(r *rand.Rand, i *cloud.Instance) {
			i.LaunchTime = csrCreate.Add(-time.Duration(r.IntN(int(DefaultJoinWindow-2*time.Minute)/int(time.Second))) * time.Second)
		})},
	}
}

// TestDecideMutations applies random mutations to a valid new-node CSR and
// compares Decide with naiveApprove: approval iff every mutation was
// harmless.
func TestDecideMutations(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 2026))
	muts := mutations(t)
	reasons := map[string]int{}
	runs := 600
	if testing.Short() {
		runs = 100
	}
	for i := range runs {
		w := world{f: newNodeFacts(t, reqSpec{})}
		var applied []string
		harm := map[string]bool{}
		for range 1 + r.IntN(3) {
			m := muts[r.IntN(len(muts))]
			m.apply(r, &w)
			applied = append(applied, m.name)
			harm[m.slot] = m.harmful
		}
		harmful := slices.Contains(slices.Collect(maps.Values(harm)), true)
		w.f.CSR.Spec.Request = w.spec.pem(t)
		if w.raw != nil {
			w.f.CSR.Spec.Request = w.raw(w.f.CSR.Spec.Request)
		}
		v := Decide(w.f)
		got, ref := v.Action == ActionApprove, naiveApprove(w.f)
		if got != ref || got == harmful {
			t.Fatalf("run %d, mutations %q (harmful %v): Decide = %s %s (%s), naive reference approves: %v",
				i, applied, harmful, v.Action, v.Reason, v.Message, ref)
		}
		assertConsistent(t, v)
		if !naiveKelpToken(w.f.CSR) && w.f.CSR.Spec.SignerName == certificatesv1.KubeAPIServerClientKubeletSignerName &&
			!strings.HasPrefix(w.f.CSR.Spec.Username, nodeNamePrefix) && v.Action != ActionIgnore {
			t.Fatalf("run %d, mutations %q: %s %s for a requestor that is not kelp's", i, applied, v.Action, v.Reason)
		}
		reasons[string(v.Action)+" "+v.Reason]++
	}
	t.Logf("%d runs: %v", runs, reasons)
}

// naiveKelpToken is the scope of a new node's CSR, written out plainly:
// a bootstrap token with group system:bootstrappers:kelp or one under it.
func naiveKelpToken(csr *certificatesv1.CertificateSigningRequest) bool {
	if !strings.HasPrefix(csr.Spec.Username, "system:bootstrap:") {
		return false
	}
	for _, g := range csr.Spec.Groups {
		if g == "system:bootstrappers:kelp" || strings.HasPrefix(g, "system:bootstrappers:kelp:") {
			return true
		}
	}
	return false
}

// naiveApprove is the new-node rule written out plainly, as a reference.
func naiveApprove(f Facts) bool {
	csr := f.CSR
	if csr.Spec.SignerName != certificatesv1.KubeAPIServerClientKubeletSignerName || len(csr.Status.Conditions) > 0 ||
		!naiveKelpToken(csr) || len(csr.Spec.Request) > 16<<10 {
		return false
	}
	id, ok := strings.CutPrefix(csr.Spec.Username, "system:bootstrap:")
	if !ok || len(id) != 6 || strings.ToLower(id) != id {
		return false
	}
	data := bytes.TrimSpace(csr.Spec.Request)
	block, rest := pem.Decode(data)
	if block == nil || !bytes.HasPrefix(data, []byte("-----BEGIN")) || block.Type != "CERTIFICATE REQUEST" ||
		len(block.Headers) > 0 || len(bytes.TrimSpace(rest)) > 0 {
		return false
	}
	req, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil || req.CheckSignature() != nil {
		return false
	}
	switch k := req.PublicKey.(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() && k.Curve != elliptic.P384() {
			return false
		}
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return false
		}
	default:
		return false
	}
	//lint:ignore SA1019 the reference reads attributes the simple way.
	attrs := req.Attributes
	if req.Subject.CommonName != "system:node:"+testNode || len(req.Subject.Names) != 2 ||
		!slices.Equal(req.Subject.Organization, []string{"system:nodes"}) ||
		len(req.DNSNames)+len(req.IPAddresses)+len(req.EmailAddresses)+len(req.URIs)+len(req.Extensions)+len(attrs) > 0 {
		return false
	}
	us := usageSet(csr.Spec.Usages)
	if !slices.Equal(us, []string{"client auth", "digital signature"}) && !slices.Equal(us, []string{"client auth", "digital signature", "key encipherment"}) {
		return false
	}
	if e := csr.Spec.ExpirationSeconds; e != nil && (*e < 600 || time.Duration(*e)*time.Second > DefaultMaxExpiration) {
		return false
	}
	// The token is bound to one pool, or to one instance (instance:<id>).
	var bindings []string
	for _, g := range csr.Spec.Groups {
		if p, ok := strings.CutPrefix(g, "system:bootstrappers:kelp:"); ok && !slices.Contains(bindings, p) {
			bindings = append(bindings, p)
		}
	}
	if len(bindings) != 1 || f.CloudErr != nil || len(f.InstancesByName) != 1 || f.PendingAhead >= f.Nodes+100 {
		return false
	}
	boundTo, toInstance := strings.CutPrefix(bindings[0], "instance:")
	if len(f.ContestingCSRs) > 0 && !toInstance {
		return false
	}
	in := f.InstancesByName[0]
	pool, managed := f.ManagedGroups[in.GroupName]
	if in.PrivateDNSName != testNode || (in.State != cloud.InstanceStateRunning && in.State != cloud.InstanceStatePending) || in.GroupName == "" || !managed ||
		in.LaunchTime.Before(f.Now.Add(-30*time.Minute)) || in.LaunchTime.After(csr.CreationTimestamp.Time) {
		return false
	}
	if (toInstance && (in.ID != boundTo || pool == "")) || (!toInstance && pool != bindings[0]) {
		return false
	}
	if n := f.Node; n != nil && (n.Spec.ProviderID == "" || (f.NodeInstance != nil && f.NodeInstance.State != cloud.InstanceStateTerminated)) {
		return false
	}
	if a, ok := f.PriorApprovals[in.ID]; ok && a.CSRUID != csr.UID {
		return false
	}
	return true
}
