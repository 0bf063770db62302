package pool

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/kelp-dev/kelp/internal/cloud"
)

// DeleteMode is how Delete treats a pool's instances.
type DeleteMode int

const (
	// DeleteIfEmpty deletes the group only when it has no instances (the
	// cloud refuses otherwise).
	DeleteIfEmpty DeleteMode = iota
	// DeleteDrain scales the group to zero (min, max and desired 0) and
	// waits until its instances are gone: each leaves through the drain
	// hook, so kelp's drain controller drains its Node first. Then the
	// group and template are deleted. With no controller running, an
	// instance waits in the hook for its heartbeat timeout, and the hook's
	// default result, CONTINUE, lets it go undrained.
	DeleteDrain
	// DeleteForce is the cloud's force delete (ForceDelete on AWS): the
	// instances are terminated at once, without their lifecycle hooks, so
	// their Nodes are not drained.
	DeleteForce
)

// DefaultDrainTimeout bounds DeleteDrain's wait: a little over the drain
// controller's default --max-graceful-termination (10 min), after which
// it lets a drain blocked by a PodDisruptionBudget go.
const DefaultDrainTimeout = 11 * time.Minute

// DefaultDrainPollInterval is how often DeleteDrain reads the group.
const DefaultDrainPollInterval = 5 * time.Second

// DeleteOptions choose how Delete removes a pool.
type DeleteOptions struct {
	Mode DeleteMode
	// DrainTimeout bounds DeleteDrain's wait for the instances to leave;
	// 0 is DefaultDrainTimeout.
	DrainTimeout time.Duration
	// PollInterval paces DeleteDrain's reads; 0 is
	// DefaultDrainPollInterval.
	PollInterval time.Duration
	// Progress, when set, sees DeleteDrain's first reading and every
	// change.
	Progress func(DrainProgress)
}

// DrainProgress is where a DeleteDrain stands.
type DrainProgress struct {
	// Instances are the group's instances not yet gone.
	Instances int
	// Waiting of them wait in a termination hook (Terminating:Wait):
	// being drained, or waiting for a drain.
	Waiting int
	Elapsed time.Duration
}

// Delete removes the pool's group, as o.Mode says, and then its launch
// template. An unknown pool wraps cloud.ErrNotFound. A DeleteDrain whose
// instances are not gone by the deadline returns an error naming how many
// are left and leaves the group at size zero: running it again keeps
// waiting, and DeleteForce ends it at once.
func (p *Provisioner) Delete(ctx context.Context, name string, o DeleteOptions) error {
	pl, err := p.Get(ctx, name)
	if err != nil {
		return fmt.Errorf("delete pool: %w", err)
	}
	if o.Mode == DeleteDrain {
		if err := p.drainGroup(ctx, pl, o); err != nil {
			return fmt.Errorf("delete pool %s: %w", name, err)
		}
	} else if err := p.cloud.DeleteGroup(ctx, pl.GroupName, o.Mode == DeleteForce); err != nil {
		return fmt.Errorf("delete pool %s: delete auto scaling group %s: %w", name, pl.GroupName, err)
	}
	if pl.LaunchTemplate != "" {
		if err := p.deleteLaunchTemplate(ctx, pl.LaunchTemplate); err != nil {
			return fmt.Errorf("delete pool %s: %w", name, err)
		}
	}
	return nil
}

// drainGroup scales the pool's group to zero, waits until it has no
// instances and deletes it (without force: nothing is left to skip the
// hooks). A delete the cloud refuses while the last activity ends is
// tried again at the next poll, until the deadline.
func (p *Provisioner) drainGroup(ctx context.Context, pl Pool, o DeleteOptions) error {
	timeout, interval := o.DrainTimeout, o.PollInterval
	if timeout <= 0 {
		timeout = DefaultDrainTimeout
	}
	if interval <= 0 {
		interval = DefaultDrainPollInterval
	}
	zero := int32(0)
	if err := p.cloud.UpdateGroup(ctx, GroupChange{Name: pl.GroupName, MinSize: &zero, MaxSize: &zero, Desired: &zero}); err != nil {
		return fmt.Errorf("scale auto scaling group %s to zero: %w", pl.GroupName, err)
	}
	start := p.clock.Now()
	var last *DrainProgress
	var deleteErr error
	for {
		now, err := p.drainProgress(ctx, pl.GroupName, start)
		if err != nil {
			return err
		}
		if o.Progress != nil && (last == nil || now.Instances != last.Instances || now.Waiting != last.Waiting) {
			o.Progress(now)
		}
		last = &now
		if now.Instances == 0 {
			deleteErr = p.cloud.DeleteGroup(ctx, pl.GroupName, false)
			if deleteErr == nil || errors.Is(deleteErr, cloud.ErrNotFound) {
				return nil
			}
		}
		if now.Elapsed >= timeout {
			if now.Instances == 0 {
				return fmt.Errorf("delete auto scaling group %s: %w", pl.GroupName, deleteErr)
			}
			return fmt.Errorf("group %s still has %d instances (%d waiting in a termination hook) after %s: "+
				"is kelp's controller running to drain them? The group stays at size 0; run the delete again to keep waiting, "+
				"or force-delete it to terminate them without draining", pl.GroupName, now.Instances, now.Waiting, timeout)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for group %s to drain: %w", pl.GroupName, ctx.Err())
		case <-p.clock.After(min(interval, timeout-now.Elapsed)):
		}
	}
}

// drainProgress reads how many instances the group has left.
func (p *Provisioner) drainProgress(ctx context.Context, group string, start time.Time) (DrainProgress, error) {
	groups, err := p.cloud.DescribeGroups(ctx, GroupFilter{Names: []string{group}})
	if err != nil {
		return DrainProgress{}, fmt.Errorf("describe auto scaling group %s: %w", group, err)
	}
	dp := DrainProgress{Elapsed: p.clock.Since(start)}
	if len(groups) == 0 {
		return dp, nil
	}
	dp.Instances = len(groups[0].Members)
	for _, m := range groups[0].Members {
		if m.LifecycleState == cloud.LifecycleTerminatingWait {
			dp.Waiting++
		}
	}
	return dp, nil
}
