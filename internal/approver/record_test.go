package approver

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"maps"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/kelp-dev/kelp/internal/cloud"
)

// issue returns csr signed, as kube-controller-manager would: approved,
// with a certificate valid until notAfter; and that certificate's SHA-256.
func issue(t testing.TB, csr *certificatesv1.CertificateSigningRequest, notAfter time.Time) (*certificatesv1.CertificateSigningRequest, string) {
	t.Helper()
	key := testKey(t, "p256")
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "system:node:" + testNode},
		NotBefore: t0.Add(-time.Hour), NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	out := csr.DeepCopy()
	out.Status.Conditions = append(out.Status.Conditions, Decision{Approve: true, Reason: ReasonApproved}.condition(t0))
	out.Status.Certificate = pemBlock("CERTIFICATE", der)
	sum := sha256.Sum256(der)
	return out, hex.EncodeToString(sum[:])
}

func TestRecordIssuedCertificates(t *testing.T) {
	client := fake.NewClientset()
	r := &ApprovalRecord{Client: client}
	ctx := context.Background()
	join := newNodeFacts(t, reqSpec{}).CSR
	if err := r.Add(ctx, testInstance, Approval{CSRName: join.Name, CSRUID: join.UID, At: t0, NodeName: testNode}, t0); err != nil {
		t.Fatal(err)
	}
	issuedJoin, joinSum := issue(t, join, t0.Add(24*time.Hour))
	if id, err := r.Issued(ctx, issuedJoin, t0); err != nil || id != testInstance {
		t.Fatalf("Issued(join) = %q, %v", id, err)
	}
	if id, err := r.Issued(ctx, issuedJoin, t0); err != nil || id != "" { // idempotent
		t.Fatalf("Issued(join) again = %q, %v; want nothing more recorded", id, err)
	}
	renewal := renewalFacts(t, reqSpec{}).CSR
	renewal.UID = "uid-renewal"
	if err := r.Await(ctx, testInstance, Approval{CSRName: renewal.Name, CSRUID: renewal.UID, At: t0, NodeName: testNode}, t0); err != nil {
		t.Fatal(err)
	}
	issuedRenewal, renewalSum := issue(t, renewal, t0.Add(48*time.Hour))
	if _, err := r.Issued(ctx, issuedRenewal, t0); err != nil {
		t.Fatal(err)
	}
	// A certificate kelp did not approve is not recorded.
	stranger := renewal.DeepCopy()
	stranger.UID = "uid-stranger"
	stranger, _ = issue(t, stranger, t0.Add(time.Hour))
	if id, err := r.Issued(ctx, stranger, t0); err != nil || id != "" {
		t.Errorf("Issued(stranger) = %q, %v; want nothing recorded", id, err)
	}
	fresh := &ApprovalRecord{Client: client} // read back from the API
	got, err := fresh.Approvals(ctx)
	if err != nil {
		t.Fatal(err)
	}
	a := got[testInstance]
	if a.NodeName != testNode || a.CSRUID != join.UID || len(a.Certificates) != 2 ||
		a.Certificates[0].SHA256 != joinSum || a.Certificates[1].SHA256 != renewalSum ||
		!a.Certificates[1].NotAfter.Equal(t0.Add(48*time.Hour)) || a.Certificates[1].CSRUID != renewal.UID {
		t.Fatalf("record: %+v, want the join's and the renewal's certificates", a)
	}

	// Past the retention the entry stays while a certificate is unexpired;
	// the expired one is pruned.
	if err := r.Prune(ctx, t0.Add(36*time.Hour)); err != nil {
		t.Fatal(err)
	}
	got, _ = r.Approvals(ctx)
	if certs := got[testInstance].Certificates; len(certs) != 1 || certs[0].SHA256 != renewalSum {
		t.Fatalf("after the join's certificate expired: %+v, want only the renewal's", certs)
	}
	// Once every certificate expired, the entry goes.
	if err := r.Prune(ctx, t0.Add(49*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got, _ = r.Approvals(ctx); len(got) != 0 {
		t.Fatalf("after every certificate expired: %+v, want no entry", got)
	}
}

func TestRecordForgetAndRenewalOfUnknownInstance(t *testing.T) {
	client := fake.NewClientset()
	r := &ApprovalRecord{Client: client}
	ctx := context.Background()
	// An instance that joined before kelp kept records renews: it gets an
	// entry, so its certificate is recorded.
	renewal := renewalFacts(t, reqSpec{}).CSR
	if err := r.Await(ctx, "i-old", Approval{CSRName: renewal.Name, CSRUID: renewal.UID, At: t0}, t0); err != nil {
		t.Fatal(err)
	}
	if err := r.Add(ctx, testInstance, Approval{CSRName: "csr-join", CSRUID: "uid-join", At: t0}, t0); err != nil {
		t.Fatal(err)
	}
	issued, _ := issue(t, renewal, t0.Add(time.Hour))
	if id, err := r.Issued(ctx, issued, t0); err != nil || id != "i-old" {
		t.Fatalf("Issued = %q, %v", id, err)
	}
	// A join for an instance with an entry is a replay.
	if err := r.Add(ctx, "i-old", Approval{CSRName: "csr-late", CSRUID: "uid-late", At: t0}, t0); err == nil || !strings.Contains(err.Error(), ErrAlreadyRecorded.Error()) {
		t.Errorf("join of an instance that renewed: %v, want ErrAlreadyRecorded", err)
	}
	if err := r.Forget(ctx, []string{"i-old"}, t0); err != nil {
		t.Fatal(err)
	}
	cm, err := client.CoreV1().ConfigMaps(RecordNamespace).Get(ctx, RecordName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := cm.Data["i-old"]; ok || len(cm.Data) != 1 {
		t.Errorf("after Forget: %v, want only %s", cm.Data, testInstance)
	}
	if r.Bytes() != len(testInstance)+len(cm.Data[testInstance]) {
		t.Errorf("Bytes() = %d, want the size of the data", r.Bytes())
	}
	// A join whose certificate never came is dropped after the retention.
	if err := r.Prune(ctx, t0.Add(RecordRetention+time.Second)); err != nil {
		t.Fatal(err)
	}
	if got, _ := r.Approvals(ctx); len(got) != 0 {
		t.Errorf("entry without certificate past retention kept: %+v", got)
	}
}

// TestControllerRecordsRenewals: approving a renewal records that its
// certificate is awaited; when the signed CSR is seen, the certificate
// lands in the instance's entry. The garbage collection then forgets
// instances that are terminated or gone.
func TestControllerRecordsRenewals(t *testing.T) {
	renewal := renewalFacts(t, reqSpec{}).CSR
	c, client, _ := newTestController(t, renewal)
	ctx := context.Background()
	v := Verdict{Action: ActionApprove, Reason: ReasonApproved, Kind: KindRenewal, NodeName: testNode, InstanceID: testInstance}
	if _, err := c.act(ctx, renewal, v); err != nil {
		t.Fatal(err)
	}
	signed, sum := issue(t, getCSR(t, client, renewal.Name), t0.Add(24*time.Hour))
	if _, err := client.CertificatesV1().CertificateSigningRequests().UpdateStatus(ctx, signed, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.sync(ctx, renewal.Name); err != nil {
		t.Fatal(err)
	}
	got, err := (&ApprovalRecord{Client: client}).Approvals(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if certs := got[testInstance].Certificates; len(certs) != 1 || certs[0].SHA256 != sum {
		t.Fatalf("record after the renewal was issued: %+v, want its certificate %s", got, sum)
	}
	if testutil.ToFloat64(c.Metrics.RecordBytes) == 0 {
		t.Error("kelp_csr_record_bytes not set")
	}

	// GC: the live instance stays; terminated and unknown ones go.
	dead := cloud.Instance{ID: "i-dead", State: cloud.InstanceStateTerminated}
	c.Instances = testCloud(freshInstance(), dead)
	for _, id := range []string{"i-dead", "i-unknown"} {
		if err := c.Sources.Record.Add(ctx, id, Approval{CSRName: "csr-" + id, CSRUID: types.UID("uid-" + id), At: t0}, t0); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.CollectRecord(ctx); err != nil {
		t.Fatal(err)
	}
	got, _ = (&ApprovalRecord{Client: client}).Approvals(ctx)
	if _, ok := got[testInstance]; !ok || len(got) != 1 {
		t.Errorf("after GC: %v, want only the live instance %s", slices.Collect(maps.Keys(got)), testInstance)
	}
	// An instance the cloud cannot answer for is kept.
	c.Clock.(*clocktesting.FakeClock).Step(time.Minute)
	if err := c.Sources.Record.Add(ctx, "i-flaky", Approval{CSRName: "csr-flaky", CSRUID: "uid-flaky", At: t0}, t0); err != nil {
		t.Fatal(err)
	}
	flaky := testCloud(freshInstance())
	flaky.FailInstance("i-flaky", errTimeout)
	c.Instances = flaky
	if err := c.CollectRecord(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _ = c.Sources.Record.Approvals(ctx); len(got) != 2 {
		t.Errorf("after GC with a cloud error: %v, want the instance kept", slices.Collect(maps.Keys(got)))
	}
}

var errTimeout = errors.New("timeout") // any error that is not ErrNotFound

// TestRecordIssuedRenewalOfRecordedCertificate: a renewal kelp did not
// approve (kube-controller-manager's selfnodeclient, kubectl) is recorded
// only when a current certificate of the instance requested it, so the
// instance's next renewal is not refused; anything else is left alone.
func TestRecordIssuedRenewalOfRecordedCertificate(t *testing.T) {
	ctx := context.Background()
	join := newNodeFacts(t, reqSpec{}).CSR
	for _, tc := range []struct {
		name       string
		credential func(joinSum string) []string
		username   string
		now        time.Time
		want       string
	}{
		{"requested with the join's certificate", func(s string) []string { return []string{credentialPrefix + s} }, "", t0, testInstance},
		{"requested with an unknown certificate", func(string) []string { return []string{credentialPrefix + strings.Repeat("ab", 32)} }, "", t0, ""},
		{"no credential ID (Kubernetes 1.30-1.31)", func(string) []string { return nil }, "", t0, ""},
		{"two credential IDs", func(s string) []string { return []string{credentialPrefix + s, credentialPrefix + s} }, "", t0, ""},
		{"the certificate has expired", func(s string) []string { return []string{credentialPrefix + s} }, "", t0.Add(25 * time.Hour), ""},
		{"another node's name", func(s string) []string { return []string{credentialPrefix + s} }, "system:node:ip-10-9-9-9.ec2.internal", t0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &ApprovalRecord{Client: fake.NewClientset()}
			if err := r.Add(ctx, testInstance, Approval{CSRName: join.Name, CSRUID: join.UID, At: t0, NodeName: testNode}, t0); err != nil {
				t.Fatal(err)
			}
			issuedJoin, joinSum := issue(t, join, t0.Add(24*time.Hour))
			if _, err := r.Issued(ctx, issuedJoin, t0); err != nil {
				t.Fatal(err)
			}
			renewal := renewalFacts(t, reqSpec{}).CSR
			renewal.UID = "uid-approved-elsewhere"
			renewal.Spec.Extra = nil
			if c := tc.credential(joinSum); c != nil {
				renewal.Spec.Extra = map[string]certificatesv1.ExtraValue{CredentialIDKey: c}
			}
			if tc.username != "" {
				renewal.Spec.Username = tc.username
			}
			issuedRenewal, renewalSum := issue(t, renewal, t0.Add(48*time.Hour))
			id, err := r.Issued(ctx, issuedRenewal, tc.now)
			if err != nil || id != tc.want {
				t.Fatalf("Issued = %q, %v; want %q", id, err, tc.want)
			}
			got, err := r.Approvals(ctx)
			if err != nil {
				t.Fatal(err)
			}
			recorded := slices.ContainsFunc(got[testInstance].Certificates, func(c IssuedCertificate) bool { return c.SHA256 == renewalSum })
			if recorded != (tc.want != "") {
				t.Errorf("renewal's certificate recorded = %t, want %t", recorded, tc.want != "")
			}
		})
	}
}
