// Package cloud owns the interfaces through which kelp's controllers see and
// act on a cloud: node groups (an Auto Scaling group on AWS) with their
// instances and node templates, instance lookups for the CSR approver, and
// the two actions kelp takes (setting a group's target size, deleting
// particular instances).
//
// The interfaces are split by side effect. [Provider] only reads
// ([GroupLister] for the autoscaler, [InstanceFinder] for the approver and
// node lifecycle); [Scaler] is the only one that changes the cloud. Every
// value they return ([Instance], [NodeGroup], [NodeTemplate]) is a plain
// value owned by the caller. Outcomes that change the caller's control flow
// are sentinel errors ([ErrNotFound], [ErrInsufficientCapacity],
// [ErrThrottled], [ErrOutOfRange], ...) tested with errors.Is; failed
// launches of a group arrive as [GroupError] values in [NodeGroup.Errors].
//
// The package holds no implementation: internal/cloud/aws is the one
// production provider.
package cloud
