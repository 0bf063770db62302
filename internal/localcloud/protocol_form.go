package localcloud

import (
	"mime"
	"net/http"
	"net/url"
)

// The two form-encoded protocols: query (Auto Scaling; later STS and IAM)
// and ec2. Both take Action and Version parameters in the query string or
// a form body; they differ in how lists are flattened, in error codes and
// in the XML of their answers.
type (
	queryProtocol struct{}
	ec2Protocol   struct{}
)

var (
	_ protocol = queryProtocol{}
	_ protocol = ec2Protocol{}
)

func (queryProtocol) decode(r *http.Request, body []byte) (*call, error) {
	return decodeForm(r, body, dialectQuery)
}

func (ec2Protocol) decode(r *http.Request, body []byte) (*call, error) {
	return decodeForm(r, body, dialectEC2)
}

// decodeForm reads the parameters of a form-encoded request: the query
// string plus, for a POST with a body, the form body.
func decodeForm(r *http.Request, body []byte, d dialect) (*call, error) {
	form, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, errf(codeMalformedQueryString, "malformed query string: %v", err)
	}
	if len(body) > 0 {
		if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != formContentType {
			return nil, errf(codeMalformedQueryString, "unsupported Content-Type %q: want %s", ct, formContentType)
		}
		bodyForm, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, errf(codeMalformedQueryString, "malformed form body: %v", err)
		}
		for k, vs := range bodyForm {
			form[k] = append(form[k], vs...)
		}
	}
	return &call{action: form.Get("Action"), api: form.Get("Version"), params: params{v: form, dialect: d}}, nil
}

const formContentType = "application/x-www-form-urlencoded"

// checkForm requires the service's Version and an Action.
func checkForm(svc *service, in *call) error {
	switch {
	case in.api == "":
		return in.params.requiredErr("Version")
	case in.api != svc.version:
		return errf(codeNoSuchVersion, "The requested version (%s) of service %s does not exist", in.api, svc.name)
	case in.action == "":
		return errf("MissingAction", "Missing Action")
	}
	return nil
}

func (queryProtocol) check(svc *service, in *call) error { return checkForm(svc, in) }
func (ec2Protocol) check(svc *service, in *call) error   { return checkForm(svc, in) }

func (queryProtocol) unknownAction(svc *service, action string) *apiError {
	return errf(codeInvalidAction, "Could not find operation %s for version %s", action, svc.version)
}

func (ec2Protocol) unknownAction(_ *service, action string) *apiError {
	return errf(codeInvalidAction, "The action %s is not valid for this web service.", action)
}

// encode renders <ActionResponse><ActionResult>result</ActionResult>
// <ResponseMetadata>; a nil result has no ActionResult.
func (queryProtocol) encode(svc *service, in *call, result any) ([]byte, error) {
	return encodeAS(svc.namespace, in.action, in.id, result)
}

// encode renders <ActionResponse><requestId>fields...; result must be an
// ec2Response.
func (ec2Protocol) encode(svc *service, in *call, result any) ([]byte, error) {
	body, ok := result.(ec2Response)
	if !ok {
		return nil, errf(codeInternalError, "action %s answered %T, not an EC2 response", in.action, result)
	}
	return encodeEC2(svc.namespace, in.action, in.id, body)
}

func (queryProtocol) encodeError(svc *service, requestID string, e *apiError) []byte {
	return encodeQueryError(svc.namespace, requestID, e)
}

func (ec2Protocol) encodeError(_ *service, requestID string, e *apiError) []byte {
	return encodeEC2Error(requestID, e)
}

const xmlContentType = "text/xml;charset=UTF-8"

func (queryProtocol) contentType() string { return xmlContentType }
func (ec2Protocol) contentType() string   { return xmlContentType }

func (queryProtocol) failure(kind failureKind, msg string) *apiError {
	return failureTable(queryFailures, kind, msg)
}

func (ec2Protocol) failure(kind failureKind, msg string) *apiError {
	return failureTable(ec2Failures, kind, msg)
}
