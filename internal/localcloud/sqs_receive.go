package localcloud

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"time"
)

type sqsReceiveInput struct {
	QueueUrl                    string //nolint:revive // the wire name
	AttributeNames              []string
	MessageSystemAttributeNames []string
	MaxNumberOfMessages         *int64
	VisibilityTimeout           *int64
	WaitTimeSeconds             *int64
}

type sqsReceived struct {
	MessageId     string //nolint:revive // the wire name
	ReceiptHandle string
	MD5OfBody     string
	Body          string
	Attributes    map[string]string `json:",omitempty"`
}

// ReceiveMessage waits (long polling) up to WaitTimeSeconds, default the
// queue's ReceiveMessageWaitTimeSeconds, on the cloud's clock, for at least
// one visible message; it also ends when the client goes away or the cloud
// closes, answering no messages.
func (c *Cloud) sqsReceiveMessage(in *call) (any, error) {
	var p sqsReceiveInput
	if err := in.decodeJSON(&p); err != nil {
		return nil, err
	}
	maxN, aerr := bounded("MaxNumberOfMessages", p.MaxNumberOfMessages, 1, 1, sqsMaxBatch)
	if aerr != nil {
		return nil, aerr
	}
	if _, aerr := bounded("VisibilityTimeout", p.VisibilityTimeout, 0, 0, sqsMaxVisibility); aerr != nil {
		return nil, aerr
	}
	if _, aerr := bounded("WaitTimeSeconds", p.WaitTimeSeconds, 0, 0, sqsMaxWaitSeconds); aerr != nil {
		return nil, aerr
	}
	ctx := sqsContext(in)
	var deadline time.Time
	for {
		c.sqs.mu.Lock()
		q, err := c.queueLocked(p.QueueUrl)
		if err != nil {
			c.sqs.mu.Unlock()
			return nil, err
		}
		now := c.clock.Now()
		if deadline.IsZero() {
			wait, _ := bounded("WaitTimeSeconds", p.WaitTimeSeconds, q.intAttr("ReceiveMessageWaitTimeSeconds"), 0, sqsMaxWaitSeconds)
			deadline = now.Add(time.Duration(wait) * time.Second)
		}
		got, err := c.takeLocked(q, int(maxN), p)
		if err != nil || len(got) > 0 || !now.Before(deadline) {
			c.sqs.mu.Unlock()
			return struct{ Messages []sqsReceived }{got}, err
		}
		wake, until := q.wake, deadline
		for _, m := range q.msgs { // wake up when the next message becomes visible
			if m.VisibleAt.After(now) && m.VisibleAt.Before(until) {
				until = m.VisibleAt
			}
		}
		c.sqs.polling++
		c.sqs.mu.Unlock()
		ended := c.pollWait(ctx, wake, until.Sub(now))
		c.sqs.mu.Lock()
		c.sqs.polling--
		c.sqs.mu.Unlock()
		if ended {
			return struct{ Messages []sqsReceived }{[]sqsReceived{}}, nil
		}
	}
}

// pollWait waits for wake, d on the cloud's clock, the end of ctx or of
// the cloud; ended reports the last two.
func (c *Cloud) pollWait(ctx context.Context, wake <-chan struct{}, d time.Duration) (ended bool) {
	t := c.clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-wake:
	case <-t.C():
	case <-ctx.Done():
		return true
	case <-c.sqs.done:
		return true
	}
	return false
}

// takeLocked receives up to n visible messages of q: each becomes
// invisible for the visibility timeout and gets a new receipt handle.
// c.sqs.mu must be held.
func (c *Cloud) takeLocked(q *sqsQueue, n int, p sqsReceiveInput) ([]sqsReceived, error) {
	now := c.clock.Now().UTC()
	vt := q.intAttr("VisibilityTimeout")
	if p.VisibilityTimeout != nil {
		vt = *p.VisibilityTimeout
	}
	var picked, next []*sqsMessage
	for _, m := range q.msgs {
		if len(picked) == n {
			break
		}
		if m.VisibleAt.After(now) {
			continue
		}
		nm := *m
		nm.Receives++
		if nm.FirstReceive.IsZero() {
			nm.FirstReceive = now
		}
		nm.VisibleAt = now.Add(time.Duration(vt) * time.Second)
		nm.Handle = receiptHandle(q.Name, m.ID)
		picked, next = append(picked, m), append(next, &nm)
	}
	out := []sqsReceived{}
	if len(next) == 0 {
		return out, nil
	}
	if err := c.sqsPersist(func(w *sqsWriter) error { return w.putMessages(q, next...) }); err != nil {
		return nil, err
	}
	names := append(slices.Clone(p.AttributeNames), p.MessageSystemAttributeNames...)
	for i, m := range picked {
		*m = *next[i]
		out = append(out, sqsReceived{MessageId: m.ID, ReceiptHandle: m.Handle, MD5OfBody: m.MD5, Body: m.Body,
			Attributes: messageAttributes(m, names)})
	}
	return out, nil
}

// messageAttributes are the system attributes of m that names ask for
// ("All" for every one).
func messageAttributes(m *sqsMessage, names []string) map[string]string {
	all := map[string]string{
		"ApproximateReceiveCount":          strconv.Itoa(m.Receives),
		"ApproximateFirstReceiveTimestamp": formatMillis(m.FirstReceive),
		"SentTimestamp":                    formatMillis(m.Sent),
		"SenderId":                         AccessKeyID,
	}
	out := map[string]string{}
	for _, name := range names {
		if name == "All" {
			return all
		}
		if v, ok := all[name]; ok {
			out[name] = v
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

type sqsHandleInput struct {
	QueueUrl          string //nolint:revive // the wire name
	ReceiptHandle     string
	VisibilityTimeout *int64
}

// deleteLocked deletes the message a handle names; a message already gone
// is no error, as on SQS. c.sqs.mu must be held.
func (c *Cloud) deleteLocked(q *sqsQueue, handle string) error {
	m, aerr := messageByHandleLocked(q, handle)
	if aerr != nil {
		return aerr
	}
	if m == nil {
		return nil
	}
	if err := c.sqsPersist(func(w *sqsWriter) error { return w.deleteMessages(q, m) }); err != nil {
		return err
	}
	q.msgs = slices.DeleteFunc(q.msgs, func(x *sqsMessage) bool { return x == m })
	return nil
}

func (c *Cloud) sqsDeleteMessage(in *call) (any, error) {
	return onQueue(c, in, nil, func(q *sqsQueue, p sqsHandleInput) (any, error) {
		if err := c.deleteLocked(q, p.ReceiptHandle); err != nil {
			return nil, err
		}
		return struct{}{}, nil
	})
}

// changeVisibilityLocked makes an in-flight message visible again after
// timeout seconds. c.sqs.mu must be held.
func (c *Cloud) changeVisibilityLocked(q *sqsQueue, handle string, timeout *int64) error {
	if timeout == nil {
		return sqsErr("MissingParameter", "MissingParameter", http.StatusBadRequest, "The request must contain the parameter VisibilityTimeout.")
	}
	vt, aerr := bounded("VisibilityTimeout", timeout, 0, 0, sqsMaxVisibility)
	if aerr != nil {
		return aerr
	}
	m, aerr := messageByHandleLocked(q, handle)
	switch {
	case aerr != nil:
		return aerr
	case m == nil || m.Handle != handle:
		return errReceiptHandle(handle)
	}
	now := c.clock.Now().UTC()
	if !m.VisibleAt.After(now) {
		return sqsErr("MessageNotInflight", sqsQueryPrefix+"MessageNotInflight", http.StatusBadRequest,
			"Value %s for parameter ReceiptHandle is invalid. Reason: Message does not exist or is not available for visibility timeout change.", handle)
	}
	nm := *m
	nm.VisibleAt = now.Add(time.Duration(vt) * time.Second)
	if err := c.sqsPersist(func(w *sqsWriter) error { return w.putMessages(q, &nm) }); err != nil {
		return err
	}
	*m = nm
	q.notify()
	return nil
}

func (c *Cloud) sqsChangeMessageVisibility(in *call) (any, error) {
	return onQueue(c, in, nil, func(q *sqsQueue, p sqsHandleInput) (any, error) {
		if err := c.changeVisibilityLocked(q, p.ReceiptHandle, p.VisibilityTimeout); err != nil {
			return nil, err
		}
		return struct{}{}, nil
	})
}

// batchByHandle runs one handle action per entry of a batch.
func (c *Cloud) batchByHandle(in *call, each func(q *sqsQueue, e sqsHandleInput) error) (any, error) {
	return onQueue(c, in, checkBatch[sqsHandleInput], func(q *sqsQueue, p sqsBatchInput[sqsHandleInput]) (any, error) {
		return batchEach(q, p, each)
	})
}

// batchEach runs each on every entry, collecting the entries that fail
// with a client error; any other error fails the whole batch.
func batchEach(q *sqsQueue, p sqsBatchInput[sqsHandleInput], each func(q *sqsQueue, e sqsHandleInput) error) (any, error) {
	type ok struct {
		Id string //nolint:revive // the wire name
	}
	out := struct {
		Successful []ok
		Failed     []sqsBatchError
	}{[]ok{}, []sqsBatchError{}}
	for _, e := range p.Entries {
		err := each(q, e.Request)
		if aerr, isAPI := err.(*apiError); isAPI && aerr.Status < 500 {
			out.Failed = append(out.Failed, batchFailure(e.Id, aerr))
			continue
		}
		if err != nil {
			return nil, err
		}
		out.Successful = append(out.Successful, ok{Id: e.Id})
	}
	return out, nil
}

func (c *Cloud) sqsDeleteMessageBatch(in *call) (any, error) {
	return c.batchByHandle(in, func(q *sqsQueue, e sqsHandleInput) error { return c.deleteLocked(q, e.ReceiptHandle) })
}

func (c *Cloud) sqsChangeMessageVisibilityBatch(in *call) (any, error) {
	return c.batchByHandle(in, func(q *sqsQueue, e sqsHandleInput) error {
		return c.changeVisibilityLocked(q, e.ReceiptHandle, e.VisibilityTimeout)
	})
}
