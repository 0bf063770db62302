package approver

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kelp-dev/kelp/internal/testenv"
)

// heldRecord is a record on a fake client whose read of the ConfigMap
// can be held (heldOnce) until release is closed, so that the changes made
// meanwhile queue up into one batch; writes counts the Creates and
// Updates, and failWrites makes them fail.
type heldRecord struct {
	r          *ApprovalRecord
	client     *fake.Clientset
	release    chan struct{}
	writes     atomic.Int32
	failWrites atomic.Bool
}

func newHeldRecord() *heldRecord {
	h := &heldRecord{client: fake.NewClientset(), release: make(chan struct{})}
	write := func(k8stesting.Action) (bool, runtime.Object, error) {
		h.writes.Add(1)
		if h.failWrites.Load() {
			return true, nil, errors.New("etcd is on fire")
		}
		return false, nil, nil
	}
	h.client.PrependReactor("create", "configmaps", write)
	h.client.PrependReactor("update", "configmaps", write)
	h.r = &ApprovalRecord{Client: h.client}
	return h
}

// queued waits until n changes wait behind the held read.
func (h *heldRecord) queued(t *testing.T, n int) {
	t.Helper()
	testenv.EventuallyTrue(t, 10*time.Second, fmt.Sprintf("%d changes queued", n), func() bool {
		h.r.writes.mu.Lock()
		defer h.r.writes.mu.Unlock()
		return len(h.r.writes.queue) == n
	})
}

// TestRecordBatchesConcurrentChanges: changes made while a write is under
// way are written together, and each caller gets its own change's result:
// a replay refused in the batch does not refuse the others, nor do the
// others make it pass; a failed write fails every change of its batch and
// records none of them.
func TestRecordBatchesConcurrentChanges(t *testing.T) {
	ctx := context.Background()
	add := func(r *ApprovalRecord, instance, uid string) error {
		return r.Add(ctx, instance, Approval{CSRName: "csr-" + uid, CSRUID: types.UID(uid), At: t0}, t0)
	}
	for _, tc := range []struct {
		name       string
		failWrites bool
		// instance and CSR UID of each concurrent Add; "i-taken" is
		// recorded for uid-first beforehand.
		adds [][2]string
		want []error // per Add: nil, ErrAlreadyRecorded, or errFailed
	}{
		{"all recorded in one write", false,
			[][2]string{{"i-1", "uid-1"}, {"i-2", "uid-2"}, {"i-3", "uid-3"}, {"i-4", "uid-4"}},
			[]error{nil, nil, nil, nil}},
		{"a replay in the batch is refused alone", false,
			[][2]string{{"i-1", "uid-1"}, {"i-taken", "uid-replay"}, {"i-3", "uid-3"}},
			[]error{nil, ErrAlreadyRecorded, nil}},
		{"two CSRs for one instance in one batch: the first wins", false,
			[][2]string{{"i-1", "uid-a"}, {"i-1", "uid-b"}, {"i-2", "uid-2"}},
			[]error{nil, ErrAlreadyRecorded, nil}},
		{"the same CSR twice in one batch", false,
			[][2]string{{"i-1", "uid-1"}, {"i-1", "uid-1"}},
			[]error{nil, nil}},
		{"a failed write fails the whole batch", true,
			[][2]string{{"i-1", "uid-1"}, {"i-taken", "uid-replay"}, {"i-3", "uid-3"}},
			[]error{errFailed, errFailed, errFailed}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHeldRecord()
			if err := add(h.r, "i-taken", "uid-first"); err != nil {
				t.Fatal(err)
			}
			entered := make(chan struct{})
			h.client.PrependReactor("get", "configmaps", heldOnce(entered, h.release))
			h.writes.Store(0)
			h.failWrites.Store(tc.failWrites)
			// One change in flight holds the read; the others queue.
			block := make(chan error, 1)
			go func() { block <- h.r.Forget(ctx, []string{"i-none"}, t0) }()
			<-entered
			errs := make([]error, len(tc.adds))
			var wg sync.WaitGroup
			for i, a := range tc.adds {
				wg.Go(func() { errs[i] = add(h.r, a[0], a[1]) })
				h.queued(t, i+1) // in order of arrival
			}
			close(h.release)
			wg.Wait()
			<-block
			if got := h.writes.Load(); got > 1 {
				t.Errorf("%d writes for %d concurrent changes, want one batch", got, len(tc.adds))
			}
			approvals, err := (&ApprovalRecord{Client: h.client}).Approvals(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for i, a := range tc.adds {
				checkAddResult(t, a, errs[i], tc.want[i], approvals)
			}
		})
	}
}

// errFailed stands for the error of a failed write in the table above.
var errFailed = errors.New("the write's error")

// heldOnce is a reactor that closes entered on the first read and blocks
// it until release closes.
func heldOnce(entered, release chan struct{}) k8stesting.ReactionFunc {
	var first sync.Once
	return func(k8stesting.Action) (bool, runtime.Object, error) {
		first.Do(func() {
			close(entered)
			<-release
		})
		return false, nil, nil
	}
}

// checkAddResult checks one Add's result and what the record holds for it.
func checkAddResult(t *testing.T, add [2]string, got, want error, approvals map[string]Approval) {
	t.Helper()
	instance, uid := add[0], types.UID(add[1])
	switch {
	case want == nil && got != nil:
		t.Errorf("Add(%s, %s) = %v, want recorded", instance, uid, got)
	case want == ErrAlreadyRecorded && !errors.Is(got, ErrAlreadyRecorded):
		t.Errorf("Add(%s, %s) = %v, want ErrAlreadyRecorded", instance, uid, got)
	case want == errFailed && (got == nil || errors.Is(got, ErrAlreadyRecorded)):
		t.Errorf("Add(%s, %s) = %v, want the write's error", instance, uid, got)
	}
	a, ok := approvals[instance]
	switch {
	case want == nil && (!ok || a.CSRUID != uid):
		t.Errorf("record of %s: %+v, want CSR %s", instance, a, uid)
	case want == errFailed && instance != "i-taken" && ok:
		t.Errorf("record of %s: %+v after a failed write, want none", instance, a)
	case want != nil && ok && a.CSRUID == uid:
		t.Errorf("record of %s holds CSR %s, which was refused", instance, uid)
	}
}
