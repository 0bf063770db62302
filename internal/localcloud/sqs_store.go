package localcloud

import (
	"bytes"
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// SQS queues and messages live in buckets of their own in state.db: a
// queue by name, a message by queue name, NUL and its 20-digit sequence
// number (so a queue's messages load in sending order). Every change is
// written before memory changes, in one transaction.
var (
	bucketSQSQueues   = []byte("sqs-queues")
	bucketSQSMessages = []byte("sqs-messages")
)

// openSQS loads the queues and their messages.
func (c *Cloud) openSQS() error {
	c.sqs = &sqsState{queues: map[string]*sqsQueue{}, done: make(chan struct{})}
	return c.store.db.Update(func(tx *bolt.Tx) error {
		qb, err := tx.CreateBucketIfNotExists(bucketSQSQueues)
		if err != nil {
			return fmt.Errorf("create bucket %s: %w", bucketSQSQueues, err)
		}
		mb, err := tx.CreateBucketIfNotExists(bucketSQSMessages)
		if err != nil {
			return fmt.Errorf("create bucket %s: %w", bucketSQSMessages, err)
		}
		if err := loadBucket(tx, bucketSQSQueues, c.sqs.queues); err != nil {
			return err
		}
		for name, q := range c.sqs.queues {
			q.wake = make(chan struct{})
			if q.Attributes == nil {
				return fmt.Errorf("decode %s/%s: no attributes", qb, name)
			}
		}
		return mb.ForEach(func(k, v []byte) error {
			name, _, _ := bytes.Cut(k, []byte{0})
			q := c.sqs.queues[string(name)]
			if q == nil {
				return nil // its queue was deleted: the delete removed it too
			}
			var m sqsMessage
			if err := json.Unmarshal(v, &m); err != nil {
				return fmt.Errorf("decode %s/%q: %w", bucketSQSMessages, k, err)
			}
			q.msgs = append(q.msgs, &m)
			return nil
		})
	})
}

// closeSQS ends the long polls in progress.
func (c *Cloud) closeSQS() {
	c.sqs.mu.Lock()
	defer c.sqs.mu.Unlock()
	select {
	case <-c.sqs.done:
	default:
		close(c.sqs.done)
	}
}

// sqsWriter writes within one transaction.
type sqsWriter struct{ tx *bolt.Tx }

// sqsPersist runs write in one transaction; its error is an InternalError
// for the client.
func (c *Cloud) sqsPersist(write func(w *sqsWriter) error) error {
	err := c.store.db.Update(func(tx *bolt.Tx) error { return write(&sqsWriter{tx: tx}) })
	if err != nil {
		c.log.Error("sqs: commit", "error", err)
		return &apiError{Code: codeInternalFailure, Message: "commit queue state: " + err.Error(), Status: 500, Server: true}
	}
	return nil
}

func messageKey(queue string, seq uint64) []byte {
	return fmt.Appendf(nil, "%s\x00%020d", queue, seq)
}

func (w *sqsWriter) putQueue(q *sqsQueue) error {
	v, err := json.Marshal(q)
	if err != nil {
		return fmt.Errorf("encode queue %s: %w", q.Name, err)
	}
	return w.tx.Bucket(bucketSQSQueues).Put([]byte(q.Name), v)
}

func (w *sqsWriter) putMessages(q *sqsQueue, msgs ...*sqsMessage) error {
	b := w.tx.Bucket(bucketSQSMessages)
	for _, m := range msgs {
		v, err := json.Marshal(m)
		if err != nil {
			return fmt.Errorf("encode message %s: %w", m.ID, err)
		}
		if err := b.Put(messageKey(q.Name, m.Seq), v); err != nil {
			return fmt.Errorf("put message %s: %w", m.ID, err)
		}
	}
	return nil
}

func (w *sqsWriter) deleteMessages(q *sqsQueue, msgs ...*sqsMessage) error {
	b := w.tx.Bucket(bucketSQSMessages)
	for _, m := range msgs {
		if err := b.Delete(messageKey(q.Name, m.Seq)); err != nil {
			return fmt.Errorf("delete message %s: %w", m.ID, err)
		}
	}
	return nil
}

func (w *sqsWriter) deleteQueue(q *sqsQueue) error {
	if err := w.deleteMessages(q, q.msgs...); err != nil {
		return err
	}
	return w.tx.Bucket(bucketSQSQueues).Delete([]byte(q.Name))
}
