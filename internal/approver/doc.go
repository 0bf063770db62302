// Package approver decides which certificate signing requests of nodes are
// approved: automatically, when the cloud vouches for the node, or by hand.
//
// The policy is pure. [Decide] takes [Facts] (the CSR, the cloud.Instance
// values whose private DNS name is the requested node name, the Node of
// that name and its instance, the groups the cluster manages with their
// pools, kelp's own record of earlier approvals, the number of pending
// CSRs and Nodes, the time) and returns a [Verdict]: approve, deny,
// leave pending (with a retry hint) or ignore, a machine reason, a message
// naming the offending value, and every [Check] evaluated. It reads no
// clock, calls no API and logs nothing; docs/security.md lists each check
// and the attack it stops.
//
// A caller's duties, in order:
//
//  1. Skip CSRs that are not pending or whose [Classify] kind is KindOther.
//  2. Read the node name with [NodeName]; resolve the facts
//     ([Sources.Gather] does, from the cluster and a [Cloud] such as a
//     cloud.Provider; a failed cloud lookup goes into Facts.CloudErr, it is
//     not an error of the caller).
//  3. Call [Decide].
//  4. Act: for ActionApprove of a KindNewNode CSR, record the approval of
//     Verdict.InstanceID durably before writing the Approved condition; for
//     ActionApprove and ActionDeny write the condition from
//     [Verdict.Decision]; for ActionPending decide again after
//     Verdict.RetryAfter; for ActionIgnore write nothing.
//
// The manual path (`kelp csr`) lists CSRs with the facts an operator needs
// ([List], [Summarize]), approves one like the controller does
// ([ManualApproval]: kubelet signers only, after showing the policy's
// verdict, recording a new node's instance first; approving against the
// verdict needs Force) and denies one with a recorded reason ([Apply]).
package approver
