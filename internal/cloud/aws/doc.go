// Package aws is kelp's one adapter to AWS and its one
// production cloud provider: Auto Scaling groups are node groups, EC2
// instances are nodes, all through aws-sdk-go-v2. Pointed at the local
// cloud's endpoint it runs the same code path as against AWS.
//
// # What it owns
//
//   - Discovery: groups named in [Config.GroupNames], groups matching a
//     cluster-autoscaler auto-discovery spec
//     (asg:tag=k8s.io/cluster-autoscaler/enabled,k8s.io/cluster-autoscaler/<cluster>),
//     and, when neither is given, kelp's own: kubernetes.io/cluster/<cluster>=owned
//     and kelp.dev/pool ([DefaultDiscovery]). Every managed group carries
//     kubernetes.io/cluster/<cluster>=owned, however it was selected: a
//     named group without it fails Refresh with an error naming it
//     (cloud.ErrInvalidGroup); a discovered one is skipped with a warning
//     ([Provider.SkippedGroups]). Only managed groups are ever scaled.
//     A named group may carry kelp's own bounds ([Config.GroupBounds],
//     cluster-autoscaler's --nodes=MIN:MAX:NAME), applied within the
//     group's MinSize and MaxSize.
//   - Node templates for scale-from-zero: every instance type of the group
//     (each MixedInstancesPolicy override with its own capacity,
//     allocatable and price) from internal/catalog, or DescribeInstanceTypes
//     for types the catalog lacks, with the catalog's formulas; the launch
//     template's root volume, image and market type; the cluster-autoscaler
//     node-template tags (label/, taint/ as <value>:<effect>, resources/),
//     which override what is computed. Spot prices come from
//     DescribeSpotPriceHistory (cached, [Config.SpotPriceTTL]).
//   - Failed launches: each Failed launch activity is reported once, by the
//     first Refresh that sees it, as a cloud.GroupError
//     (ErrInsufficientCapacity for InsufficientInstanceCapacity and spot
//     capacity errors, with the type and zone when the message names them).
//   - Instance lookups by ID, providerID and private DNS name for the
//     approver, cached for [Config.InstanceCacheTTL]; group members carry
//     their Auto Scaling lifecycle state (Running means InService). Lookups
//     by name search only the VPCs of the managed groups' subnets (learnt
//     by Refresh through DescribeSubnets, cached for good), so a same-named
//     instance in another VPC is never an answer; with no managed group the
//     answer is not found. PrivateIPs list the primary address first.
//   - Scaling: SetDesiredCapacity (HonorCooldown false) and
//     TerminateInstanceInAutoScalingGroup with ShouldDecrementDesiredCapacity,
//     both checked against the group's bounds first.
//   - Pools: the [Provider] implements internal/pool's narrow Cloud
//     interfaces (launch templates, groups, images, default subnets; sizes
//     through SetTargetSize), so the pool provisioner's calls (the CLI,
//     `kelp up`, token rotation) get the same policy as the controller's.
//   - Lifecycle hooks: PutLifecycleHook, DescribeLifecycleHooks and
//     DeleteLifecycleHook for the provisioner (kelp's termination hook on
//     every pool); CompleteLifecycleAction and RecordLifecycleActionHeartbeat
//     (by instance ID or token) as cloud.LifecycleActions for the drain. A
//     group member held by a termination hook is InstanceStateTerminating
//     with CloudState Terminating:Wait (cloud.Instance.WaitingToTerminate).
//   - Instance refresh: StartInstanceRefresh (Rolling, from the group's own
//     template), DescribeInstanceRefreshes and CancelInstanceRefresh as
//     cloud.InstanceRefresher, for kelp pool roll; launch template versions
//     (DescribeTemplateVersion) read once per numbered version, for
//     outdated-node detection.
//   - Calls: each under [Config.CallTimeout], retried by the SDK's standard
//     retryer, then, when still throttled, by kelp's jittered backoff, whose
//     waits end with ctx; AWS error codes map to cloud's sentinel errors in
//     one file (errors.go). [LoadSDKConfig] is kelp's one SDK config loader.
//
// # The caller's loop
//
//  1. Build the provider once with [New]; credentials come from the SDK's
//     default chain (environment, shared config, IMDS).
//  2. Each autoscaler loop: Refresh, then NodeGroups; act on the failed
//     launches of NodeGroup.Errors that its cloud.LaunchCursor says are new
//     (each is reported by every Refresh for ActivityLookback after it was
//     first seen, whoever refreshes); scale with SetTargetSize or
//     DeleteInstances.
//  3. The approver looks instances up by private DNS name or ID; before
//     approving on a cached answer older than it accepts, it calls
//     Invalidate.
//  4. The identity join asks [Provider.InstanceProfileRoles] (join.Profiles)
//     for the roles of an instance's instance profile: DescribeInstances'
//     IamInstanceProfile ARN, then iam:GetInstanceProfile, cached for
//     [Config.InstanceCacheTTL].
package aws
