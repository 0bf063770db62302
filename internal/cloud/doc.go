// Package cloud owns the interfaces through which kelp's controllers see and
// act on a cloud: node groups (an Auto Scaling group on AWS) with their
// instances and node templates, instance lookups for the CSR approver, the
// two actions kelp takes on groups (setting a group's target size, deleting
// particular instances), the lifecycle actions of the instances its
// termination hook holds, and instance refreshes ([InstanceRefresher],
// which replace a group's instances for kelp pool roll).
//
// The interfaces are split by side effect. [Provider] only reads
// ([GroupLister] for the autoscaler, [InstanceFinder] for the approver and
// node lifecycle); [Scaler] and [LifecycleActions] (heartbeat and complete
// the lifecycle action of an instance in Terminating:Wait, see
// [Instance.WaitingToTerminate]) are the ones that change the cloud. Every
// value they return ([Instance], [NodeGroup], [NodeTemplate]) is a plain
// value owned by the caller. Outcomes that change the caller's control flow
// are sentinel errors ([ErrNotFound], [ErrInsufficientCapacity],
// [ErrThrottled], [ErrOutOfRange], ...) tested with errors.Is. A group's
// size bounds are checked in one place, [NodeGroup.CheckSize] (with
// [NodeGroup.Room], how far it may grow), by the planner, the provider's
// Scaler and the pool provisioner alike.
//
// # Failed launches
//
// A group's failed launches arrive as [GroupError] values in
// [NodeGroup.Errors], each with the cloud's ActivityID and Time. The
// contract is level-based: every Refresh reports every recent failure
// again until it ages out (the provider's lookback), so the approver, node
// lifecycle and the autoscaler may all Refresh one provider without
// stealing failures from each other. A reader that must act once per
// failure (the autoscaler backs a group off) keeps its own [LaunchCursor]
// and asks it, after each read, which failures are new. A failure is
// unresolved while no instance of its group launched at or after it
// ([NodeGroup.UnresolvedLaunches], [NodeGroup.Resolved]): the autoscaler
// counts no requested capacity of such a group as upcoming.
//
// # Which groups and instances are the cluster's
//
// A provider manages only the groups its cluster owns (on AWS, those
// tagged kubernetes.io/cluster/<cluster>=owned, however else they are
// selected), and finds instances by name only in those groups' networks:
// a bootstrap token of one cluster can never claim another cluster's
// instance, nor can a same-named instance elsewhere block a join.
//
// The package holds no implementation: internal/cloud/aws is the one
// production provider.
package cloud
