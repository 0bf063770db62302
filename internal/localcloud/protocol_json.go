package localcloud

import (
	"bytes"
	"encoding/json"
	"mime"
	"net/http"
	"strings"
)

// jsonProtocol is AWS JSON 1.0 (SQS, DynamoDB, ...): a POST whose
// X-Amz-Target header is "<service name>.<Action>", whose body is the
// input as a JSON object, answered with the output as a JSON object, or an
// error {"__type": code, "message": text} with a 4xx or 5xx status.
// With v11 it is AWS JSON 1.1 (EventBridge): the same but for the
// Content-Type, application/x-amz-json-1.1.
type jsonProtocol struct{ v11 bool }

var _ protocol = jsonProtocol{}

const (
	targetHeader    = "X-Amz-Target"
	jsonContentType = "application/x-amz-json-1.0"
	json11Type      = "application/x-amz-json-1.1"
	// codeUnknownOperation answers a missing, foreign or unknown target.
	codeUnknownOperation = "UnknownOperationException"
	codeSerialization    = "SerializationException"
)

func (p jsonProtocol) decode(r *http.Request, body []byte) (*call, error) {
	if r.Method != http.MethodPost {
		return nil, errf(codeSerialization, "%s requests must be POSTs, not %s", p.contentType(), r.Method)
	}
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != p.contentType() {
		return nil, errf(codeSerialization, "unsupported Content-Type %q: want %s", ct, p.contentType())
	}
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	if !json.Valid(body) || bytes.TrimSpace(body)[0] != '{' {
		return nil, errf(codeSerialization, "the request body is not a JSON object")
	}
	api, action, _ := strings.Cut(r.Header.Get(targetHeader), ".")
	return &call{action: action, api: api, body: body}, nil
}

// check requires a target naming svc and an action.
func (jsonProtocol) check(svc *service, in *call) error {
	switch {
	case in.api == "" || in.action == "":
		return errf(codeUnknownOperation, "Missing or malformed %s header: want %s.<Action>", targetHeader, svc.name)
	case in.api != svc.name:
		return errf(codeUnknownOperation, "Operation %s.%s is not one of service %s", in.api, in.action, svc.name)
	}
	return nil
}

func (jsonProtocol) unknownAction(svc *service, action string) *apiError {
	return errf(codeUnknownOperation, "Operation %s.%s does not exist", svc.name, action)
}

// encode marshals result; nil is an empty object.
func (jsonProtocol) encode(_ *service, in *call, result any) ([]byte, error) {
	if result == nil {
		return []byte("{}"), nil
	}
	out, err := json.Marshal(result)
	if err != nil {
		return nil, errf(codeInternalFailure, "encode %s output: %v", in.action, err)
	}
	return out, nil
}

// jsonError is the body of a JSON 1.0 error.
type jsonError struct {
	Type    string `json:"__type"`
	Message string `json:"message"`
}

func (jsonProtocol) encodeError(_ *service, _ string, e *apiError) []byte {
	out, err := json.Marshal(jsonError{Type: e.Code, Message: e.Message})
	if err != nil { // only strings: cannot fail
		return []byte("{}")
	}
	return out
}

func (p jsonProtocol) contentType() string {
	if p.v11 {
		return json11Type
	}
	return jsonContentType
}

// jsonFailures are JSON 1.0's words for the common failures, as DynamoDB
// and the other JSON services send them.
var jsonFailures = map[failureKind]shape{
	failMissingAuth:         {"MissingAuthenticationTokenException", http.StatusBadRequest, ""},
	failIncompleteSignature: {"IncompleteSignatureException", http.StatusBadRequest, ""},
	failUnknownKey:          {"UnrecognizedClientException", http.StatusBadRequest, ""},
	failBadSignature:        {"InvalidSignatureException", http.StatusBadRequest, ""},
	failExpiredToken:        {"ExpiredTokenException", http.StatusBadRequest, ""},
	failAccessDenied:        {"AccessDeniedException", http.StatusBadRequest, ""},
	failThrottled:           {"ThrottlingException", http.StatusBadRequest, "Rate exceeded"},
	failInternal:            {codeInternalFailure, http.StatusInternalServerError, "internal error"},
	failMalformed:           {codeSerialization, http.StatusBadRequest, ""},
}

func (jsonProtocol) failure(kind failureKind, msg string) *apiError {
	return failureTable(jsonFailures, kind, msg)
}

// decodeJSON unmarshals a json1.0 call's input into v (for handlers).
func (in *call) decodeJSON(v any) error {
	if err := json.Unmarshal(in.body, v); err != nil {
		return errf(codeSerialization, "cannot read the input of %s: %v", in.action, err)
	}
	return nil
}
