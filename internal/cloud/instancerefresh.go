package cloud

import (
	"context"
	"fmt"
	"time"
)

// An instance refresh replaces every instance of a group, batch by batch,
// by instances launched from the group's launch template (Auto Scaling's
// StartInstanceRefresh on AWS). The old instances leave like any other:
// through the group's termination hooks, so kelp drains their Nodes first.

// InstanceRefresher starts, follows and cancels the instance refreshes of
// a group. A group that does not exist is ErrNotFound.
type InstanceRefresher interface {
	// StartInstanceRefresh starts a refresh of every instance of group
	// from its own launch template and returns its ID. A refresh already
	// running is ErrRefreshInProgress.
	StartInstanceRefresh(ctx context.Context, group string, prefs RefreshPreferences) (string, error)
	// DescribeInstanceRefreshes returns the group's refreshes, newest
	// first: those of ids, or all the cloud remembers when ids is empty.
	DescribeInstanceRefreshes(ctx context.Context, group string, ids ...string) ([]InstanceRefresh, error)
	// CancelInstanceRefresh cancels the group's running refresh and
	// returns its ID: instances already replaced stay, those on their way
	// out finish leaving. None running is ErrNoActiveRefresh.
	CancelInstanceRefresh(ctx context.Context, group string) (string, error)
}

// RefreshPreferences bound how a refresh replaces instances.
// MinHealthyPercentage 100 with MaxHealthyPercentage above 100 launches
// each replacement before its old instance leaves.
type RefreshPreferences struct {
	// MinHealthyPercentage of the desired capacity stays in service and
	// healthy (0 to 100).
	MinHealthyPercentage int
	// MaxHealthyPercentage of the desired capacity may run at once (100 to
	// 200, at most MinHealthyPercentage + 100).
	MaxHealthyPercentage int
	// InstanceWarmup is how long a new instance counts as not yet healthy;
	// nil leaves the group's own (its health check grace period).
	InstanceWarmup *time.Duration
}

// Validate returns an error naming every bound a cloud would refuse, and
// MinHealthyPercentage = MaxHealthyPercentage = 100 (nothing could ever
// be replaced).
func (p RefreshPreferences) Validate() error {
	switch {
	case p.MinHealthyPercentage < 0 || p.MinHealthyPercentage > 100:
		return fmt.Errorf("min healthy percentage %d: want 0 to 100", p.MinHealthyPercentage)
	case p.MaxHealthyPercentage < 100 || p.MaxHealthyPercentage > 200:
		return fmt.Errorf("max healthy percentage %d: want 100 to 200", p.MaxHealthyPercentage)
	case p.MaxHealthyPercentage-p.MinHealthyPercentage > 100:
		return fmt.Errorf("max healthy percentage %d and min healthy percentage %d: want at most 100 apart",
			p.MaxHealthyPercentage, p.MinHealthyPercentage)
	case p.MinHealthyPercentage == 100 && p.MaxHealthyPercentage == 100:
		return fmt.Errorf("min and max healthy percentage both 100: no instance could be replaced; raise the max to launch before terminating")
	case p.InstanceWarmup != nil && (*p.InstanceWarmup < 0 || *p.InstanceWarmup%time.Second != 0):
		return fmt.Errorf("instance warmup %s: want whole seconds, 0 or more", *p.InstanceWarmup)
	}
	return nil
}

// RefreshStatus is an instance refresh's status, as AWS spells it.
type RefreshStatus string

// Instance refresh statuses.
const (
	RefreshPending            RefreshStatus = "Pending"
	RefreshInProgress         RefreshStatus = "InProgress"
	RefreshSuccessful         RefreshStatus = "Successful"
	RefreshFailed             RefreshStatus = "Failed"
	RefreshCancelling         RefreshStatus = "Cancelling"
	RefreshCancelled          RefreshStatus = "Cancelled"
	RefreshRollbackInProgress RefreshStatus = "RollbackInProgress"
	RefreshRollbackFailed     RefreshStatus = "RollbackFailed"
	RefreshRollbackSuccessful RefreshStatus = "RollbackSuccessful"
	RefreshBaking             RefreshStatus = "Baking"
)

// Ended reports whether a refresh of status s is over (successful or not).
func (s RefreshStatus) Ended() bool {
	switch s {
	case RefreshSuccessful, RefreshFailed, RefreshCancelled, RefreshRollbackFailed, RefreshRollbackSuccessful:
		return true
	}
	return false
}

// InstanceRefresh is one refresh of a group as the cloud reports it.
type InstanceRefresh struct {
	ID           string
	Group        string
	Status       RefreshStatus
	StatusReason string
	// PercentageComplete is the share of the instances to replace that are
	// replaced.
	PercentageComplete int
	// InstancesToUpdate are the instances still to replace.
	InstancesToUpdate int
	StartTime         time.Time
	// EndTime is zero while the refresh runs.
	EndTime     time.Time
	Preferences RefreshPreferences
}
