package approver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"slices"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// Record names: kelp keeps its approvals in one ConfigMap, because
// kube-controller-manager garbage-collects CSRs (after an hour once issued)
// and a replayed CSR must still be recognised.
const (
	RecordNamespace = metav1.NamespaceSystem
	RecordName      = "kelp-approved-instances"
	// RecordRetention is how long an entry without an unexpired
	// certificate is remembered by default. It only has to outlive the
	// join window: an instance launched longer ago is refused by the
	// launch-time check anyway. An entry with an unexpired certificate is
	// kept until the certificate expires or the instance is gone.
	RecordRetention = 2 * time.Hour
	// RecordWarnBytes is the size of the record above which every write
	// logs an error: the API server refuses a ConfigMap over 1 MiB.
	// An entry is about 150 bytes plus 140 per live certificate.
	RecordWarnBytes = 900 << 10
)

// ErrAlreadyRecorded is returned by Add when another CSR was recorded for
// the instance first: the caller must decide again, and the policy then
// sees the earlier approval.
var ErrAlreadyRecorded = errors.New("an approval of another CSR is already recorded for this instance")

// ApprovalRecord is kelp's durable record, per instance, of the new-node
// client certificate it approved and of every kubelet client certificate
// issued to the instance since through a CSR kelp approved. It caches the
// ConfigMap after the first read and writes through, compare-and-set; one
// controller (the leader) writes it. Changes made at the same time are
// written together, one read and one write for all (record_write.go).
type ApprovalRecord struct {
	Client kubernetes.Interface
	// Retention is how long entries without an unexpired certificate are
	// kept; RecordRetention when zero.
	Retention time.Duration

	mu     sync.Mutex
	cache  map[string]recordEntry
	bytes  int
	loaded bool

	writes recordWrites
}

// recordEntry is the JSON of one instance's entry (compact: short keys,
// empty fields left out).
type recordEntry struct {
	CSR   string        `json:"csr"`
	UID   string        `json:"uid"`
	At    time.Time     `json:"at"`
	Node  string        `json:"node,omitempty"`
	Certs []recordCert  `json:"certs,omitempty"`
	Await []awaitedCert `json:"await,omitempty"`
}

// recordCert is an IssuedCertificate.
type recordCert struct {
	SHA256   string    `json:"sha256"`
	NotAfter time.Time `json:"notAfter"`
	CSRUID   string    `json:"csr"`
}

// awaitedCert is a client CSR kelp approved for the instance whose
// certificate has not been seen yet.
type awaitedCert struct {
	CSRUID string    `json:"uid"`
	At     time.Time `json:"at"`
}

func (e recordEntry) approval() Approval {
	a := Approval{CSRName: e.CSR, CSRUID: types.UID(e.UID), At: e.At, NodeName: e.Node}
	for _, c := range e.Certs {
		a.Certificates = append(a.Certificates, IssuedCertificate{SHA256: c.SHA256, NotAfter: c.NotAfter, CSRUID: types.UID(c.CSRUID)})
	}
	return a
}

// Approvals returns a copy of the record.
func (r *ApprovalRecord) Approvals(ctx context.Context) (map[string]Approval, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.loadLocked(ctx); err != nil {
		return nil, err
	}
	out := make(map[string]Approval, len(r.cache))
	for id, e := range r.cache {
		out[id] = e.approval()
	}
	return out, nil
}

// Bytes returns the size of the record's data as last read or written.
func (r *ApprovalRecord) Bytes() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.bytes
}

// loadLocked reads the ConfigMap once. r.mu is held.
func (r *ApprovalRecord) loadLocked(ctx context.Context) error {
	if r.loaded {
		return nil
	}
	cm, err := r.Client.CoreV1().ConfigMaps(RecordNamespace).Get(ctx, RecordName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		r.cache, r.bytes, r.loaded = map[string]recordEntry{}, 0, true
		return nil
	}
	if err != nil {
		return fmt.Errorf("read approval record %s/%s: %w", RecordNamespace, RecordName, err)
	}
	return r.cacheLocked(cm.Data)
}

// cacheLocked replaces the cache with data. r.mu is held.
func (r *ApprovalRecord) cacheLocked(data map[string]string) error {
	cache, err := decodeRecord(data)
	if err != nil {
		r.loaded = false
		return err
	}
	r.cache, r.bytes, r.loaded = cache, dataBytes(data), true
	return nil
}

func decodeRecord(data map[string]string) (map[string]recordEntry, error) {
	out := make(map[string]recordEntry, len(data))
	for id, raw := range data {
		var e recordEntry
		if err := json.Unmarshal([]byte(raw), &e); err != nil {
			return nil, fmt.Errorf("approval record %s/%s: entry %s is corrupt: %w", RecordNamespace, RecordName, id, err)
		}
		out[id] = e
	}
	return out, nil
}

func dataBytes(data map[string]string) int {
	n := 0
	for k, v := range data {
		n += len(k) + len(v)
	}
	return n
}

// Add records the approval of a new-node CSR for instanceID: the CSR, the
// node name, and that its certificate is awaited. It must succeed before
// the CSR is approved, so that a crash between the two can only err on
// the side of refusing a replay. It is a compare-and-set: when another CSR
// is already recorded for the instance (two CSRs decided at once), nothing
// is written and the error wraps ErrAlreadyRecorded. Adding the same CSR
// again changes nothing.
func (r *ApprovalRecord) Add(ctx context.Context, instanceID string, a Approval, now time.Time) error {
	err := r.update(ctx, now, func(entries map[string]recordEntry, corrupt map[string]bool) error {
		e, ok := entries[instanceID]
		if corrupt[instanceID] || (ok && e.UID != string(a.CSRUID)) {
			return ErrAlreadyRecorded
		}
		if !ok {
			e = recordEntry{CSR: a.CSRName, UID: string(a.CSRUID), At: a.At.UTC(), Node: a.NodeName}
		}
		entries[instanceID] = e.awaiting(a.CSRUID, now)
		return nil
	})
	if err != nil {
		return fmt.Errorf("record approval of instance %s: %w", instanceID, err)
	}
	return nil
}

// Await records, before a renewal CSR of instanceID is approved, that the
// certificate issued through it belongs to the instance ([Issued] then
// records it). An instance kelp has no entry for (one that joined before
// kelp kept certificates) gets one, named after the renewal.
func (r *ApprovalRecord) Await(ctx context.Context, instanceID string, a Approval, now time.Time) error {
	err := r.update(ctx, now, func(entries map[string]recordEntry, corrupt map[string]bool) error {
		if corrupt[instanceID] {
			return fmt.Errorf("entry %s is corrupt", instanceID)
		}
		e, ok := entries[instanceID]
		if !ok {
			e = recordEntry{CSR: a.CSRName, UID: string(a.CSRUID), At: a.At.UTC(), Node: a.NodeName}
		}
		entries[instanceID] = e.awaiting(a.CSRUID, now)
		return nil
	})
	if err != nil {
		return fmt.Errorf("record renewal %s of instance %s: %w", a.CSRName, instanceID, err)
	}
	return nil
}

func (e recordEntry) awaiting(uid types.UID, now time.Time) recordEntry {
	if slices.ContainsFunc(e.Await, func(w awaitedCert) bool { return w.CSRUID == string(uid) }) ||
		slices.ContainsFunc(e.Certs, func(c recordCert) bool { return c.CSRUID == string(uid) }) {
		return e
	}
	e.Await = append(slices.Clip(e.Await), awaitedCert{CSRUID: string(uid), At: now.UTC()})
	return e
}

// Forget drops the entries of instanceIDs (instances terminated or gone).
func (r *ApprovalRecord) Forget(ctx context.Context, instanceIDs []string, now time.Time) error {
	err := r.update(ctx, now, func(entries map[string]recordEntry, _ map[string]bool) error {
		for _, id := range instanceIDs {
			delete(entries, id)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("forget instances %v of the approval record: %w", instanceIDs, err)
	}
	return nil
}

// Prune drops expired certificates and the entries left with none that
// are older than the retention; it writes only when something changed.
func (r *ApprovalRecord) Prune(ctx context.Context, now time.Time) error {
	if err := r.update(ctx, now, func(map[string]recordEntry, map[string]bool) error { return nil }); err != nil {
		return fmt.Errorf("prune the approval record: %w", err)
	}
	return nil
}

// prune drops what has outlived its use at now: certificates that
// expired, awaited certificates and entries without a certificate older
// than retention.
func prune(entries map[string]recordEntry, now time.Time, retention time.Duration) {
	for id, e := range entries {
		e.Certs = slices.DeleteFunc(e.Certs, func(c recordCert) bool { return !now.Before(c.NotAfter) })
		e.Await = slices.DeleteFunc(e.Await, func(w awaitedCert) bool { return now.Sub(w.At) > retention })
		if len(e.Certs) == 0 && len(e.Await) == 0 && now.Sub(e.At) > retention {
			delete(entries, id)
			continue
		}
		entries[id] = e
	}
}
