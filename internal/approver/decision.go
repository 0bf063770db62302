package approver

import (
	"fmt"
	"strings"
	"time"
)

// Action is what the controller must do with a CSR.
type Action string

const (
	// ActionApprove: add the Approved condition; for a new-node client CSR,
	// record the approval of Verdict.InstanceID first.
	ActionApprove Action = "Approve"
	// ActionDeny: add the Denied condition with Reason and Message.
	ActionDeny Action = "Deny"
	// ActionPending: leave the CSR untouched and decide again after
	// Verdict.RetryAfter (or on the next change of its facts).
	ActionPending Action = "Pending"
	// ActionIgnore: the CSR is not kelp's to decide (another signer, or
	// already decided). Write nothing, emit nothing.
	ActionIgnore Action = "Ignore"
)

// Kind is the kind of request a CSR is, as the policy classifies it.
type Kind string

const (
	// KindNewNode is a kubelet client CSR from a bootstrap token.
	KindNewNode Kind = "NewNode"
	// KindRenewal is a kubelet client CSR from the node itself.
	KindRenewal Kind = "Renewal"
	// KindServing is a kubelet serving CSR.
	KindServing Kind = "Serving"
	// KindOther is anything kelp does not decide.
	KindOther Kind = "Other"
)

// CheckStatus is the outcome of one check.
type CheckStatus string

const (
	CheckPassed CheckStatus = "Passed"
	// CheckFailed is fatal: the CSR is denied.
	CheckFailed CheckStatus = "Failed"
	// CheckWaiting means a fact may still appear (the instance is not
	// visible yet, the cloud did not answer): the CSR stays pending until
	// the join window since its creation has passed, then it is denied.
	CheckWaiting CheckStatus = "Waiting"
	// CheckSkipped means the check could not run because an earlier one
	// did not pass (no parsed request, no instance).
	CheckSkipped CheckStatus = "Skipped"
)

// Check is one rule evaluated for a CSR, for `kelp csr explain`.
type Check struct {
	// Name is a stable kebab-case identifier ("subject", "instance-state").
	Name   string
	Status CheckStatus
	// Reason is the machine reason when the check did not pass.
	Reason string
	// Detail says what was checked and what was found, naming values.
	Detail string
}

// Reasons carried by a Verdict (and by checks that did not pass). They are
// CamelCase so they can serve as condition and Event reasons and metric
// labels.
const (
	ReasonApproved             = "AutoApproved"
	ReasonNotOurSigner         = "NotOurSigner"
	ReasonAlreadyDecided       = "AlreadyDecided"
	ReasonNoRequest            = "NoRequest"
	ReasonIncomplete           = "IncompleteChecks"
	ReasonMalformedPEM         = "MalformedPEM"
	ReasonMalformedRequest     = "MalformedRequest"
	ReasonBadSignature         = "BadSignature"
	ReasonWeakKey              = "WeakKey"
	ReasonBadCommonName        = "BadCommonName"
	ReasonBadOrganization      = "BadOrganization"
	ReasonExtraSubjectFields   = "ExtraSubjectFields"
	ReasonSANNotAllowed        = "SANNotAllowed"
	ReasonMissingSAN           = "MissingSAN"
	ReasonForeignSAN           = "ForeignSAN"
	ReasonExtensionNotAllowed  = "ExtensionNotAllowed"
	ReasonBadUsages            = "BadUsages"
	ReasonBadExpiration        = "BadExpiration"
	ReasonUnexpectedRequestor  = "UnexpectedRequestor"
	ReasonRequestorMismatch    = "RequestorMismatch"
	ReasonMissingNodesGroup    = "MissingNodesGroup"
	ReasonBadPoolGroup         = "BadPoolGroup"
	ReasonPoolMismatch         = "PoolMismatch"
	ReasonCloudUnavailable     = "CloudUnavailable"
	ReasonInstanceNotFound     = "InstanceNotFound"
	ReasonDuplicateInstances   = "DuplicateInstances"
	ReasonInstanceNameMismatch = "InstanceNameMismatch"
	ReasonInstanceNotRunning   = "InstanceNotRunning"
	ReasonInstanceNotManaged   = "InstanceNotManaged"
	ReasonInstanceTooOld       = "InstanceTooOld"
	ReasonLaunchedAfterCSR     = "LaunchedAfterCSR"
	ReasonNodeExists           = "NodeExists"
	ReasonAlreadyJoined        = "AlreadyJoined"
	ReasonFloodControl         = "FloodControl"
	ReasonNodeNotFound         = "NodeNotFound"
	ReasonNodeInstanceMismatch = "NodeInstanceMismatch"

	// Reasons of issue 13's checks.
	ReasonRequestTooLarge   = "RequestTooLarge"
	ReasonContestedJoin     = "ContestedJoin"
	ReasonUnknownCredential = "UnknownCredential"
	ReasonNodeOlderThanInst = "NodeOlderThanInstance"
	ReasonNotKelpRequestor  = "NotKelpRequestor"  // Ignore: not a kelp bootstrap token nor a node
	ReasonNotManagedNode    = "NotManagedNode"    // Ignore: a node of no kelp pool of this cluster
	ReasonScopeUndetermined = "ScopeUndetermined" // Pending: whether the node is kelp's needs the cloud

	// Reason of issue 17: a token bound to one instance asks for another
	// node name.
	ReasonInstanceTokenNameMismatch = "InstanceTokenNameMismatch"
)

// Bounds on what kelp reads and writes: a request larger than
// MaxRequestBytes is denied unread (ReasonRequestTooLarge); every message,
// condition, Event and log value kelp writes about a CSR is cut to
// MaxMessageBytes ([BoundText]).
const (
	MaxRequestBytes = 16 << 10
	MaxMessageBytes = 256
)

// Verdict is the policy's answer for one CSR: what to do, why, and every
// check behind it. What the controller writes on the CSR is
// [Verdict.Decision], the same [Decision] `kelp csr approve|deny` writes by
// hand.
type Verdict struct {
	Action Action
	// Reason is a CamelCase machine reason; Message a sentence naming the
	// offending value. For ActionApprove, Reason is ReasonApproved.
	Reason  string
	Message string
	Kind    Kind
	// NodeName is the node the CSR asks for, "" when it could not be read.
	NodeName string
	// InstanceID is the instance the approval vouches for (new-node and
	// serving CSRs) or the Node's instance (renewals); "" when unknown.
	InstanceID string
	// RetryAfter, for ActionPending, is when deciding again may change the
	// answer; it never reaches past the moment the CSR would be denied.
	RetryAfter time.Duration
	// Checks are every check evaluated, in order.
	Checks []Check
	// Contested names, for a denial with ReasonContestedJoin, the other
	// pending CSRs for the same node: the controller denies them too, so
	// neither side of a contested join is approved.
	Contested []string
}

// Decision returns the condition to write for v, and false when v is
// Pending or Ignore (nothing to write).
func (v Verdict) Decision() (Decision, bool) {
	switch v.Action {
	case ActionApprove, ActionDeny:
		return Decision{Approve: v.Action == ActionApprove, Reason: v.Reason, Message: v.Message}, true
	}
	return Decision{}, false
}

// Failed returns the checks that did not pass and were not skipped.
func (v Verdict) Failed() []Check {
	var out []Check
	for _, c := range v.Checks {
		if c.Status == CheckFailed || c.Status == CheckWaiting {
			out = append(out, c)
		}
	}
	return out
}

// String renders v on one line for logs.
func (v Verdict) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", v.Action, v.Reason)
	if v.NodeName != "" {
		fmt.Fprintf(&b, " node=%s", v.NodeName)
	}
	if v.InstanceID != "" {
		fmt.Fprintf(&b, " instance=%s", v.InstanceID)
	}
	if v.Action == ActionPending {
		fmt.Fprintf(&b, " retry-after=%s", v.RetryAfter)
	}
	if v.Message != "" {
		fmt.Fprintf(&b, ": %s", v.Message)
	}
	return b.String()
}
