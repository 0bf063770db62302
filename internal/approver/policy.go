package approver

import (
	"crypto/x509"
	"fmt"
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
// kubernetes.io/kubelet-serving are decided; any other signer, and any CSR
// already approved, denied or failed, gets ActionIgnore. For the two
// signers every check runs (see Verdict.Checks); the CSR is approved only
// when every check passed. A failed check denies it. Otherwise a check
// waiting for a fact that may still appear leaves it pending, until the
// join window since the CSR's creation has passed: then it is denied with
// the waiting check's reason.
func Decide(f Facts) Verdict {
	csr := f.CSR
	if csr == nil {
		return Verdict{Action: ActionIgnore, Reason: ReasonNoRequest, Kind: KindOther, Message: "no CSR was given"}
	}
	kind := Classify(csr)
	if kind == KindOther {
		return Verdict{Action: ActionIgnore, Reason: ReasonNotOurSigner, Kind: kind,
			Message: fmt.Sprintf("signer %q is not a kubelet signer; kelp leaves this CSR alone", csr.Spec.SignerName)}
	}
	if c := ConditionOf(csr); c != Pending {
		return Verdict{Action: ActionIgnore, Reason: ReasonAlreadyDecided, Kind: kind,
			Message: fmt.Sprintf("CSR %s is already %s", csr.Name, c)}
	}
	e := &eval{f: f, cfg: f.Config.WithDefaults(), kind: kind}
	switch kind {
	case KindNewNode:
		e.newNode()
	case KindRenewal:
		e.renewal()
	case KindServing:
		e.serving()
	}
	return e.verdict()
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
// be read or names no valid node.
func NodeName(csr *certificatesv1.CertificateSigningRequest) (string, bool) {
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
}

const defaultRetry = 10 * time.Second

// eval accumulates the checks of one decision.
type eval struct {
	f      Facts
	cfg    Config
	kind   Kind
	req    *x509.CertificateRequest // nil until parsed
	name   string                   // node name from the CN, "" until read
	pool   string                   // pool of the bootstrap token (new nodes)
	inst   *cloud.Instance          // the one instance by name, or the Node's (renewals)
	checks []Check
}

func (e *eval) add(name string, status CheckStatus, reason, detail string) {
	e.checks = append(e.checks, Check{Name: name, Status: status, Reason: reason, Detail: detail})
}

func (e *eval) pass(name, detail string)         { e.add(name, CheckPassed, "", detail) }
func (e *eval) fail(name, reason, detail string) { e.add(name, CheckFailed, reason, detail) }
func (e *eval) skip(name, detail string)         { e.add(name, CheckSkipped, "", detail) }

// verdict composes the checks: the first failure denies; else the first
// waiting check leaves the CSR pending (denied once the join window since
// creation has passed); else, and only if nothing was skipped, approve.
func (e *eval) verdict() Verdict {
	v := Verdict{Kind: e.kind, NodeName: e.name, Checks: e.checks}
	if e.inst != nil {
		v.InstanceID = e.inst.ID
	}
	var waiting, skipped *Check
	for i := range e.checks {
		c := &e.checks[i]
		switch c.Status {
		case CheckFailed:
			v.Action, v.Reason, v.Message = ActionDeny, c.Reason, c.Detail
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
	v.Action, v.Reason, v.Message = ActionApprove, ReasonApproved, e.approvalMessage()
	return v
}

// pendingOrExpired leaves v pending on the waiting check w, or denies it
// when the join window since the CSR's creation has passed.
func (e *eval) pendingOrExpired(v Verdict, w *Check) Verdict {
	created := e.f.CSR.CreationTimestamp.Time
	left := created.Add(e.cfg.JoinWindow).Sub(e.f.Now)
	if left <= 0 {
		v.Action, v.Reason = ActionDeny, w.Reason
		v.Message = fmt.Sprintf("%s, still so %s after the CSR was created (join window %s)",
			w.Detail, e.f.Now.Sub(created).Round(time.Second), e.cfg.JoinWindow)
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
		return fmt.Sprintf("kelp approved node %s: instance %s of pool %s (group %s) launched at %s, %s, joins for the first time",
			e.name, e.inst.ID, e.groupPool(), e.inst.GroupName, e.inst.LaunchTime.UTC().Format(time.RFC3339), stateName(e.inst.State))
	case KindRenewal:
		return fmt.Sprintf("kelp approved the client certificate renewal of node %s: instance %s is running in managed group %s",
			e.name, e.inst.ID, e.inst.GroupName)
	}
	return fmt.Sprintf("kelp approved the serving certificate of node %s: every SAN belongs to instance %s", e.name, e.inst.ID)
}
