package approver

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/testenv"
)

// heldFinder is a BatchFinder whose first call, for the name "first",
// blocks until release closes, so that the lookups made meanwhile are
// coalesced into the next call. answer answers the calls after it; calls
// records the names of every call.
type heldFinder struct {
	entered, release chan struct{}
	answer           func(names []string) (map[string][]cloud.Instance, error)

	mu    sync.Mutex
	calls [][]string
}

func newHeldFinder(answer func([]string) (map[string][]cloud.Instance, error)) *heldFinder {
	return &heldFinder{entered: make(chan struct{}), release: make(chan struct{}), answer: answer}
}

func (f *heldFinder) InstancesByPrivateDNSNames(_ context.Context, names []string) (map[string][]cloud.Instance, error) {
	f.mu.Lock()
	f.calls = append(f.calls, slices.Clone(names))
	f.mu.Unlock()
	if slices.Equal(names, []string{"first"}) {
		close(f.entered)
		<-f.release
		return map[string][]cloud.Instance{"first": {namedInstance("i-first", "first")}}, nil
	}
	return f.answer(names)
}

func (f *heldFinder) callsMade() [][]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

func namedInstance(id, name string) cloud.Instance {
	return cloud.Instance{ID: id, PrivateDNSName: name, State: cloud.InstanceStateRunning, PrivateIPs: []string{"10.0.0.9"}}
}

// coalesced runs one lookup that holds the finder, then the lookups of
// names concurrently while it is held, and returns their answers in the
// order of names.
func coalesced(t *testing.T, f *heldFinder, names []string) []nameResult {
	t.Helper()
	var q nameBatches
	ctx := context.Background()
	first := make(chan nameResult, 1)
	go func() {
		insts, err := q.lookup(ctx, f, "first")
		first <- nameResult{insts, err}
	}()
	<-f.entered
	out := make([]nameResult, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() {
			insts, err := q.lookup(ctx, f, name)
			out[i] = nameResult{insts, err}
		})
	}
	testenv.EventuallyTrue(t, 10*time.Second, "every lookup waiting", func() bool {
		q.mu.Lock()
		defer q.mu.Unlock()
		n := 0
		for _, w := range q.waiting {
			n += len(w)
		}
		return n == len(names)
	})
	close(f.release)
	wg.Wait()
	if r := <-first; r.err != nil || len(r.insts) != 1 || r.insts[0].ID != "i-first" {
		t.Errorf("the first lookup: %+v", r)
	}
	return out
}

// TestNameBatchesMapAnswersBack: lookups made while one is under way go
// together in one call, and each caller gets its own name's answer: an
// absent name is ErrNotFound for that name only; a failed call is an
// error (never ErrNotFound) for every name of the batch; an answer naming
// another instance than asked is an error for that name only.
func TestNameBatchesMapAnswersBack(t *testing.T) {
	a, a2, b, c := namedInstance("i-a", "a"), namedInstance("i-a2", "a"), namedInstance("i-b", "b"), namedInstance("i-c", "c")
	for _, tc := range []struct {
		name   string
		asked  []string
		answer map[string][]cloud.Instance
		err    error
		want   []string // per lookup: instance IDs joined by "+", "notfound" or "error"
	}{
		{"each its own", []string{"a", "b", "c"}, map[string][]cloud.Instance{"a": {a}, "b": {b}, "c": {c}}, nil,
			[]string{"i-a", "i-b", "i-c"}},
		{"one missing", []string{"a", "b", "c"}, map[string][]cloud.Instance{"a": {a}, "c": {c}}, nil,
			[]string{"i-a", "notfound", "i-c"}},
		{"the call fails", []string{"a", "b", "c"}, nil, errors.New("throttled"),
			[]string{"error", "error", "error"}},
		{"the same name twice", []string{"a", "a"}, map[string][]cloud.Instance{"a": {a}}, nil,
			[]string{"i-a", "i-a"}},
		{"an ambiguous name stays ambiguous", []string{"a", "b"}, map[string][]cloud.Instance{"a": {a, a2}, "b": {b}}, nil,
			[]string{"i-a+i-a2", "i-b"}},
		{"an answer naming another instance", []string{"a", "b"}, map[string][]cloud.Instance{"a": {b}, "b": {b}}, nil,
			[]string{"error", "i-b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newHeldFinder(func([]string) (map[string][]cloud.Instance, error) {
				if tc.err != nil {
					return nil, tc.err
				}
				return tc.answer, nil
			})
			got := coalesced(t, f, tc.asked)
			for i, r := range got {
				if s := describeResult(r); s != tc.want[i] {
					t.Errorf("lookup %d of %s: %s (%v), want %s", i, tc.asked[i], s, r.err, tc.want[i])
				}
			}
			calls := f.callsMade()
			unique := slices.Compact(slices.Sorted(slices.Values(tc.asked)))
			if len(calls) != 2 || !slices.Equal(calls[1], unique) {
				t.Errorf("calls %v, want [first] then %v", calls, unique)
			}
			if len(got) == 2 && len(got[0].insts) > 0 && len(got[1].insts) > 0 {
				got[0].insts[0].PrivateIPs[0] = "changed"
				if got[1].insts[0].PrivateIPs[0] == "changed" {
					t.Error("two callers share one answer's instances")
				}
			}
		})
	}
}

func describeResult(r nameResult) string {
	switch {
	case errors.Is(r.err, cloud.ErrNotFound):
		return "notfound"
	case r.err != nil:
		return "error"
	}
	var ids []string
	for _, i := range r.insts {
		ids = append(ids, i.ID)
	}
	return strings.Join(ids, "+")
}

// batchCloud is a test cloud that also answers lookups by many names, from
// the same instances, failing when fail is set.
type batchCloud struct {
	Cloud
	fail error

	mu    sync.Mutex
	calls int
}

func (c *batchCloud) InstancesByPrivateDNSNames(ctx context.Context, names []string) (map[string][]cloud.Instance, error) {
	c.mu.Lock()
	c.calls++
	c.mu.Unlock()
	if c.fail != nil {
		return nil, c.fail
	}
	out := map[string][]cloud.Instance{}
	for _, name := range names {
		if insts, err := c.Cloud.InstanceByPrivateDNSName(ctx, name); err == nil {
			out[name] = insts
		}
	}
	return out, nil
}

// TestBatchedLookupsDecideEachCSRAlone: joins decided at the same time
// through coalesced lookups get the verdicts they get one by one: each
// approved join is approved for its own instance, the join whose instance
// the cloud does not know is not approved, and when the cloud fails no
// join is approved or denied.
func TestBatchedLookupsDecideEachCSRAlone(t *testing.T) {
	nodes := []string{"ip-10-0-0-11.ec2.internal", "ip-10-0-0-12.ec2.internal", "ip-10-0-0-13.ec2.internal", "ip-10-0-0-14.ec2.internal"}
	var insts []cloud.Instance
	for i, name := range nodes {
		if i == 1 {
			continue // the second node's instance does not exist
		}
		inst := freshInstance()
		inst.ID, inst.PrivateDNSName, inst.PrivateIPs = fmt.Sprintf("i-0bbbbbbbbbbbbbb%02d", i), name, []string{fmt.Sprintf("10.0.0.%d", 11+i)}
		inst.ProviderID = "aws:///us-east-1a/" + inst.ID
		insts = append(insts, inst)
	}
	var csrs []*certificatesv1.CertificateSigningRequest
	for i, name := range nodes {
		subject := nodeSubject(name)
		csr := newNodeFactsFor(t, reqSpec{subject: &subject}.pem(t)).CSR.DeepCopy()
		csr.Name, csr.UID = fmt.Sprintf("csr-%d", i), types.UID("uid-"+name)
		csrs = append(csrs, csr)
	}
	for _, tc := range []struct {
		name string
		fail error
		want []string // per node: the approved instance, or the action
	}{
		{"cloud answers", nil, []string{"i-0bbbbbbbbbbbbbb00", "not approved", "i-0bbbbbbbbbbbbbb02", "i-0bbbbbbbbbbbbbb03"}},
		{"cloud fails", errors.New("throttled"), []string{"Pending", "Pending", "Pending", "Pending"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bc := &batchCloud{Cloud: testCloud(insts...), fail: tc.fail}
			src := Sources{
				Node:      func(string) (*corev1.Node, error) { return nil, nil },
				CSRs:      func() ([]*certificatesv1.CertificateSigningRequest, error) { return csrs, nil },
				NodeCount: func() (int, error) { return 0, nil },
				Cloud:     NewBoundedCloud(bc, clocktesting.NewFakeClock(t0)),
				Record:    &ApprovalRecord{Client: fake.NewClientset()},
			}
			verdicts := make([]Verdict, len(csrs))
			var wg sync.WaitGroup
			for i, csr := range csrs {
				wg.Go(func() {
					f, err := src.Gather(context.Background(), csr, t0, Config{ClusterName: "dev"})
					if err != nil {
						t.Error(err)
					}
					verdicts[i] = Decide(f)
				})
			}
			wg.Wait()
			for i, v := range verdicts {
				got := string(v.Action)
				switch {
				case v.Action == ActionApprove:
					got = v.InstanceID
				case tc.want[i] == "not approved":
					got = "not approved"
				}
				if got != tc.want[i] {
					t.Errorf("join of %s: %s %s (%s), want %s", nodes[i], v.Action, v.Reason, v.Message, tc.want[i])
				}
			}
		})
	}
}
