package cloud

import (
	"errors"
	"fmt"
)

// Sentinel errors. Providers wrap them (keeping the cloud's own error in the
// chain), so callers test with errors.Is.
var (
	// ErrNotFound: the instance or group does not exist, or is not one the
	// provider manages (a group outside its discovery, an instance of
	// another group).
	ErrNotFound = errors.New("not found")

	// ErrInsufficientCapacity: the cloud has no capacity for the instance
	// type (on-demand or spot) in the Availability Zone. Try another type,
	// zone or group.
	ErrInsufficientCapacity = errors.New("insufficient capacity")

	// ErrQuotaExceeded: an account limit (vCPUs, spot instance count)
	// stopped the launch. Waiting does not help until the limit is raised.
	ErrQuotaExceeded = errors.New("quota exceeded")

	// ErrLaunchFailed: a launch failed for another reason (a missing image,
	// an invalid launch template, an instance that did not boot).
	ErrLaunchFailed = errors.New("launch failed")

	// ErrInvalidGroup: the group cannot be planned for: its launch template
	// or instance types cannot be resolved.
	ErrInvalidGroup = errors.New("invalid group")

	// ErrThrottled: the cloud kept refusing calls for their rate after every
	// retry. Back off and try again later.
	ErrThrottled = errors.New("throttled")

	// ErrOutOfRange: the change would take a group's size outside
	// [MinSize, MaxSize].
	ErrOutOfRange = errors.New("out of range")

	// ErrInvalidProviderID: a Node's spec.providerID is not the provider's
	// form (aws:///<zone>/<instance-id> on AWS).
	ErrInvalidProviderID = errors.New("invalid provider id")

	// ErrUnsupported: the cloud's endpoint does not implement the operation
	// (an AWS-compatible endpoint without it). Real AWS never answers so.
	ErrUnsupported = errors.New("operation not supported by the cloud")

	// ErrRefreshInProgress: the group already has an instance refresh
	// running (InstanceRefreshInProgress on AWS); only one runs at a time.
	ErrRefreshInProgress = errors.New("an instance refresh is already in progress")
)

// ErrNoActiveRefresh: the group has no instance refresh to cancel
// (ActiveInstanceRefreshNotFound on AWS). It is an ErrNotFound.
var ErrNoActiveRefresh = fmt.Errorf("no instance refresh in progress: %w", ErrNotFound)
