package localcloud

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Bounds of the message actions, as SQS has them.
const (
	sqsMaxBatch       = 10
	sqsMaxWaitSeconds = 20
	sqsMaxVisibility  = 43200
	sqsMaxDelay       = 900
)

// expireLocked drops the messages older than the queue's retention period.
// c.sqs.mu must be held.
func (c *Cloud) expireLocked(q *sqsQueue) error {
	cutoff := c.clock.Now().Add(-time.Duration(q.intAttr("MessageRetentionPeriod")) * time.Second)
	var old []*sqsMessage
	for _, m := range q.msgs {
		if !m.Sent.After(cutoff) {
			old = append(old, m)
		}
	}
	if len(old) == 0 {
		return nil
	}
	if err := c.sqsPersist(func(w *sqsWriter) error { return w.deleteMessages(q, old...) }); err != nil {
		return err
	}
	q.msgs = slices.DeleteFunc(q.msgs, func(m *sqsMessage) bool { return !m.Sent.After(cutoff) })
	return nil
}

// checkBody validates a message body: 1 byte to the queue's maximum size,
// of the characters SQS allows.
func checkBody(q *sqsQueue, body string) *apiError {
	if body == "" {
		return sqsErr("MissingParameter", "MissingParameter", http.StatusBadRequest, "The request must contain the parameter MessageBody.")
	}
	if maxSize := q.intAttr("MaximumMessageSize"); int64(len(body)) > maxSize {
		return errSQSInvalid("One or more parameters are invalid. Reason: Message must be shorter than %d bytes.", maxSize)
	}
	for _, r := range body {
		if r == utf8.RuneError || (r < 0x20 && r != '\t' && r != '\n' && r != '\r') || (r >= 0xD800 && r <= 0xDFFF) || r == 0xFFFE || r == 0xFFFF {
			return sqsErr("InvalidMessageContents", "InvalidMessageContents", http.StatusBadRequest,
				"Invalid characters found. Valid unicode characters are #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF")
		}
	}
	return nil
}

// newMessageLocked builds a message for q (not stored yet); delay nil takes
// the queue's DelaySeconds. c.sqs.mu must be held.
func (c *Cloud) newMessageLocked(q *sqsQueue, body string, delay *int64) (*sqsMessage, *apiError) {
	if aerr := checkBody(q, body); aerr != nil {
		return nil, aerr
	}
	d := q.intAttr("DelaySeconds")
	if delay != nil {
		if *delay < 0 || *delay > sqsMaxDelay {
			return nil, errSQSInvalid("Value %d for parameter DelaySeconds is invalid. Reason: must be between 0 and %d.", *delay, sqsMaxDelay)
		}
		d = *delay
	}
	sum := md5.Sum([]byte(body))
	now := c.clock.Now().UTC()
	q.Seq++
	return &sqsMessage{ID: newRequestID(), Body: body, MD5: hex.EncodeToString(sum[:]), Seq: q.Seq, Sent: now,
		VisibleAt: now.Add(time.Duration(d) * time.Second)}, nil
}

// enqueueLocked stores new messages of q and wakes its receivers. c.sqs.mu
// must be held.
func (c *Cloud) enqueueLocked(q *sqsQueue, msgs ...*sqsMessage) error {
	if err := c.sqsPersist(func(w *sqsWriter) error {
		if err := w.putQueue(q); err != nil { // its sequence number
			return err
		}
		return w.putMessages(q, msgs...)
	}); err != nil {
		return err
	}
	q.msgs = append(q.msgs, msgs...)
	q.notify()
	return nil
}

type sqsSendInput struct {
	QueueUrl          string //nolint:revive // the wire name
	MessageBody       string
	DelaySeconds      *int64
	MessageAttributes map[string]any
	MessageGroupId    string //nolint:revive // the wire name
}

type sqsSendOutput struct {
	MessageId        string //nolint:revive // the wire name
	MD5OfMessageBody string
}

func checkSendExtras(p sqsSendInput) *apiError {
	switch {
	case len(p.MessageAttributes) > 0:
		return errSQSInvalid("MessageAttributes are not implemented by the local cloud.")
	case p.MessageGroupId != "":
		return errSQSInvalid("The request include parameter MessageGroupId that is not valid for this queue type (standard).")
	}
	return nil
}

func (c *Cloud) sqsSendMessage(in *call) (any, error) {
	return onQueue(c, in, checkSendExtras, c.sendMessageLocked)
}

func (c *Cloud) sendMessageLocked(q *sqsQueue, p sqsSendInput) (any, error) {
	seq := q.Seq
	m, aerr := c.newMessageLocked(q, p.MessageBody, p.DelaySeconds)
	if aerr != nil {
		return nil, aerr
	}
	if err := c.enqueueLocked(q, m); err != nil {
		q.Seq = seq
		return nil, err
	}
	return sqsSendOutput{MessageId: m.ID, MD5OfMessageBody: m.MD5}, nil
}

// sqsBatchError is a failed entry of a batch action.
type sqsBatchError struct {
	Id          string //nolint:revive // the wire name
	SenderFault bool
	Code        string
	Message     string
}

func batchFailure(id string, aerr *apiError) sqsBatchError {
	code := aerr.Code[strings.LastIndex(aerr.Code, "#")+1:]
	if q, _, ok := strings.Cut(aerr.QueryError, ";"); ok {
		code = q
	}
	return sqsBatchError{Id: id, SenderFault: true, Code: code, Message: aerr.Message}
}

// checkBatchIDs validates a batch's entry ids: 1 to 10 entries, distinct
// ids of up to 80 alphanumerics, hyphens and underscores.
func checkBatchIDs(ids []string) *apiError {
	switch {
	case len(ids) == 0:
		return sqsErr("EmptyBatchRequest", sqsQueryPrefix+"EmptyBatchRequest", http.StatusBadRequest,
			"There should be at least one SendMessageBatchRequestEntry in the request.")
	case len(ids) > sqsMaxBatch:
		return sqsErr("TooManyEntriesInBatchRequest", sqsQueryPrefix+"TooManyEntriesInBatchRequest", http.StatusBadRequest,
			"Maximum number of entries per request are %d. You have sent %d.", sqsMaxBatch, len(ids))
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if !queueNamePattern.MatchString(id) {
			return sqsErr("InvalidBatchEntryId", sqsQueryPrefix+"InvalidBatchEntryId", http.StatusBadRequest,
				"A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long (%q).", id)
		}
		if seen[id] {
			return sqsErr("BatchEntryIdsNotDistinct", sqsQueryPrefix+"BatchEntryIdsNotDistinct", http.StatusBadRequest,
				"Id %s repeated.", id)
		}
		seen[id] = true
	}
	return nil
}

// sqsBatchInput is a batch action's request: entries of E, each with its
// batch id.
type sqsBatchInput[E any] struct {
	QueueUrl string //nolint:revive // the wire name
	Entries  []sqsBatchEntry[E]
}

type sqsBatchEntry[E any] struct {
	Id      string //nolint:revive // the wire name
	Request E      `json:"-"`
}

// UnmarshalJSON reads an entry's id and its request's fields side by side,
// as SQS sends them.
func (e *sqsBatchEntry[E]) UnmarshalJSON(data []byte) error {
	var id struct {
		Id string //nolint:revive // the wire name
	}
	if err := json.Unmarshal(data, &id); err != nil {
		return err
	}
	e.Id = id.Id
	return json.Unmarshal(data, &e.Request)
}

func (p sqsBatchInput[E]) queueURL() string { return p.QueueUrl }

// checkBatch checks the batch's ids.
func checkBatch[E any](p sqsBatchInput[E]) *apiError {
	ids := make([]string, len(p.Entries))
	for i, e := range p.Entries {
		ids[i] = e.Id
	}
	return checkBatchIDs(ids)
}

func (c *Cloud) sqsSendMessageBatch(in *call) (any, error) {
	return onQueue(c, in, checkBatch[sqsSendInput], c.sendMessageBatchLocked)
}

func (c *Cloud) sendMessageBatchLocked(q *sqsQueue, p sqsBatchInput[sqsSendInput]) (any, error) {
	type sent struct {
		Id string //nolint:revive // the wire name
		sqsSendOutput
	}
	var out struct {
		Successful []sent
		Failed     []sqsBatchError
	}
	out.Successful, out.Failed = []sent{}, []sqsBatchError{}
	seq := q.Seq
	var msgs []*sqsMessage
	for _, e := range p.Entries {
		aerr := checkSendExtras(e.Request)
		var m *sqsMessage
		if aerr == nil {
			m, aerr = c.newMessageLocked(q, e.Request.MessageBody, e.Request.DelaySeconds)
		}
		if aerr != nil {
			out.Failed = append(out.Failed, batchFailure(e.Id, aerr))
			continue
		}
		msgs = append(msgs, m)
		out.Successful = append(out.Successful, sent{Id: e.Id, sqsSendOutput: sqsSendOutput{MessageId: m.ID, MD5OfMessageBody: m.MD5}})
	}
	if len(msgs) > 0 {
		if err := c.enqueueLocked(q, msgs...); err != nil {
			q.Seq = seq
			return nil, err
		}
	}
	return out, nil
}

// receiptHandle is an opaque token naming one receive of one message.
func receiptHandle(queue, msgID string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(queue + "\x00" + msgID + "\x00" + newRequestID()))
}

// parseReceiptHandle returns the message id of a handle of q's.
func parseReceiptHandle(q *sqsQueue, handle string) (string, *apiError) {
	raw, err := base64.RawURLEncoding.DecodeString(handle)
	parts := strings.Split(string(raw), "\x00")
	if handle == "" || err != nil || len(parts) != 3 || parts[0] != q.Name {
		return "", errReceiptHandle(handle)
	}
	return parts[1], nil
}

// messageByHandleLocked finds the message a receipt handle names; nil when
// it is gone (deleted or expired). c.sqs.mu must be held.
func messageByHandleLocked(q *sqsQueue, handle string) (*sqsMessage, *apiError) {
	id, aerr := parseReceiptHandle(q, handle)
	if aerr != nil {
		return nil, aerr
	}
	for _, m := range q.msgs {
		if m.ID == id {
			return m, nil
		}
	}
	return nil, nil
}

// bounded reads an optional integer input in [lo, hi], def when absent.
func bounded(name string, v *int64, def, lo, hi int64) (int64, *apiError) {
	if v == nil {
		return def, nil
	}
	if *v < lo || *v > hi {
		return 0, errSQSInvalid("Value %d for parameter %s is invalid. Reason: must be between %d and %d.", *v, name, lo, hi)
	}
	return *v, nil
}

// sqsContext is the request's context, or Background for calls made in
// process.
func sqsContext(in *call) context.Context {
	if in.ctx != nil {
		return in.ctx
	}
	return context.Background()
}

// formatMillis renders a time as SQS's epoch milliseconds.
func formatMillis(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }
