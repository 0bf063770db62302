package join

import (
	"errors"
	"fmt"
	"time"
)

// Reason is the machine-readable cause of a refused join. It is logged,
// counted (label reason of kelp_join_decisions_total) and returned to the
// client.
type Reason string

// Reasons a join is refused, or fails for now.
const (
	// ReasonMalformed: the proof is not one (bad JSON, missing fields).
	ReasonMalformed Reason = "Malformed"
	// ReasonWrongSTSHost: the signed request names another host than the
	// one STS endpoint kelp forwards to.
	ReasonWrongSTSHost Reason = "WrongSTSHost"
	// ReasonTampered: the signed request is not exactly an
	// sts:GetCallerIdentity POST, lacks a signed header kelp requires, its
	// request hash does not match the join request, or STS refused its
	// signature.
	ReasonTampered Reason = "Tampered"
	// ReasonStale: the request was signed outside the freshness window.
	ReasonStale Reason = "Stale"
	// ReasonNonceInvalid: the nonce was not issued by kelp (its MAC does
	// not verify under the shared key).
	ReasonNonceInvalid Reason = "NonceInvalid"
	// ReasonNonceExpired: the nonce is past its expiry.
	ReasonNonceExpired Reason = "NonceExpired"
	// ReasonNonceReused: another join already used the nonce.
	ReasonNonceReused Reason = "NonceReused"
	// ReasonReplayed: the same proof (same instance, same nonce) was
	// accepted before.
	ReasonReplayed Reason = "Replayed"
	// ReasonNotInstanceSession: the caller is not an assumed-role session
	// whose session name is an instance id.
	ReasonNotInstanceSession Reason = "NotInstanceSession"
	// ReasonRoleNotAllowed: the assumed role is not an allowed node role,
	// or the account is not the cluster's.
	ReasonRoleNotAllowed Reason = "RoleNotAllowed"
	// ReasonProfileMismatch: the instance named by the session does not
	// carry that role in its instance profile (someone who may assume the
	// role chose the session name).
	ReasonProfileMismatch Reason = "InstanceProfileMismatch"
	// ReasonNotInManagedPool: the instance is unknown, in no group, or in
	// a group this cluster does not manage as a kelp pool.
	ReasonNotInManagedPool Reason = "NotInManagedPool"
	// ReasonInstanceNotActive: the instance is terminating or gone.
	ReasonInstanceNotActive Reason = "InstanceNotActive"
	// ReasonOutsideJoinWindow: the instance was launched longer ago than
	// the join window.
	ReasonOutsideJoinWindow Reason = "OutsideJoinWindow"
	// ReasonWrongNodeName: the join request names another node than the
	// instance's private DNS name.
	ReasonWrongNodeName Reason = "WrongNodeName"
	// ReasonAlreadyJoined: the instance joined before (an identity join,
	// an approved CSR, or a Node of its name).
	ReasonAlreadyJoined Reason = "AlreadyJoined"
	// ReasonRateLimited: too many requests; try again later.
	ReasonRateLimited Reason = "RateLimited"
	// ReasonUnavailable: STS, the cloud or the API server failed; the
	// client may retry with a fresh nonce.
	ReasonUnavailable Reason = "Unavailable"
)

// Refusal is a join kelp refused, with its reason and a message naming
// the offending value.
type Refusal struct {
	Reason  Reason
	Message string
	// Err is the cause, for a Refusal made from an error.
	Err error
	// RetryAfter is the endpoint's Retry-After, on the client's side of
	// a RateLimited refusal; 0 when it gave none.
	RetryAfter time.Duration
}

func (r *Refusal) Error() string { return string(r.Reason) + ": " + r.Message }

// Unwrap returns the cause.
func (r *Refusal) Unwrap() error { return r.Err }

func refuse(reason Reason, format string, args ...any) *Refusal {
	return &Refusal{Reason: reason, Message: fmt.Sprintf(format, args...)}
}

// unavailable is a Refusal for a failure of a dependency, wrapping it.
func unavailable(err error, format string, args ...any) *Refusal {
	return &Refusal{Reason: ReasonUnavailable, Message: fmt.Sprintf(format, args...) + ": " + err.Error(), Err: err}
}

// ReasonOf returns the reason of the Refusal err wraps, "" when it wraps
// none.
func ReasonOf(err error) Reason {
	var r *Refusal
	if errors.As(err, &r) {
		return r.Reason
	}
	return ""
}
