package approver

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/kelp-dev/kelp/internal/cloud"
)

// callCountingCloud counts every call that reaches the cloud.
type callCountingCloud struct {
	Cloud
	calls atomic.Int64
}

func (c *callCountingCloud) InstanceByPrivateDNSName(ctx context.Context, name string) ([]cloud.Instance, error) {
	c.calls.Add(1)
	return c.Cloud.InstanceByPrivateDNSName(ctx, name)
}

func (c *callCountingCloud) InstanceForNode(ctx context.Context, providerID string) (cloud.Instance, error) {
	c.calls.Add(1)
	return c.Cloud.InstanceForNode(ctx, providerID)
}

func (c *callCountingCloud) NodeGroups(ctx context.Context) ([]cloud.NodeGroup, error) {
	c.calls.Add(1)
	return c.Cloud.NodeGroups(ctx)
}

func (c *callCountingCloud) Refresh(ctx context.Context) error {
	c.calls.Add(1)
	return c.Cloud.Refresh(ctx)
}

// gatherWorld is a cluster for Gather: its Nodes, its CSRs and a counting
// cloud holding the fresh instance.
type gatherWorld struct {
	nodes map[string]*corev1.Node
	csrs  []*certificatesv1.CertificateSigningRequest
	cloud *callCountingCloud
	src   Sources
}

func newGatherWorld(cache *ScreenCache) *gatherWorld {
	w := &gatherWorld{nodes: map[string]*corev1.Node{}, cloud: &callCountingCloud{Cloud: testCloud(freshInstance())}}
	w.src = Sources{
		Node:      func(name string) (*corev1.Node, error) { return w.nodes[name], nil },
		CSRs:      func() ([]*certificatesv1.CertificateSigningRequest, error) { return w.csrs, nil },
		NodeCount: func() (int, error) { return len(w.nodes), nil },
		Cloud:     w.cloud,
		Record:    &ApprovalRecord{Client: fake.NewClientset()},
		Screens:   cache,
	}
	return w
}

// add files csr as pending, named and created i seconds after csrCreate.
func (w *gatherWorld) add(csr *certificatesv1.CertificateSigningRequest, i int) *certificatesv1.CertificateSigningRequest {
	csr = csr.DeepCopy()
	csr.Name, csr.UID = fmt.Sprintf("csr-%03d", i), types.UID(fmt.Sprintf("uid-%03d", i))
	csr.CreationTimestamp = metav1.NewTime(csrCreate.Add(time.Duration(i) * time.Second))
	w.csrs = append(w.csrs, csr)
	return csr
}

// decide gathers and decides csr, returning the verdict and the cloud calls
// it took.
func (w *gatherWorld) decide(t *testing.T, csr *certificatesv1.CertificateSigningRequest) (Verdict, Facts, int64) {
	t.Helper()
	before := w.cloud.calls.Load()
	f, err := w.src.Gather(context.Background(), csr, t0, Config{ClusterName: "dev"})
	if err != nil {
		t.Fatal(err)
	}
	return Decide(f), f, w.cloud.calls.Load() - before
}

// TestGatherAsksNoCloudForJunk: what the screening settles costs no cloud
// call, and Decide's verdict is Screen's.
func TestGatherAsksNoCloudForJunk(t *testing.T) {
	join := newNodeFacts(t, reqSpec{}).CSR
	renewal := renewalFacts(t, reqSpec{}).CSR
	kelpNode := kelpNodeFor(testNode, freshInstance())
	for _, tc := range []struct {
		name   string
		csr    func() *certificatesv1.CertificateSigningRequest
		node   *corev1.Node
		action Action
		reason string
		cloud  bool // whether the cloud must be asked
	}{
		{"malformed request of a kelp token", func() *certificatesv1.CertificateSigningRequest {
			c := join.DeepCopy()
			c.Spec.Request = []byte("junk")
			return c
		}, nil, ActionDeny, ReasonMalformedPEM, false},
		{"1 MiB request of a kelp token", func() *certificatesv1.CertificateSigningRequest {
			c := join.DeepCopy()
			c.Spec.Request = make([]byte, 1<<20)
			return c
		}, nil, ActionDeny, ReasonRequestTooLarge, false},
		{"kubeadm token", func() *certificatesv1.CertificateSigningRequest {
			c := join.DeepCopy()
			c.Spec.Groups = []string{"system:bootstrappers:kubeadm:default-node-token"}
			return c
		}, nil, ActionIgnore, ReasonNotKelpRequestor, false},
		{"another signer", func() *certificatesv1.CertificateSigningRequest {
			c := join.DeepCopy()
			c.Spec.SignerName = "example.com/big"
			return c
		}, nil, ActionIgnore, ReasonNotOurSigner, false},
		{"labelled node renews without group system:nodes", func() *certificatesv1.CertificateSigningRequest {
			c := renewal.DeepCopy()
			c.Spec.Groups = []string{"system:authenticated"}
			return c
		}, kelpNode, ActionDeny, ReasonMissingNodesGroup, false},
		{"valid join", func() *certificatesv1.CertificateSigningRequest { return join.DeepCopy() }, nil, ActionApprove, ReasonApproved, true},
		{"valid renewal", func() *certificatesv1.CertificateSigningRequest { return renewal.DeepCopy() }, kelpNode, ActionApprove, ReasonApproved, true},
		{"control-plane renewal needs the cloud to be ignored", func() *certificatesv1.CertificateSigningRequest {
			c := renewal.DeepCopy()
			c.Spec.Username = nodeNamePrefix + cpName
			return c
		}, nodeFor(cpName, cloud.Instance{}), ActionIgnore, ReasonNotManagedNode, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newGatherWorld(NewScreenCache())
			if tc.node != nil {
				w.nodes[tc.node.Name] = tc.node
			}
			csr := w.add(tc.csr(), 1)
			v, f, calls := w.decide(t, csr)
			if v.Action != tc.action || v.Reason != tc.reason {
				t.Fatalf("Decide = %s %s (%s), want %s %s", v.Action, v.Reason, v.Message, tc.action, tc.reason)
			}
			if (calls > 0) != tc.cloud {
				t.Errorf("%d cloud calls, want cloud asked: %v", calls, tc.cloud)
			}
			if sv, final := Screen(f); final == tc.cloud || (final && sv.Reason != v.Reason) {
				t.Errorf("Screen = %s %s final %v", sv.Action, sv.Reason, final)
			}
		})
	}
}

// TestGatherCountsOnlyValidPendingJoins: flood control and contested joins
// count only pending new-node CSRs of kelp tokens that pass the request
// and requestor checks; junk and other requestors are not counted.
func TestGatherCountsOnlyValidPendingJoins(t *testing.T) {
	cache := NewScreenCache()
	w := newGatherWorld(cache)
	valid := newNodeFacts(t, reqSpec{}).CSR
	peer := newNodeFacts(t, reqSpec{subject: peerSubject()}).CSR
	junk := valid.DeepCopy()
	junk.Spec.Request = []byte("junk")
	kubeadm := valid.DeepCopy()
	kubeadm.Spec.Groups = []string{"system:bootstrappers:kubeadm:default-node-token"}
	approved := peer.DeepCopy()
	approved.Status.Conditions = []certificatesv1.CertificateSigningRequestCondition{{Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue}}

	w.add(junk, 0)
	w.add(peer, 1)
	w.add(kubeadm, 2)
	w.add(approved, 3)
	w.add(renewalFacts(t, reqSpec{}).CSR, 4)
	mine := w.add(valid, 5)
	w.add(peer, 6)
	for i := range 50 {
		w.add(junk, 100+i)
	}
	_, f, _ := w.decide(t, mine)
	if f.PendingNodeCSRs != 3 || f.PendingAhead != 1 || len(f.ContestingCSRs) != 0 {
		t.Fatalf("pending %d, ahead %d, contesting %q; want 3 valid pending (two peers and this one), 1 ahead, none contesting",
			f.PendingNodeCSRs, f.PendingAhead, f.ContestingCSRs)
	}
	// A valid CSR of another pool's token for the same node does not
	// contest: it cannot join this node and is denied for that.
	otherPool := valid.DeepCopy()
	otherPool.Spec.Groups = []string{"system:bootstrappers", "system:bootstrappers:kelp", "system:bootstrappers:kelp:other"}
	w.add(otherPool, 7)
	if v, f, _ := w.decide(t, mine); v.Reason == ReasonContestedJoin || len(f.ContestingCSRs) != 0 {
		t.Fatalf("Decide = %s %s contesting %q; another pool's token must not contest", v.Action, v.Reason, f.ContestingCSRs)
	}
	w.csrs = w.csrs[:len(w.csrs)-1]
	// A second valid CSR of the same pool for the same node contests the
	// join, both ways.
	rival := w.add(valid, 7)
	v, f, _ := w.decide(t, mine)
	if v.Reason != ReasonContestedJoin || !slices.Equal(v.Contested, []string{rival.Name}) {
		t.Fatalf("Decide = %s %s contested %q; want ContestedJoin naming %s", v.Action, v.Reason, v.Contested, rival.Name)
	}
	if v, _, _ := w.decide(t, rival); !slices.Equal(v.Contested, []string{mine.Name}) {
		t.Fatalf("the rival's verdict %s %s names %q, want %s", v.Action, v.Reason, v.Contested, mine.Name)
	}
	if f.PendingNodeCSRs != 4 {
		t.Errorf("pending %d, want 4", f.PendingNodeCSRs)
	}
	// Screened once per UID: a CSR's spec is immutable, so the cache is
	// trusted over what the listing now says, until the CSR is forgotten.
	if n := cache.Len(); n != 56 {
		t.Errorf("cache holds %d CSRs, want the 56 pending new-node CSRs (junk and kubeadm's too)", n)
	}
	rival.Spec.Request = []byte("junk")
	if _, f, _ := w.decide(t, mine); len(f.ContestingCSRs) != 1 {
		t.Errorf("rival screened again: contesting %q", f.ContestingCSRs)
	}
	cache.Forget(rival.UID)
	if _, f, _ := w.decide(t, mine); len(f.ContestingCSRs) != 0 || f.PendingNodeCSRs != 3 {
		t.Errorf("after Forget: contesting %q, pending %d; want none, 3", f.ContestingCSRs, f.PendingNodeCSRs)
	}
}

// TestGatherFloodAdmitsOldestFirst: a burst of more CSRs than the headroom
// is admitted oldest first, not paused as a whole; a CSR waiting its turn
// costs no cloud call.
func TestGatherFloodAdmitsOldestFirst(t *testing.T) {
	w := newGatherWorld(NewScreenCache())
	var csrs []*certificatesv1.CertificateSigningRequest
	for i := range DefaultFloodHeadroom + 20 {
		s := nodeSubject(fmt.Sprintf("ip-10-0-%d-%d.ec2.internal", i/250, i%250+1))
		csrs = append(csrs, w.add(newNodeFacts(t, reqSpec{subject: &s}).CSR, i))
	}
	var before int64
	for i, c := range csrs {
		f, err := w.src.Gather(context.Background(), c, t0, Config{ClusterName: "dev"})
		if err != nil {
			t.Fatal(err)
		}
		v := Decide(f)
		waits := v.Reason == ReasonFloodControl
		if want := i >= DefaultFloodHeadroom; waits != want || f.PendingAhead != i {
			t.Fatalf("CSR %d: %s %s with %d ahead; want flood control %v", i, v.Action, v.Reason, f.PendingAhead, want)
		}
		if calls := w.cloud.calls.Load(); waits && calls != before {
			t.Fatalf("CSR %d waits its turn but made %d cloud calls", i, calls-before)
		}
		before = w.cloud.calls.Load()
	}
}

// BenchmarkGatherPending measures Gather for a valid join among 500 junk and
// 100 valid pending CSRs, with and without a ScreenCache.
func BenchmarkGatherPending(b *testing.B) {
	valid := newNodeFacts(b, reqSpec{}).CSR
	junk := valid.DeepCopy()
	junk.Spec.Request = reqSpec{key: "p224"}.pem(b)
	for _, cached := range []bool{false, true} {
		b.Run(fmt.Sprintf("cache=%v", cached), func(b *testing.B) {
			var cache *ScreenCache
			if cached {
				cache = NewScreenCache()
			}
			w := newGatherWorld(cache)
			for i := range 500 {
				w.add(junk, i)
			}
			for i := range 100 {
				s := nodeSubject(fmt.Sprintf("ip-10-1-0-%d.ec2.internal", i+1))
				w.add(newNodeFacts(b, reqSpec{subject: &s}).CSR, 500+i)
			}
			mine := w.add(valid, 600)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := w.src.Gather(ctx, mine, t0, Config{ClusterName: "dev"}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestGatherRecordedCSRDoesNotContest: a CSR kelp recorded as approved
// still shows as pending in a late listing; it neither contests nor waits
// ahead, so a replay for its node is refused as AlreadyJoined.
func TestGatherRecordedCSRDoesNotContest(t *testing.T) {
	w := newGatherWorld(NewScreenCache())
	valid := newNodeFacts(t, reqSpec{}).CSR
	first := w.add(valid, 1)
	replay := w.add(valid, 2)
	if err := w.src.Record.Add(context.Background(), testInstance, Approval{CSRName: first.Name, CSRUID: first.UID, At: t0}, t0); err != nil {
		t.Fatal(err)
	}
	v, f, _ := w.decide(t, replay)
	if v.Reason != ReasonAlreadyJoined || f.PendingAhead != 0 || len(f.ContestingCSRs) != 0 {
		t.Fatalf("replay: %s %s, %d ahead, contesting %q; want AlreadyJoined, none ahead or contesting", v.Action, v.Reason, f.PendingAhead, f.ContestingCSRs)
	}
}
