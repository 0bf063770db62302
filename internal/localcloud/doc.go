// Package localcloud is an AWS-compatible local cloud: one HTTP endpoint on
// 127.0.0.1 that speaks the Auto Scaling query API (2011-01-01) and the EC2
// query API (2016-11-15) exactly as aws-sdk-go-v2 and the AWS CLI expect,
// backed by Auto Scaling groups whose instances are booted on this machine
// through a [Runtime].
//
// # What it owns
//
//   - The wire protocols: requests are routed by the SigV4 credential scope's
//     service name (autoscaling or ec2) and the Version parameter, verified
//     against the static credentials [AccessKeyID] and [SecretAccessKey], and
//     answered in the protocol of that API (query: X.member.N lists,
//     <ActionResult> wrappers and <ErrorResponse> errors; ec2: X.N lists,
//     <item> members, no result wrapper and <Response><Errors> errors).
//   - The state: launch templates and their versions, Auto Scaling groups,
//     instances, scaling activities and tags, persisted in bbolt
//     (state.db in the directory given to [Open]).
//   - The Auto Scaling semantics: a reconcile loop, driven by an injected
//     clock and triggered on every change, launches and terminates instances
//     toward each group's desired capacity, balanced across the group's
//     Availability Zones, honouring MixedInstancesPolicy (on-demand base and
//     percentage, prioritized and lowest-price on-demand, lowest-price,
//     price-capacity-optimized and capacity-optimized spot against simulated
//     per-pool spot capacity).
//   - Faults one can turn on ([Faults]): boot delay, launch failures
//     (InsufficientInstanceCapacity), spot interruptions and API throttling.
//
// # The caller's duties
//
//  1. Open the cloud with [Open], giving it a state directory, a [Runtime]
//     (or [NopRuntime]), the faults and, in tests, a clock and rand source.
//  2. Serve [Cloud] (an http.Handler) with [Listen] on a port the caller
//     persists, so that clients configured once keep working.
//  3. Call [Cloud.Start] to re-boot the instances that survived a restart and
//     to run the reconcile loop; call [Cloud.Close] when done: it stops the
//     loop and every running instance's runtime (without terminating them)
//     and closes the store.
//
// Instances get ids i-<17 hex digits>, private IPv4 addresses from one /16
// subnet per Availability Zone inside 127.0.0.0/8 (127.1.0.0/16 for the
// first zone, 127.2.0.0/16 for the second, ...; never 127.0.0.0/16, which the
// control plane uses) and private DNS names as EC2 forms them
// (ip-127-1-0-4.ec2.internal in us-east-1, ip-127-1-0-4.<region>.compute.internal
// elsewhere).
package localcloud
