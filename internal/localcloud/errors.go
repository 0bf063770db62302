package localcloud

import (
	"fmt"
	"net/http"
)

// Error codes the local cloud returns, spelled as AWS spells them.
const (
	// Both APIs.
	codeInvalidAction         = "InvalidAction"
	codeInvalidClientTokenID  = "InvalidClientTokenId"
	codeSignatureDoesNotMatch = "SignatureDoesNotMatch"
	codeMissingAuthToken      = "MissingAuthenticationToken"
	codeIncompleteSignature   = "IncompleteSignature"
	codeNoSuchVersion         = "NoSuchVersion"
	codeMalformedQueryString  = "MalformedQueryString"

	// Auto Scaling (query protocol).
	codeValidationError  = "ValidationError"
	codeAlreadyExists    = "AlreadyExists"
	codeResourceInUse    = "ResourceInUse"
	codeInvalidNextToken = "InvalidNextToken"
	codeLimitExceeded    = "LimitExceeded"
	codeThrottling       = "Throttling"
	codeInternalFailure  = "InternalFailure"

	// EC2 (ec2 protocol).
	codeInvalidParameterValue       = "InvalidParameterValue"
	codeInvalidParameterCombination = "InvalidParameterCombination"
	codeMissingParameter            = "MissingParameter"
	codeRequestLimitExceeded        = "RequestLimitExceeded"
	codeInternalError               = "InternalError"
	codeInvalidLTNameNotFound       = "InvalidLaunchTemplateName.NotFoundException"
	codeInvalidLTNameAlreadyExists  = "InvalidLaunchTemplateName.AlreadyExistsException"
	codeInvalidLTNameMalformed      = "InvalidLaunchTemplateName.MalformedException"
	codeInvalidLTIDNotFound         = "InvalidLaunchTemplateId.NotFound"
	codeInvalidLTIDMalformed        = "InvalidLaunchTemplateId.Malformed"
	codeInvalidLTVersionNotFound    = "InvalidLaunchTemplateId.VersionNotFound"
	codeInvalidAMIIDNotFound        = "InvalidAMIID.NotFound"
	codeInvalidAMIIDMalformed       = "InvalidAMIID.Malformed"
	codeInvalidInstanceIDNotFound   = "InvalidInstanceID.NotFound"
	codeInvalidInstanceIDMalformed  = "InvalidInstanceID.Malformed"
	codeInvalidInstanceType         = "InvalidInstanceType"
	codeInvalidSubnetIDNotFound     = "InvalidSubnetID.NotFound"
	codeInvalidID                   = "InvalidID"
	codeInvalidPaginationToken      = "InvalidPaginationToken"

	// Scaling activity failures (StatusMessage prefixes).
	codeInsufficientCapacity = "InsufficientInstanceCapacity"
)

// apiError is an error a client sees: an AWS error code, a message and an
// HTTP status. Handlers return it; the protocol encoders render it.
type apiError struct {
	Code    string
	Message string
	Status  int  // HTTP status; 0 means 400
	Server  bool // the fault is the server's (AWS Type Receiver), not the client's
	// QueryError, for JSON services compatible with the query protocol
	// (SQS), is the X-Amzn-Query-Error header: "<query code>;Sender".
	QueryError string
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

func (e *apiError) status() int {
	if e.Status == 0 {
		return http.StatusBadRequest
	}
	return e.Status
}

// errf returns a client error (HTTP 400) with a formatted message.
func errf(code, format string, args ...any) *apiError {
	return &apiError{Code: code, Message: fmt.Sprintf(format, args...)}
}

// validationf is the Auto Scaling catch-all client error.
func validationf(format string, args ...any) *apiError {
	return errf(codeValidationError, format, args...)
}

// invalidParamf is the EC2 catch-all client error.
func invalidParamf(format string, args ...any) *apiError {
	return errf(codeInvalidParameterValue, format, args...)
}
