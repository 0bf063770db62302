package localcloud

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// SQS: standard queues over AWS JSON 1.0 (X-Amz-Target AmazonSQS.<Op>), as
// aws-sdk-go-v2's sqs client speaks it. Queue URLs are
// http://<host the request went to>/<account>/<name>; a queue is found by
// the last two path segments of its URL, whatever the host. Queues and
// their messages persist in the state directory. FIFO queues, message
// attributes and dead-letter queues are not implemented: asking for them
// is an error that says so.

const sqsQueryPrefix = "AWS.SimpleQueueService."

// sqsErr is an SQS error as its JSON protocol sends it: the shape's name in
// __type and the query protocol's code in X-Amzn-Query-Error, which the
// SDK reports as the typed error's ErrorCode.
func sqsErr(shapeName, queryCode string, status int, format string, args ...any) *apiError {
	return &apiError{Code: "com.amazonaws.sqs#" + shapeName, Message: fmt.Sprintf(format, args...),
		Status: status, QueryError: queryCode + ";Sender"}
}

func errNoQueue() *apiError {
	return sqsErr("QueueDoesNotExist", sqsQueryPrefix+"NonExistentQueue", http.StatusBadRequest,
		"The specified queue does not exist.")
}

func errSQSInvalid(format string, args ...any) *apiError {
	return sqsErr("InvalidParameterValue", codeInvalidParameterValue, http.StatusBadRequest, format, args...)
}

func errReceiptHandle(handle string) *apiError {
	return sqsErr("ReceiptHandleIsInvalid", "ReceiptHandleIsInvalid", http.StatusNotFound,
		"The input receipt handle %q is not a valid receipt handle.", handle)
}

// Queue attributes: the settable ones with their defaults and bounds.
type sqsAttrBound struct {
	def      string
	min, max int64
}

var sqsSettable = map[string]sqsAttrBound{
	"DelaySeconds":                  {"0", 0, 900},
	"MaximumMessageSize":            {"262144", 1024, 262144},
	"MessageRetentionPeriod":        {"345600", 60, 1209600},
	"ReceiveMessageWaitTimeSeconds": {"0", 0, 20},
	"VisibilityTimeout":             {"30", 0, 43200},
	"Policy":                        {"", 0, 0},
	"SqsManagedSseEnabled":          {"true", 0, 0},
}

var queueNamePattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,80}$`)

// sqsQueue is a standard queue. Messages are kept in sending order.
type sqsQueue struct {
	Name              string
	Created, Modified time.Time
	Attributes        map[string]string // the settable ones, defaults filled
	Tags              map[string]string `json:",omitempty"`
	Seq               uint64            // the last message's sequence number

	msgs []*sqsMessage
	wake chan struct{} // closed and replaced when a receive may find more
}

// sqsMessage is one message and its delivery state.
type sqsMessage struct {
	ID, Body, MD5 string
	Seq           uint64
	Sent          time.Time
	VisibleAt     time.Time // not receivable before (delay, visibility timeout)
	Receives      int
	FirstReceive  time.Time `json:",omitzero"`
	Handle        string    `json:",omitempty"` // the last receipt handle
}

func (q *sqsQueue) arn(region string) string {
	return "arn:aws:sqs:" + region + ":" + AccountID + ":" + q.Name
}

func (q *sqsQueue) intAttr(name string) int64 {
	v, err := strconv.ParseInt(q.Attributes[name], 10, 64)
	if err != nil {
		return 0
	}
	return v
}

// notify wakes the receives waiting on q.
func (q *sqsQueue) notify() {
	close(q.wake)
	q.wake = make(chan struct{})
}

// sqsState is the queues of the cloud. Its lock is taken after c.mu (event
// delivery runs under c.mu), never before.
type sqsState struct {
	mu     sync.Mutex
	queues map[string]*sqsQueue
	done   chan struct{} // closed at Close: long polls end
	// polling counts the receives waiting for messages (tests read it).
	polling int
}

func (c *Cloud) sqsService() *service {
	return &service{signingName: "sqs", name: "AmazonSQS", version: "2012-11-05", proto: jsonProtocol{},
		actions: map[string]handler{
			"CreateQueue":                  c.sqsCreateQueue,
			"GetQueueUrl":                  c.sqsGetQueueURL,
			"GetQueueAttributes":           c.sqsGetQueueAttributes,
			"SetQueueAttributes":           c.sqsSetQueueAttributes,
			"DeleteQueue":                  c.sqsDeleteQueue,
			"ListQueues":                   c.sqsListQueues,
			"PurgeQueue":                   c.sqsPurgeQueue,
			"SendMessage":                  c.sqsSendMessage,
			"SendMessageBatch":             c.sqsSendMessageBatch,
			"ReceiveMessage":               c.sqsReceiveMessage,
			"DeleteMessage":                c.sqsDeleteMessage,
			"DeleteMessageBatch":           c.sqsDeleteMessageBatch,
			"ChangeMessageVisibility":      c.sqsChangeMessageVisibility,
			"ChangeMessageVisibilityBatch": c.sqsChangeMessageVisibilityBatch,
		}}
}

// queueURL is the URL of queue name as seen by a client that sent its
// request to host.
func queueURL(host, name string) string {
	return "http://" + host + "/" + AccountID + "/" + name
}

// queueNameOf reads a queue's name from its URL.
func queueNameOf(raw string) (string, *apiError) {
	u, err := url.Parse(raw)
	if raw == "" || err != nil {
		return "", sqsErr("InvalidAddress", "InvalidAddress", http.StatusNotFound, "The address %q is not valid for this endpoint.", raw)
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(parts) != 2 || parts[0] != AccountID || !queueNamePattern.MatchString(parts[1]) {
		return "", errNoQueue()
	}
	return parts[1], nil
}

// queueLocked finds the queue of a URL, dropping its expired messages.
// c.sqs.mu must be held.
func (c *Cloud) queueLocked(rawURL string) (*sqsQueue, error) {
	name, aerr := queueNameOf(rawURL)
	if aerr != nil {
		return nil, aerr
	}
	q := c.sqs.queues[name]
	if q == nil {
		return nil, errNoQueue()
	}
	return q, c.expireLocked(q)
}

// queueRequest is a request addressed to one queue by its URL.
type queueRequest interface{ queueURL() string }

func (p sqsQueueInput) queueURL() string  { return p.QueueUrl }
func (p sqsHandleInput) queueURL() string { return p.QueueUrl }
func (p sqsSendInput) queueURL() string   { return p.QueueUrl }

// onQueue opens every handler of a queue's request: it decodes the request,
// validates it with check (nil: nothing to check) before taking any lock,
// and runs f on the queue its URL names, with c.sqs.mu held.
func onQueue[P queueRequest](c *Cloud, in *call, check func(P) *apiError, f func(q *sqsQueue, p P) (any, error)) (any, error) {
	var p P
	if err := in.decodeJSON(&p); err != nil {
		return nil, err
	}
	if check != nil {
		if aerr := check(p); aerr != nil {
			return nil, aerr
		}
	}
	c.sqs.mu.Lock()
	defer c.sqs.mu.Unlock()
	q, err := c.queueLocked(p.queueURL())
	if err != nil {
		return nil, err
	}
	return f(q, p)
}

// checkQueueAttributes validates attributes to set, naming the first bad one.
func checkQueueAttributes(attrs map[string]string) *apiError {
	for _, name := range slices.Sorted(maps.Keys(attrs)) {
		v := attrs[name]
		b, ok := sqsSettable[name]
		switch {
		case name == "FifoQueue" || name == "ContentBasedDeduplication" || name == "RedrivePolicy" ||
			name == "RedriveAllowPolicy" || strings.HasPrefix(name, "Kms"):
			return sqsErr("InvalidAttributeName", "InvalidAttributeName", http.StatusBadRequest,
				"Attribute %s is not implemented by the local cloud (standard queues only, no KMS, no dead-letter queues).", name)
		case !ok:
			return sqsErr("InvalidAttributeName", "InvalidAttributeName", http.StatusBadRequest, "Unknown Attribute %s.", name)
		case name == "Policy":
			if v != "" && !json.Valid([]byte(v)) {
				return sqsErr("InvalidAttributeValue", "InvalidAttributeValue", http.StatusBadRequest,
					"Invalid value for the parameter Policy: not a JSON document.")
			}
		case name == "SqsManagedSseEnabled":
			if v != "true" && v != "false" {
				return sqsErr("InvalidAttributeValue", "InvalidAttributeValue", http.StatusBadRequest,
					"Invalid value for the parameter SqsManagedSseEnabled: %q is not true or false.", v)
			}
		default:
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < b.min || n > b.max {
				return sqsErr("InvalidAttributeValue", "InvalidAttributeValue", http.StatusBadRequest,
					"Invalid value for the parameter %s: %q is not an integer from %d to %d.", name, v, b.min, b.max)
			}
		}
	}
	return nil
}

type sqsCreateQueueInput struct {
	QueueName  string
	Attributes map[string]string
	Tags       map[string]string `json:"tags"`
}

type sqsQueueURLOutput struct {
	QueueUrl string //nolint:revive // the wire name
}

func (c *Cloud) sqsCreateQueue(in *call) (any, error) {
	var p sqsCreateQueueInput
	if err := in.decodeJSON(&p); err != nil {
		return nil, err
	}
	if aerr := checkQueueAttributes(p.Attributes); aerr != nil {
		return nil, aerr
	}
	if !queueNamePattern.MatchString(p.QueueName) {
		return nil, errSQSInvalid("Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length (QueueName %q).", p.QueueName)
	}
	c.sqs.mu.Lock()
	defer c.sqs.mu.Unlock()
	if q := c.sqs.queues[p.QueueName]; q != nil {
		for _, name := range slices.Sorted(maps.Keys(p.Attributes)) {
			if q.Attributes[name] != p.Attributes[name] {
				return nil, sqsErr("QueueNameExists", "QueueAlreadyExists", http.StatusBadRequest,
					"A queue already exists with the same name and a different value for attribute %s", name)
			}
		}
		return sqsQueueURLOutput{QueueUrl: queueURL(in.host, q.Name)}, nil
	}
	now := c.clock.Now().UTC()
	q := &sqsQueue{Name: p.QueueName, Created: now, Modified: now, Attributes: map[string]string{}, Tags: p.Tags,
		wake: make(chan struct{})}
	for name, b := range sqsSettable {
		q.Attributes[name] = b.def
	}
	maps.Copy(q.Attributes, p.Attributes)
	if err := c.sqsPersist(func(w *sqsWriter) error { return w.putQueue(q) }); err != nil {
		return nil, err
	}
	c.sqs.queues[q.Name] = q
	c.log.Info("sqs queue created", "queue", q.Name)
	return sqsQueueURLOutput{QueueUrl: queueURL(in.host, q.Name)}, nil
}

func (c *Cloud) sqsGetQueueURL(in *call) (any, error) {
	var p struct{ QueueName, QueueOwnerAWSAccountId string }
	if err := in.decodeJSON(&p); err != nil {
		return nil, err
	}
	c.sqs.mu.Lock()
	defer c.sqs.mu.Unlock()
	if q := c.sqs.queues[p.QueueName]; q != nil && (p.QueueOwnerAWSAccountId == "" || p.QueueOwnerAWSAccountId == AccountID) {
		return sqsQueueURLOutput{QueueUrl: queueURL(in.host, q.Name)}, nil
	}
	return nil, errNoQueue()
}

type sqsQueueInput struct {
	QueueUrl       string //nolint:revive // the wire name
	AttributeNames []string
	Attributes     map[string]string
}

func (c *Cloud) sqsGetQueueAttributes(in *call) (any, error) {
	return onQueue(c, in, nil, c.getQueueAttributesLocked)
}

func (c *Cloud) getQueueAttributesLocked(q *sqsQueue, p sqsQueueInput) (any, error) {
	all := c.queueAttributesLocked(q)
	out := map[string]string{}
	for _, name := range p.AttributeNames {
		if name == "All" {
			maps.Copy(out, all)
			continue
		}
		v, ok := all[name]
		if !ok {
			if _, known := sqsSettable[name]; !known {
				return nil, sqsErr("InvalidAttributeName", "InvalidAttributeName", http.StatusBadRequest, "Unknown Attribute %s.", name)
			}
			continue
		}
		out[name] = v
	}
	if len(out) == 0 {
		return struct{}{}, nil
	}
	return struct{ Attributes map[string]string }{out}, nil
}

// queueAttributesLocked is every attribute of q, as GetQueueAttributes All
// answers. c.sqs.mu must be held.
func (c *Cloud) queueAttributesLocked(q *sqsQueue) map[string]string {
	now := c.clock.Now()
	var visible, inFlight, delayed int
	for _, m := range q.msgs {
		switch {
		case !m.VisibleAt.After(now):
			visible++
		case m.Receives > 0:
			inFlight++
		default:
			delayed++
		}
	}
	out := map[string]string{}
	for name, v := range q.Attributes {
		if v != "" {
			out[name] = v
		}
	}
	out["ApproximateNumberOfMessages"] = strconv.Itoa(visible)
	out["ApproximateNumberOfMessagesNotVisible"] = strconv.Itoa(inFlight)
	out["ApproximateNumberOfMessagesDelayed"] = strconv.Itoa(delayed)
	out["CreatedTimestamp"] = strconv.FormatInt(q.Created.Unix(), 10)
	out["LastModifiedTimestamp"] = strconv.FormatInt(q.Modified.Unix(), 10)
	out["QueueArn"] = q.arn(c.region.Name)
	return out
}

func (c *Cloud) sqsSetQueueAttributes(in *call) (any, error) {
	check := func(p sqsQueueInput) *apiError { return checkQueueAttributes(p.Attributes) }
	return onQueue(c, in, check, c.setQueueAttributesLocked)
}

func (c *Cloud) setQueueAttributesLocked(q *sqsQueue, p sqsQueueInput) (any, error) {
	next := *q
	next.Attributes = maps.Clone(q.Attributes)
	maps.Copy(next.Attributes, p.Attributes)
	next.Modified = c.clock.Now().UTC()
	if err := c.sqsPersist(func(w *sqsWriter) error { return w.putQueue(&next) }); err != nil {
		return nil, err
	}
	q.Attributes, q.Modified = next.Attributes, next.Modified
	return struct{}{}, nil
}

func (c *Cloud) sqsDeleteQueue(in *call) (any, error) {
	return onQueue(c, in, nil, c.deleteQueueLocked)
}

func (c *Cloud) deleteQueueLocked(q *sqsQueue, _ sqsQueueInput) (any, error) {
	if err := c.sqsPersist(func(w *sqsWriter) error { return w.deleteQueue(q) }); err != nil {
		return nil, err
	}
	delete(c.sqs.queues, q.Name)
	q.notify()
	c.log.Info("sqs queue deleted", "queue", q.Name)
	return struct{}{}, nil
}

func (c *Cloud) sqsListQueues(in *call) (any, error) {
	var p struct {
		QueueNamePrefix, NextToken string
		MaxResults                 *int
	}
	if err := in.decodeJSON(&p); err != nil {
		return nil, err
	}
	if p.MaxResults != nil && (*p.MaxResults < 1 || *p.MaxResults > 1000) {
		return nil, errSQSInvalid("Value %d for parameter MaxResults is invalid. Reason: must be between 1 and 1000.", *p.MaxResults)
	}
	c.sqs.mu.Lock()
	names := slices.Sorted(maps.Keys(c.sqs.queues))
	c.sqs.mu.Unlock()
	var out struct {
		QueueUrls []string `json:",omitempty"`
		NextToken string   `json:",omitempty"`
	}
	limit := 1000
	if p.MaxResults != nil {
		limit = *p.MaxResults
	}
	for _, name := range names {
		if !strings.HasPrefix(name, p.QueueNamePrefix) || (p.NextToken != "" && name <= p.NextToken) {
			continue
		}
		if len(out.QueueUrls) == limit {
			if p.MaxResults != nil { // without MaxResults, SQS answers at most 1,000 and no token
				out.NextToken = names[slices.Index(names, name)-1]
			}
			break
		}
		out.QueueUrls = append(out.QueueUrls, queueURL(in.host, name))
	}
	return out, nil
}

func (c *Cloud) sqsPurgeQueue(in *call) (any, error) {
	return onQueue(c, in, nil, c.purgeQueueLocked)
}

func (c *Cloud) purgeQueueLocked(q *sqsQueue, _ sqsQueueInput) (any, error) {
	msgs := q.msgs
	if err := c.sqsPersist(func(w *sqsWriter) error { return w.deleteMessages(q, msgs...) }); err != nil {
		return nil, err
	}
	q.msgs = nil
	return struct{}{}, nil
}
