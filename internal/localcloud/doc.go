// Package localcloud is an AWS-compatible local cloud: one HTTP endpoint on
// 127.0.0.1 that speaks the Auto Scaling query API (2011-01-01), the EC2
// query API (2016-11-15), SQS (AWS JSON 1.0), a minimal EventBridge
// (AWS JSON 1.1), IAM's GetInstanceProfile and STS's GetCallerIdentity
// (query) exactly as aws-sdk-go-v2 and the AWS CLI expect
// (and is built to take more services, protocols and callers),
// backed by Auto Scaling groups whose instances are booted on this machine
// through a [Runtime].
//
// # What it owns
//
//   - The endpoint: services, wire protocols and callers' credentials,
//     each pluggable (see below).
//   - One describe path (describe.go): every Describe action states where
//     its candidates come from, how a filter matches, the order and how a
//     page renders; page size, filters, locking, sorting and NextToken
//     pagination are done once.
//   - The state: launch templates and their versions, Auto Scaling groups,
//     instances, scaling activities and tags, persisted in bbolt
//     (state.db in the directory given to [Open]).
//   - The Auto Scaling semantics: a reconcile loop, driven by an injected
//     clock and triggered on every change, launches and terminates instances
//     toward each group's desired capacity, balanced across the group's
//     Availability Zones, honouring MixedInstancesPolicy (on-demand base and
//     percentage, prioritized and lowest-price on-demand, lowest-price,
//     price-capacity-optimized and capacity-optimized spot against simulated
//     per-pool spot capacity). Scale-in picks its instances by the group's
//     TerminationPolicies (termination.go: zone balance first, then
//     Default, OldestInstance, NewestInstance, OldestLaunchTemplate,
//     OldestLaunchConfiguration, ClosestToNextInstanceHour; AllocationStrategy
//     falls back to Default).
//   - Lifecycle hooks (hooks.go, hookwait.go): PutLifecycleHook (and
//     CreateAutoScalingGroup's LifecycleHookSpecificationList),
//     DescribeLifecycleHooks, DeleteLifecycleHook, CompleteLifecycleAction
//     and RecordLifecycleActionHeartbeat (by LifecycleActionToken or
//     InstanceId), with AWS's limits (heartbeat 30-7,200 s, default 3,600;
//     global timeout min(100 x heartbeat, 48 h); 50 hooks a group). Every
//     way an instance leaves its group — a lower desired capacity,
//     TerminateInstanceInAutoScalingGroup, a spot interruption notice, an
//     instance refresh — goes through the terminating hooks: InService ->
//     Terminating:Wait (the instance keeps running: its node can be
//     drained) ->
//     Terminating:Proceed on CONTINUE, ABANDON or timeout (DefaultResult)
//     -> Terminated; its scaling activity is MidLifecycleAction meanwhile
//     and ends when the instance is terminated. A spot instance still
//     terminates at its deadline. Launching hooks hold a booted instance in
//     Pending:Wait; ABANDON terminates it. EC2 TerminateInstances, a failed
//     boot and ForceDelete skip the hooks, as on AWS. Timeouts run on the
//     injected clock; hooks and waiting instances survive a restart.
//   - Instance refresh (refresh.go, refresh_api.go): StartInstanceRefresh
//     (Rolling; DesiredConfiguration.LaunchTemplate; Preferences
//     MinHealthyPercentage, default 90, MaxHealthyPercentage 100-200, default
//     100, at most 100 apart, InstanceWarmup, default the health check grace
//     period, SkipMatching; CheckpointPercentages and CheckpointDelay are
//     stored, not acted on; one active refresh a group, else
//     InstanceRefreshInProgress), DescribeInstanceRefreshes (newest first,
//     Status, PercentageComplete, InstancesToUpdate, Preferences echoed) and
//     CancelInstanceRefresh (Cancelling, then Cancelled once no instance is
//     leaving; ActiveInstanceRefreshNotFound when none runs). The instances
//     to replace are fixed at the start: every active one not protected
//     from scale-in, with SkipMatching those not on the desired template
//     version. With MaxHealthyPercentage above 100 the group grows by up to
//     that share of its desired capacity with replacements first, and old
//     instances leave once the new ones are InService and warm; at 100 old
//     instances leave first, as many as MinHealthyPercentage of the desired
//     capacity lets go (at least one when all are healthy), and the group
//     launches their replacements. Old instances leave through the
//     terminating hooks, and the next batch waits until they are
//     terminated. A refresh is persisted with its group and advanced by the
//     reconcile loop, so it survives a restart; on success the desired
//     configuration becomes the group's launch template; the desired
//     capacity is unchanged. A refresh whose template version is deleted
//     fails (Failed, with a StatusReason).
//   - Faults one can turn on ([Faults]): boot delay, launch failures
//     (InsufficientInstanceCapacity), spot interruptions and API throttling.
//   - SQS standard queues (sqs*.go): CreateQueue, GetQueueUrl,
//     Get/SetQueueAttributes, DeleteQueue, ListQueues, PurgeQueue,
//     SendMessage(Batch), ReceiveMessage with long polling on the injected
//     clock, DeleteMessage(Batch), ChangeMessageVisibility(Batch); errors
//     as the SDK's typed errors (QueueDoesNotExist, ReceiptHandleIsInvalid,
//     ...); queues and messages persisted beside the rest of the state.
//   - An event bus (events*.go): EventBridge rules on the default bus with
//     exact-value patterns and SQS targets (PutRule, PutTargets, ...). The
//     cloud publishes "EC2 Instance State-change Notification" on every
//     instance state change and "EC2 Spot Instance Interruption Warning" at
//     a spot notice (the instance terminates when the notice runs out);
//     tests trigger "EC2 Instance Rebalance Recommendation"
//     ([Cloud.RecommendRebalance]) and AWS Health scheduled changes
//     ([Cloud.ScheduleHealthEvent]); lifecycle hooks publish "EC2
//     Instance-terminate Lifecycle Action". A matching rule sends the event
//     JSON as the message body to each target queue whose policy lets
//     events.amazonaws.com send to it, as EventBridge does.
//   - Instance profiles and the metadata service (iam_roles.go, imds.go):
//     Options.Roles and Options.InstanceProfiles are the account's roles
//     and instance profiles; a launch template's IamInstanceProfile (name
//     or ARN) gives its instances a profile (an unknown one fails the
//     launch, as RunInstances does), which DescribeInstances shows as
//     iamInstanceProfile {arn, id} and iam:GetInstanceProfile resolves to
//     its role (IAM and STS are global: requests signed for us-east-1 are
//     accepted too). [Cloud.Metadata] is the per-instance IMDSv2, served
//     on a listener of its own: it knows the caller by the source address
//     of the connection (each instance's private IP), never by a header;
//     it hands out session tokens (PUT /latest/api/token) bound to the
//     instance, the identity document, the usual meta-data paths and the
//     role's temporary credentials, which are principals of the cloud
//     (ARN arn:aws:sts::<account>:assumed-role/<role>/<instance-id>, with
//     the role's Authorizer), expire after Options.RoleCredentialsTTL and
//     are replaced once a quarter of it is left. sts:GetCallerIdentity
//     answers any caller's ARN and needs no permission, as on AWS.
//
// # The endpoint
//
// Services (service.go) each declare their SigV4 signing name, API
// version, wire protocol and action table, and are registered with the
// Cloud. Auto Scaling (as_*.go), EC2 (ec2_*.go), SQS (sqs*.go) and
// EventBridge (events.go), IAM and STS (iam_roles.go) are such services; a
// new one is a service value, its handlers and one registration.
//
// Wire protocols (protocol*.go) decode a request into an action and its
// input, check that it is addressed to the service, encode a result or an
// error, and say each common failure (authentication, access denied,
// throttling, internal error) in their own words: query (X.member.N lists,
// <ActionResult> wrappers, <ErrorResponse> errors), ec2 (X.N lists, <item>
// members, no result wrapper, <Response><Errors> errors) and json1.0
// (X-Amz-Target "<Service>.<Action>", JSON bodies, {"__type", "message"}
// errors, and for SQS the query code in X-Amzn-Query-Error), also as
// JSON 1.1 (EventBridge).
//
// Callers' credentials (principals.go) are a store of [Principal]s, each
// with an access key, a secret, an optional session token (then required
// in X-Amz-Security-Token) and expiry, and an [Authorizer] (nil allows
// everything). [DefaultPrincipal], the static keys [AccessKeyID] and
// [SecretAccessKey], is always there; Options.Principals and
// [Cloud.AddPrincipal] add more ([LoadPrincipals] reads them from a file).
// [Policies] is the Authorizer that enforces IAM identity-based policies
// (package iampolicy evaluates them): authz.go lists, per action, the
// resources it touches (ARNs and their tags), the tags it puts and the
// dependent actions AWS also authorizes (ec2:CreateTags when a template is
// tagged on create, ec2:RunInstances when a group names a template); a
// refusal is answered as AWS answers it: UnauthorizedOperation (EC2),
// AccessDenied (Auto Scaling, SQS), AccessDeniedException (EventBridge),
// "User: ARN is not authorized to perform: ACTION on resource: ARN because
// no identity-based policy allows the ACTION action".
//
// A request goes: to the service its credential scope names (unsigned: the
// one its X-Amz-Target or Version names, else Auto Scaling); decoded by
// that service's protocol; its principal found by access key and session
// token and its signature verified with that principal's secret; checked
// (version or target, action); throttled when the faults say so;
// authorized by the principal's Authorizer; served by the action's handler,
// which sees the principal; its result encoded. Any failure is answered in
// the service's protocol.
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
// control plane uses; Options.AddressBlock moves them up, so that two local
// clouds on one machine never share an address) and private DNS names as EC2 forms them
// (ip-127-1-0-4.ec2.internal in us-east-1, ip-127-1-0-4.<region>.compute.internal
// elsewhere).
//
// The region has two VPCs with the same CIDRs: the one groups launch into
// (its subnets are the zones' defaults) and a peer VPC, as another VPC of
// the account. [Cloud.RunInstance] starts an instance outside any group in
// either VPC, with an address of its choosing: a test puts another
// cluster's look-alike instance, same private DNS name, beside one of
// kelp's. Instances carry SubnetId and VpcId, and DescribeInstances takes
// the subnet-id and vpc-id filters.
package localcloud
