package approver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
)

// Record names: kelp keeps its approvals in one ConfigMap, because
// kube-controller-manager garbage-collects CSRs (after an hour once issued)
// and a replayed CSR must still be recognised.
const (
	RecordNamespace = metav1.NamespaceSystem
	RecordName      = "kelp-approved-instances"
	// RecordRetention is how long an approval is remembered by default.
	// It only has to outlive the join window: an instance launched longer
	// ago is refused by the launch-time check anyway. Kept short so the
	// ConfigMap stays far below its 1 MiB limit (about 100k joins per day).
	RecordRetention = 2 * time.Hour
)

// ErrAlreadyRecorded is returned by Add when another CSR was recorded for
// the instance first: the caller must decide again, and the policy then
// sees the earlier approval.
var ErrAlreadyRecorded = errors.New("an approval of another CSR is already recorded for this instance")

// ApprovalRecord is kelp's durable record of the instances whose new-node
// client certificate it approved. It caches the ConfigMap after the first
// read and writes through; one controller (the leader) writes it.
type ApprovalRecord struct {
	Client kubernetes.Interface
	// Retention is how long entries are kept; RecordRetention when zero.
	Retention time.Duration

	mu     sync.Mutex
	cache  map[string]Approval
	loaded bool
}

type recordEntry struct {
	CSR string    `json:"csr"`
	UID string    `json:"uid"`
	At  time.Time `json:"at"`
}

// Approvals returns a copy of the record.
func (r *ApprovalRecord) Approvals(ctx context.Context) (map[string]Approval, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.loaded {
		if err := r.loadLocked(ctx); err != nil {
			return nil, err
		}
	}
	return maps.Clone(r.cache), nil
}

func (r *ApprovalRecord) loadLocked(ctx context.Context) error {
	cm, err := r.Client.CoreV1().ConfigMaps(RecordNamespace).Get(ctx, RecordName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		r.cache, r.loaded = map[string]Approval{}, true
		return nil
	}
	if err != nil {
		return fmt.Errorf("read approval record %s/%s: %w", RecordNamespace, RecordName, err)
	}
	cache, err := decodeRecord(cm)
	if err != nil {
		return err
	}
	r.cache, r.loaded = cache, true
	return nil
}

func decodeRecord(cm *corev1.ConfigMap) (map[string]Approval, error) {
	out := make(map[string]Approval, len(cm.Data))
	for id, raw := range cm.Data {
		var e recordEntry
		if err := json.Unmarshal([]byte(raw), &e); err != nil {
			return nil, fmt.Errorf("approval record %s/%s: entry %s is corrupt: %w", RecordNamespace, RecordName, id, err)
		}
		out[id] = Approval{CSRName: e.CSR, CSRUID: typesUID(e.UID), At: e.At}
	}
	return out, nil
}

// Add records an approval for instanceID and forgets entries older than
// the retention. It must succeed before the CSR is approved, so that a
// crash between the two can only err on the side of refusing a replay. It
// is a compare-and-set: when another CSR is already recorded for the
// instance (two CSRs decided at once), nothing is written and the error
// wraps ErrAlreadyRecorded.
func (r *ApprovalRecord) Add(ctx context.Context, instanceID string, a Approval, now time.Time) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cms := r.Client.CoreV1().ConfigMaps(RecordNamespace)
		cm, err := cms.Get(ctx, RecordName, metav1.GetOptions{})
		create := apierrors.IsNotFound(err)
		if create {
			cm = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: RecordNamespace, Name: RecordName,
				Labels: map[string]string{"app.kubernetes.io/managed-by": "kelp"}}}
		} else if err != nil {
			return err
		}
		cm = cm.DeepCopy()
		if cm.Data == nil {
			cm.Data = map[string]string{}
		}
		if raw, ok := cm.Data[instanceID]; ok {
			var e recordEntry
			if json.Unmarshal([]byte(raw), &e) != nil || e.UID != string(a.CSRUID) {
				if cache, derr := decodeRecord(cm); derr == nil {
					r.cache, r.loaded = cache, true
				}
				return ErrAlreadyRecorded
			}
		}
		retention := r.Retention
		if retention == 0 {
			retention = RecordRetention
		}
		for id, raw := range cm.Data {
			var e recordEntry
			if json.Unmarshal([]byte(raw), &e) == nil && now.Sub(e.At) > retention {
				delete(cm.Data, id)
			}
		}
		data, _ := json.Marshal(recordEntry{CSR: a.CSRName, UID: string(a.CSRUID), At: a.At.UTC()})
		cm.Data[instanceID] = string(data)
		if create {
			_, err = cms.Create(ctx, cm, metav1.CreateOptions{})
			if apierrors.IsAlreadyExists(err) {
				return apierrors.NewConflict(corev1.Resource("configmaps"), RecordName, err)
			}
		} else {
			_, err = cms.Update(ctx, cm, metav1.UpdateOptions{})
		}
		if err == nil {
			r.cache, err = decodeRecord(cm)
			r.loaded = err == nil
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("record approval of instance %s: %w", instanceID, err)
	}
	return nil
}

func typesUID(s string) types.UID { return types.UID(s) }
