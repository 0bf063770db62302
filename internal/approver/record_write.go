package approver

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
)

// recordChange changes the record's entries (corrupt ones are named in the
// second map and kept as they are). When it returns an error it must leave
// the entries as it found them: the changes written with it are not
// undone.
type recordChange func(entries map[string]recordEntry, corrupt map[string]bool) error

// recordWrites is the group commit of the record: changes queue up while
// a write is under way, and the next write carries all of them, so a burst
// of approvals costs one read and one write of the ConfigMap per batch
// instead of per approval.
type recordWrites struct {
	mu      sync.Mutex
	queue   []*queuedChange
	writing bool
}

// queuedChange is one caller's change and where its own result goes.
type queuedChange struct {
	change recordChange
	now    time.Time
	done   chan error
}

// maxRecordBatch bounds the changes written at once.
const maxRecordBatch = 256

// update reads the ConfigMap, applies change to its entries, prunes, and
// writes it back when it changed, retrying on conflict. An error of change
// is returned as is, and change has no effect. Changes of concurrent
// callers are applied in order of arrival to one read of the ConfigMap and
// written together; each caller gets its own change's result (an error of
// the read or the write is every caller's). The write runs apart from the
// caller: a caller whose ctx ends gets ctx's error and its change may still
// be written.
func (r *ApprovalRecord) update(ctx context.Context, now time.Time, change recordChange) error {
	q := &queuedChange{change: change, now: now, done: make(chan error, 1)}
	w := &r.writes
	w.mu.Lock()
	w.queue = append(w.queue, q)
	if !w.writing {
		w.writing = true
		go r.writeQueued(context.WithoutCancel(ctx))
	}
	w.mu.Unlock()
	select {
	case err := <-q.done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("wait for the approval record's write: %w", ctx.Err())
	}
}

// recordWriteTimeout bounds one batch's reads and writes.
const recordWriteTimeout = time.Minute

// writeQueued writes batches of queued changes until the queue is empty.
func (r *ApprovalRecord) writeQueued(ctx context.Context) {
	w := &r.writes
	for {
		w.mu.Lock()
		batch := w.queue[:min(len(w.queue), maxRecordBatch)]
		w.queue = w.queue[len(batch):]
		if len(batch) == 0 {
			w.queue, w.writing = nil, false
			w.mu.Unlock()
			return
		}
		w.mu.Unlock()
		bctx, cancel := context.WithTimeout(ctx, recordWriteTimeout)
		errs := r.writeBatch(bctx, batch)
		cancel()
		for i, q := range batch {
			q.done <- errs[i]
		}
	}
}

// writeBatch applies the batch's changes to a fresh read of the ConfigMap
// and writes it, retrying on conflict; it returns each change's result.
func (r *ApprovalRecord) writeBatch(ctx context.Context, batch []*queuedChange) []error {
	retention := r.Retention
	if retention == 0 {
		retention = RecordRetention
	}
	var now time.Time
	for _, q := range batch {
		if q.now.After(now) {
			now = q.now
		}
	}
	errs := make([]error, len(batch))
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
		entries, corrupt := decodeEntries(cm.Data)
		for i, q := range batch {
			errs[i] = q.change(entries, corrupt)
		}
		prune(entries, now, retention)
		data, err := encodeEntries(entries, corrupt, cm.Data)
		if err != nil {
			return err
		}
		return r.write(ctx, cm, create, data)
	})
	if err != nil {
		for i := range errs {
			errs[i] = err
		}
	}
	return errs
}

// write stores data as the ConfigMap's (cm as read; create when there was
// none), unless nothing changed, and caches what the API server holds.
func (r *ApprovalRecord) write(ctx context.Context, cm *corev1.ConfigMap, create bool, data map[string]string) error {
	switch {
	case create && len(data) == 0:
		r.mu.Lock()
		defer r.mu.Unlock()
		r.cache, r.bytes, r.loaded = map[string]recordEntry{}, 0, true
		return nil
	case !create && maps.Equal(data, cm.Data):
		return r.cacheData(cm.Data)
	}
	cm = cm.DeepCopy()
	cm.Data = data
	cms := r.Client.CoreV1().ConfigMaps(RecordNamespace)
	var err error
	if create {
		_, err = cms.Create(ctx, cm, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			return apierrors.NewConflict(corev1.Resource("configmaps"), RecordName, err)
		}
	} else {
		_, err = cms.Update(ctx, cm, metav1.UpdateOptions{})
	}
	if err != nil {
		return err
	}
	return r.cacheData(cm.Data)
}

// cacheData replaces the cache with data (one batch writes at a time, so
// the cache follows the writes in order). A corrupt entry in data is an
// error, and leaves the cache to be read again.
func (r *ApprovalRecord) cacheData(data map[string]string) error {
	cache, err := decodeRecord(data)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.loaded = false
		return err
	}
	r.cache, r.bytes, r.loaded = cache, dataBytes(data), true
	return nil
}

// decodeEntries decodes the record's data; entries that do not decode are
// named in corrupt.
func decodeEntries(data map[string]string) (map[string]recordEntry, map[string]bool) {
	entries, corrupt := map[string]recordEntry{}, map[string]bool{}
	for id, raw := range data {
		var e recordEntry
		if json.Unmarshal([]byte(raw), &e) != nil {
			corrupt[id] = true
			continue
		}
		entries[id] = e
	}
	return entries, corrupt
}

// encodeEntries encodes entries, keeping the corrupt ones of old as they
// are.
func encodeEntries(entries map[string]recordEntry, corrupt map[string]bool, old map[string]string) (map[string]string, error) {
	data := make(map[string]string, len(entries)+len(corrupt))
	for id := range corrupt {
		data[id] = old[id]
	}
	for id, e := range entries {
		raw, err := json.Marshal(e)
		if err != nil {
			return nil, fmt.Errorf("encode entry %s: %w", id, err)
		}
		data[id] = string(raw)
	}
	return data, nil
}
