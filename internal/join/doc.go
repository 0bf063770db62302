// Package join owns the identity join: an instance proves who it is with
// a SigV4-signed sts:GetCallerIdentity request, and kelp answers with a
// short-lived bootstrap token bound to that one instance. No secret rides
// in user-data.
//
// The proof ([Proof]) is the join [Request] (the node name the kubelet
// will register) and a signed GetCallerIdentity POST whose signed headers
// carry a nonce kelp handed out ([HeaderNonce]) and the SHA-256 of the
// request ([HeaderRequestHash]). The pure core checks it in order:
//
//  1. [CheckProof]: exactly a POST of [GetCallerIdentityBody] to the root
//     of the one configured STS host (never a host of the request's
//     choosing), signed for sts with host, x-amz-date, the nonce and the
//     hash among its signed headers, signed within the freshness window,
//     the nonce issued by a replica (HMAC under a shared key, [Nonces])
//     and unexpired, the hash that of the request.
//  2. The caller forwards the signed headers to that STS endpoint ([STS])
//     and [CheckIdentity] accepts only
//     arn:<partition>:sts::<account>:assumed-role/<role>/<instance-id>
//     for an allowed role.
//  3. [Decide], on the cloud's and cluster's [Facts]: the instance's
//     instance profile carries that role (anyone who may assume the role
//     could choose the session name), it is in a managed kelp pool of this
//     cluster, active, launched within the join window, the request names
//     its private DNS name, and it has not joined before.
//
// Every refusal is a *[Refusal] with a [Reason]. The [Server] does the IO
// around the core: it gathers the facts, makes single use atomic (a
// ConfigMap per instance and one per nonce in kube-system, created once:
// AlreadyExists is a replay, a second join or a reused nonce; the
// instance's [InstanceClaim] records the facts each check passed on, for
// `kelp csr explain`), creates the
// token (bootstrap.TokenSpec.Instance: its group names the instance, so
// the approver can bind its CSR to that instance's node name), logs and
// counts each decision. [Handler] serves it over HTTP (GET [PathNonce],
// POST [PathJoin]), rate-limited; the caller serves the handler over
// TLS. [Client] is the instance's side (`kelp join`).
package join
