package approver

import (
	"crypto/x509"
	"fmt"
	"slices"
	"strings"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"

	"github.com/kelp-dev/kelp/internal/cloud"
)

// Decide returns what to do with f.CSR given the facts the controller
// resolved. It is pure: no client, no cloud, no clock (f.Now), no logging;
// the same facts always give the same Verdict. f is not modified.
//
// Only CSRs of the signers kubernetes.io/kube-apiserver-client-kubelet and
// kubernetes.io/kubelet-serving are decided; any other signer, any CSR
// already approved, denied or failed, and any CSR that is not kelp's (the
// "scope" check: a new node's requestor is no kelp bootstrap token, a
// renewal or serving CSR comes from a node of no kelp pool) gets
// ActionIgnore. When whether a node is kelp's needs the cloud and the cloud
// did not answer, the CSR stays pending (ReasonScopeUndetermined) however
// long that lasts: a CSR that may not be kelp's is never denied.
//
// For kelp's own CSRs every check runs (see Verdict.Checks); the CSR is
// approved only when every check passed. A failed check denies it. When a
// check that needs no cloud fact failed (see [Screen]), the checks on the
// cloud's facts do not run. Otherwise a check waiting for a fact that may
// still appear leaves it pending, until the join window since the CSR's
// creation has passed: then it is denied with the waiting check's reason.
// Every Message and Check.Detail is at most MaxMessageBytes of valid UTF-8.
func Decide(f Facts) Verdict {
	v, _ := decide(f, false)
	return v
}

// Screen decides f.CSR on what needs no cloud: the CSR itself and the
// cluster's facts (Node, PriorApprovals, the counts of pending CSRs and
// Nodes); it ignores f's cloud facts. It returns the final verdict and true
// when the cloud cannot change it: another signer, already decided, out of
// kelp's scope by its requestor (or, for renewals and serving CSRs, in
// scope by the cluster's facts and then), too large, or failing a check on
// the request, its requestor or a contested join. Decide gives the same
// verdict for such a CSR whatever the cloud says, so a caller screens
// before asking the cloud and does not ask it when Screen is final:
// junk costs no cloud call. Otherwise Screen returns false and a zero
// Verdict.
func Screen(f Facts) (Verdict, bool) {
	f.InstancesByName, f.NodeInstance, f.ManagedGroups, f.CloudErr = nil, nil, nil, nil
	return decide(f, true)
}

// decide is Decide, or Screen when screening: then it stops where the
// cloud's facts would be needed and reports whether its verdict is final.
func decide(f Facts, screening bool) (Verdict, bool) {
	csr := f.CSR
	if csr == nil {
		return Verdict{Action: ActionIgnore, Reason: ReasonNoRequest, Kind: KindOther, Message: "no CSR was given"}, true
	}
	kind := Classify(csr)
	if kind == KindOther {
		return Verdict{Action: ActionIgnore, Reason: ReasonNotOurSigner, Kind: kind,
			Message: BoundText(fmt.Sprintf("signer %s is not a kubelet signer; kelp leaves this CSR alone", quote(csr.Spec.SignerName)))}, true
	}
	if c := ConditionOf(csr); c != Pending {
		return Verdict{Action: ActionIgnore, Reason: ReasonAlreadyDecided, Kind: kind,
			Message: BoundText(fmt.Sprintf("CSR %s is already %s", quote(csr.Name), c))}, true
	}
	e := &eval{f: f, cfg: f.Config.WithDefaults(), kind: kind}
	switch s := scopeOf(f, kind, screening); s.answer {
	case scopeOut:
		return Verdict{Action: ActionIgnore, Reason: s.reason, Kind: kind, Message: BoundText(s.detail)}, true
	case scopeNeedsCloud:
		return Verdict{}, false
	case scopeUnknown:
		// Never subject to the join window: this CSR may not be kelp's.
		e.add("scope", CheckWaiting, s.reason, s.detail)
		v := e.verdictBase()
		v.Action, v.Reason, v.Message, v.RetryAfter = ActionPending, s.reason, e.checks[0].Detail, retryHints[s.reason]
		return v, false
	default:
		e.pass("scope", s.detail)
	}
	e.run("size", true, "", func() outcome {
		if n := len(csr.Spec.Request); n > MaxRequestBytes {
			return outcome{status: CheckFailed, reason: ReasonRequestTooLarge, detail: tooLargeMessage}
		}
		return passed("spec.request is %d bytes, within %d", len(csr.Spec.Request), MaxRequestBytes)
	})
	if !e.failed() {
		stages[kind].screen(e)
	}
	if e.failed() {
		return e.verdict(), true
	}
	if screening {
		return Verdict{}, false
	}
	stages[kind].cloud(e)
	return e.verdict(), false
}

// tooLargeMessage is the fixed message of ReasonRequestTooLarge: nothing
// of the request is read, nothing of it is echoed.
var tooLargeMessage = fmt.Sprintf("spec.request is larger than %d bytes; kelp denies it unread", MaxRequestBytes)

// stages are the checks of each kind: screen needs only the CSR and the
// cluster's facts, cloud the cloud's.
var stages = map[Kind]struct{ screen, cloud func(*eval) }{
	KindNewNode: {(*eval).newNodeScreen, (*eval).newNodeCloud},
	KindRenewal: {(*eval).renewalScreen, (*eval).renewalCloud},
	KindServing: {(*eval).servingScreen, (*eval).servingCloud},
}

// Classify tells which kind of request csr is: a serving CSR by its
// signer; a kubelet client CSR is a renewal when a node (system:node:…)
// requests it and a new node otherwise (only bootstrap tokens pass the
// requestor check then). Other signers are KindOther.
func Classify(csr *certificatesv1.CertificateSigningRequest) Kind {
	switch csr.Spec.SignerName {
	case certificatesv1.KubeletServingSignerName:
		return KindServing
	case certificatesv1.KubeAPIServerClientKubeletSignerName:
		if strings.HasPrefix(csr.Spec.Username, nodeNamePrefix) {
			return KindRenewal
		}
		return KindNewNode
	}
	return KindOther
}

// NodeName returns the node name a kubelet CSR asks for (its strictly
// parsed subject CN system:node:<name>), so the controller knows which
// instance and Node to look up. It returns false when the request cannot
// be read (or is larger than MaxRequestBytes) or names no valid node.
func NodeName(csr *certificatesv1.CertificateSigningRequest) (string, bool) {
	if len(csr.Spec.Request) > MaxRequestBytes {
		return "", false
	}
	req, err := ParseCSR(csr.Spec.Request)
	if err != nil {
		return "", false
	}
	name, err := nodeNameFromCN(req.Subject.CommonName)
	return name, err == nil
}

// retryHints is how long to wait before deciding again, by waiting reason.
var retryHints = map[string]time.Duration{
	ReasonCloudUnavailable:   15 * time.Second,
	ReasonInstanceNotFound:   5 * time.Second,
	ReasonInstanceNotRunning: 10 * time.Second,
	ReasonNodeNotFound:       5 * time.Second,
	ReasonFloodControl:       30 * time.Second,
	ReasonScopeUndetermined:  15 * time.Second,
}

const defaultRetry = 10 * time.Second

// eval accumulates the checks of one decision.
type eval struct {
	f        Facts
	cfg      Config
	kind     Kind
	req      *x509.CertificateRequest // nil until parsed
	name     string                   // node name from the CN, "" until read
	pool     string                   // pool of the bootstrap token (new nodes)
	instance string                   // instance the bootstrap token is bound to (identity join)
	inst     *cloud.Instance          // the one instance by name, or the Node's (renewals)
	checks   []Check
}

func (e *eval) add(name string, status CheckStatus, reason, detail string) {
	e.checks = append(e.checks, Check{Name: name, Status: status, Reason: reason, Detail: BoundText(detail)})
}

// failed reports whether a check failed so far.
func (e *eval) failed() bool {
	for _, c := range e.checks {
		if c.Status == CheckFailed {
			return true
		}
	}
	return false
}

// verdictBase is the verdict without an action: kind, node, instance and
// checks.
func (e *eval) verdictBase() Verdict {
	v := Verdict{Kind: e.kind, NodeName: e.name, Checks: e.checks}
	if e.inst != nil {
		v.InstanceID = e.inst.ID
	}
	return v
}

func (e *eval) pass(name, detail string)         { e.add(name, CheckPassed, "", detail) }
func (e *eval) fail(name, reason, detail string) { e.add(name, CheckFailed, reason, detail) }
func (e *eval) skip(name, detail string)         { e.add(name, CheckSkipped, "", detail) }

// verdict composes the checks: the first failure denies; else the first
// waiting check leaves the CSR pending (denied once the join window since
// creation has passed); else, and only if nothing was skipped, approve.
func (e *eval) verdict() Verdict {
	v := e.verdictBase()
	var waiting, skipped *Check
	for i := range e.checks {
		c := &e.checks[i]
		switch c.Status {
		case CheckFailed:
			v.Action, v.Reason, v.Message = ActionDeny, c.Reason, c.Detail
			if c.Reason == ReasonContestedJoin {
				v.Contested = slices.Clone(e.f.ContestingCSRs)
			}
			return v
		case CheckWaiting:
			if waiting == nil {
				waiting = c
			}
		case CheckSkipped:
			if skipped == nil {
				skipped = c
			}
		}
	}
	if waiting != nil {
		return e.pendingOrExpired(v, waiting)
	}
	if skipped != nil || len(e.checks) == 0 {
		// Unreachable by construction: a check is skipped only after one
		// that did not pass. Nothing is approved by default.
		v.Action, v.Reason, v.Message = ActionPending, ReasonIncomplete, "not every check could run"
		v.RetryAfter = defaultRetry
		return v
	}
	v.Action, v.Reason, v.Message = ActionApprove, ReasonApproved, BoundText(e.approvalMessage())
	return v
}

// pendingOrExpired leaves v pending on the waiting check w, or denies it
// when the join window since the CSR's creation has passed.
func (e *eval) pendingOrExpired(v Verdict, w *Check) Verdict {
	created := e.f.CSR.CreationTimestamp.Time
	left := created.Add(e.cfg.JoinWindow).Sub(e.f.Now)
	if left <= 0 {
		v.Action, v.Reason = ActionDeny, w.Reason
		// The suffix is kept whole; the detail gives way.
		suffix := fmt.Sprintf(", still so %s after the CSR was created (join window %s)",
			e.f.Now.Sub(created).Round(time.Second), e.cfg.JoinWindow)
		v.Message = cutTo(w.Detail, MaxMessageBytes-len(suffix)) + suffix
		return v
	}
	retry, ok := retryHints[w.Reason]
	if !ok {
		retry = defaultRetry
	}
	v.Action, v.Reason, v.Message = ActionPending, w.Reason, w.Detail
	v.RetryAfter = max(min(retry, left), time.Second)
	return v
}

func (e *eval) approvalMessage() string {
	switch e.kind {
	case KindNewNode:
		bound := ""
		if e.instance != "" {
			bound = " with the token bound to it"
		}
		return fmt.Sprintf("kelp approved node %s: instance %s of pool %s (group %s) launched at %s, %s, joins for the first time%s",
			e.name, e.inst.ID, e.groupPool(), e.inst.GroupName, e.inst.LaunchTime.UTC().Format(time.RFC3339), stateName(e.inst.State), bound)
	case KindRenewal:
		return fmt.Sprintf("kelp approved the client certificate renewal of node %s: instance %s is running in managed group %s",
			e.name, e.inst.ID, e.inst.GroupName)
	}
	return fmt.Sprintf("kelp approved the serving certificate of node %s: every SAN belongs to instance %s", e.name, e.inst.ID)
}
