// Package approver decides which certificate signing requests of nodes are
// approved: automatically, when the cloud vouches for the node, or by hand.
//
// The policy is pure. [Decide] takes [Facts] (the CSR, the cloud.Instance
// values whose private DNS name is the requested node name, the Node of
// that name and its instance, the groups the cluster manages with their
// pools, kelp's own record of earlier approvals and of the certificates
// issued per instance, the pending new-node CSRs ahead of this one and
// those contesting its node, the number of Nodes, the time) and returns a
// [Verdict]: approve, deny, leave pending (with a retry hint) or ignore, a
// machine reason, a bounded message naming the offending value, and every
// [Check] evaluated. Its first check, scope, ignores (never denies) what is
// not kelp's: a new node's CSR whose requestor is no kelp bootstrap token,
// a renewal or serving CSR of a node in no kelp pool of this cluster. It
// reads no clock, calls no API and logs nothing; docs/security.md lists
// each check and the attack it stops.
//
// A caller's duties, in order:
//
//  1. Skip CSRs that are not pending or whose [Classify] kind is KindOther.
//  2. Gather the cluster's facts: the Node (named by the request's CN for
//     a new node, by the requestor for a renewal or serving CSR), the
//     record, the counts of pending new-node CSRs that pass the request
//     and requestor checks ([Sources.Gather] does, screening each pending
//     CSR once through a [ScreenCache]).
//  3. Call [Screen] on them. When it is final, do not ask the cloud: its
//     verdict is Decide's. Otherwise resolve the cloud's facts (a failed
//     lookup goes into Facts.CloudErr, it is not an error of the caller).
//  4. Call [Decide].
//  5. Act: for ActionApprove of a KindNewNode CSR, record the approval of
//     Verdict.InstanceID durably before writing the Approved condition; for
//     ActionApprove and ActionDeny write the condition from
//     [Verdict.Decision], and for a ReasonContestedJoin denial deny the
//     CSRs of Verdict.Contested too; for ActionPending decide again after
//     Verdict.RetryAfter; for ActionIgnore write nothing (log v.Message at
//     debug level).
//  6. Call [ScreenCache.Forget] when a CSR is deleted.
//  7. Delete a CSR denied with ReasonContestedJoin once
//     [ContestedDeleteGrace] has passed since its denial (and only that
//     CSR: the delete is conditional on its UID): its kubelet, restarted,
//     files a CSR of the same name, which must not find the denied one.
//
// The manual path (`kelp csr`) lists CSRs with the facts an operator needs
// ([List], [Summarize]), approves one like the controller does
// ([ManualApproval]: kubelet signers only, after showing the policy's
// verdict, recording a new node's instance first; approving against the
// verdict needs Force) and denies one with a recorded reason ([Apply]).
package approver
