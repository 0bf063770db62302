package localcloud

import (
	"fmt"
	"net/http"
)

// protocol is a wire protocol: how a request names its action and carries
// its input, and how results and errors are rendered. A service speaks one.
type protocol interface {
	// decode reads the action and its input from r, whose body has been
	// read. It checks the request's form, nothing about the service.
	decode(r *http.Request, body []byte) (*call, error)
	// check verifies, once the caller is authenticated, that the call is
	// addressed to svc (query: the Version; json1.0: the target prefix) and
	// names an action.
	check(svc *service, in *call) error
	// unknownAction is the error for an action svc does not have.
	unknownAction(svc *service, action string) *apiError
	// encode renders a handler's result.
	encode(svc *service, in *call, result any) ([]byte, error)
	// encodeError renders an error.
	encodeError(svc *service, requestID string, e *apiError) []byte
	// contentType is the Content-Type of every answer.
	contentType() string
	// failure returns a failure every protocol knows in its own words.
	failure(kind failureKind, msg string) *apiError
}

// failureKind names a failure every protocol answers, each with its own
// code and status: authentication, authorization, throttling, internal
// errors and undecodable requests.
type failureKind int

const (
	failMissingAuth failureKind = iota + 1
	failIncompleteSignature
	failUnknownKey
	failBadSignature
	failExpiredToken
	failAccessDenied
	failThrottled
	failInternal
	failMalformed
)

// failed is a failure not yet in a protocol's words: what the signature
// check, the credential store and the authorizer return. The server
// renders it with the protocol of the service the request went to.
type failed struct {
	kind failureKind
	msg  string
}

func fail(kind failureKind, msg string) *failed { return &failed{kind: kind, msg: msg} }

func failf(kind failureKind, format string, args ...any) *failed {
	return fail(kind, fmt.Sprintf(format, args...))
}

func (f *failed) Error() string { return f.msg }

// shape is how a protocol answers a failure; msg is the message used when
// the failure comes without one.
type shape struct {
	code   string
	status int
	msg    string
}

// failureTable renders kind with table; msg "" takes the table's message.
func failureTable(table map[failureKind]shape, kind failureKind, msg string) *apiError {
	s, ok := table[kind]
	if !ok {
		s = table[failInternal]
	}
	if msg == "" {
		msg = s.msg
	}
	return &apiError{Code: s.code, Message: msg, Status: s.status, Server: s.status >= 500}
}

// queryFailures are the query protocol's (Auto Scaling, STS, IAM).
var queryFailures = map[failureKind]shape{
	failMissingAuth:         {codeMissingAuthToken, http.StatusForbidden, ""},
	failIncompleteSignature: {codeIncompleteSignature, http.StatusForbidden, ""},
	failUnknownKey:          {codeInvalidClientTokenID, http.StatusForbidden, ""},
	failBadSignature:        {codeSignatureDoesNotMatch, http.StatusForbidden, ""},
	failExpiredToken:        {"ExpiredToken", http.StatusForbidden, ""},
	failAccessDenied:        {"AccessDenied", http.StatusForbidden, ""},
	failThrottled:           {codeThrottling, http.StatusBadRequest, "Rate exceeded"},
	failInternal:            {codeInternalFailure, http.StatusInternalServerError, "internal error"},
	failMalformed:           {codeMalformedQueryString, http.StatusBadRequest, ""},
}

// ec2Failures are the ec2 protocol's. An unknown key keeps the query
// protocol's InvalidClientTokenId, as kelp's callers expect.
var ec2Failures = map[failureKind]shape{
	failMissingAuth:         {codeMissingAuthToken, http.StatusForbidden, ""},
	failIncompleteSignature: {codeIncompleteSignature, http.StatusForbidden, ""},
	failUnknownKey:          {codeInvalidClientTokenID, http.StatusForbidden, ""},
	failBadSignature:        {codeSignatureDoesNotMatch, http.StatusForbidden, ""},
	failExpiredToken:        {"RequestExpired", http.StatusBadRequest, ""},
	failAccessDenied:        {"UnauthorizedOperation", http.StatusForbidden, ""},
	failThrottled:           {codeRequestLimitExceeded, http.StatusServiceUnavailable, "Request limit exceeded."},
	failInternal:            {codeInternalError, http.StatusInternalServerError, "internal error"},
	failMalformed:           {codeMalformedQueryString, http.StatusBadRequest, ""},
}
