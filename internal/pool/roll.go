package pool

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/kelp-dev/kelp/internal/cloud"
)

// Rolling a pool replaces every instance of its group through the cloud's
// instance refresh, from the group's own launch template ($Latest for
// kelp's pools). Old instances leave through the drain hook, so kelp's
// drain controller drains their Nodes first. Every instance is replaced,
// not only the outdated ones: the cloud's SkipMatching compares version
// numbers, and token rotation writes a new version for every rotation
// (see Drift for what kelp calls outdated).

// Roll defaults: launch before terminate, one extra instance (10 %) at a
// time, as AWS's "launch before terminating" preset.
const (
	DefaultRollMinHealthyPercentage = 100
	DefaultRollMaxHealthyPercentage = 110
)

// DefaultRollPreferences launches each replacement before its old
// instance leaves.
func DefaultRollPreferences() cloud.RefreshPreferences {
	return cloud.RefreshPreferences{MinHealthyPercentage: DefaultRollMinHealthyPercentage, MaxHealthyPercentage: DefaultRollMaxHealthyPercentage}
}

// Roll starts replacing every instance of the pool and returns the
// refresh as the cloud reports it once started. A roll already running is
// an error naming it (wrapping cloud.ErrRefreshInProgress); an unknown
// pool wraps cloud.ErrNotFound.
func (p *Provisioner) Roll(ctx context.Context, name string, prefs cloud.RefreshPreferences) (cloud.InstanceRefresh, error) {
	if err := prefs.Validate(); err != nil {
		return cloud.InstanceRefresh{}, fmt.Errorf("roll pool %s: %w", name, err)
	}
	pl, err := p.rollTarget(ctx, name)
	if err != nil {
		return cloud.InstanceRefresh{}, err
	}
	id, err := p.refresher.StartInstanceRefresh(ctx, pl.GroupName, prefs)
	if errors.Is(err, cloud.ErrRefreshInProgress) {
		return cloud.InstanceRefresh{}, p.inProgress(ctx, pl, err)
	}
	if err != nil {
		return cloud.InstanceRefresh{}, fmt.Errorf("roll pool %s: %w", name, err)
	}
	r, err := p.refresh(ctx, pl, id)
	if err != nil {
		return cloud.InstanceRefresh{}, fmt.Errorf("roll pool %s: started instance refresh %s: %w", name, id, err)
	}
	return r, nil
}

// rollTarget returns the pool to roll, after checking the provisioner can.
func (p *Provisioner) rollTarget(ctx context.Context, name string) (Pool, error) {
	if p.refresher == nil {
		return Pool{}, fmt.Errorf("roll pool %s: the provisioner has no instance refresher", name)
	}
	pl, err := p.Get(ctx, name)
	if err != nil {
		return Pool{}, fmt.Errorf("roll pool: %w", err)
	}
	return pl, nil
}

// inProgress is the error for a roll refused because one runs: it names
// the running refresh.
func (p *Provisioner) inProgress(ctx context.Context, pl Pool, cause error) error {
	all, err := p.refresher.DescribeInstanceRefreshes(ctx, pl.GroupName)
	if err == nil {
		for _, r := range all {
			if !r.Status.Ended() {
				return fmt.Errorf("roll pool %s: instance refresh %s of group %s is already in progress (%s, %d%% done, started %s); "+
					"follow it with kelp pool roll %s --status --wait, or cancel it with kelp pool roll %s --cancel: %w",
					pl.Name, r.ID, pl.GroupName, r.Status, r.PercentageComplete, r.StartTime.Format(time.RFC3339), pl.Name, pl.Name, cause)
			}
		}
	}
	return fmt.Errorf("roll pool %s: an instance refresh of group %s is already in progress (kelp pool roll %s --status): %w",
		pl.Name, pl.GroupName, pl.Name, cause)
}

// refresh reads one refresh of the pool's group.
func (p *Provisioner) refresh(ctx context.Context, pl Pool, id string) (cloud.InstanceRefresh, error) {
	rs, err := p.refresher.DescribeInstanceRefreshes(ctx, pl.GroupName, id)
	if err != nil {
		return cloud.InstanceRefresh{}, err
	}
	if len(rs) == 0 {
		return cloud.InstanceRefresh{}, fmt.Errorf("instance refresh %s of group %s: %w", id, pl.GroupName, cloud.ErrNotFound)
	}
	return rs[0], nil
}

// RollStatus returns the pool's latest roll (instance refresh), running
// or ended. A pool never rolled wraps cloud.ErrNotFound.
func (p *Provisioner) RollStatus(ctx context.Context, name string) (cloud.InstanceRefresh, error) {
	pl, err := p.rollTarget(ctx, name)
	if err != nil {
		return cloud.InstanceRefresh{}, err
	}
	rs, err := p.refresher.DescribeInstanceRefreshes(ctx, pl.GroupName)
	if err != nil {
		return cloud.InstanceRefresh{}, fmt.Errorf("roll status of pool %s: %w", name, err)
	}
	if len(rs) == 0 {
		return cloud.InstanceRefresh{}, fmt.Errorf("pool %s has not been rolled (no instance refresh of group %s): %w", name, pl.GroupName, cloud.ErrNotFound)
	}
	return rs[0], nil
}

// CancelRoll cancels the pool's running roll and returns its ID:
// instances already replaced stay, those leaving finish leaving (through
// the drain hook). No roll running wraps cloud.ErrNoActiveRefresh.
func (p *Provisioner) CancelRoll(ctx context.Context, name string) (string, error) {
	pl, err := p.rollTarget(ctx, name)
	if err != nil {
		return "", err
	}
	id, err := p.refresher.CancelInstanceRefresh(ctx, pl.GroupName)
	if errors.Is(err, cloud.ErrNoActiveRefresh) {
		return "", fmt.Errorf("cancel roll of pool %s: no roll in progress: %w", name, err)
	}
	if err != nil {
		return "", fmt.Errorf("cancel roll of pool %s: %w", name, err)
	}
	return id, nil
}

// WaitRoll polls the pool's refresh id every interval until it ends and
// returns it as it ended. progress, when set, sees the first reading and
// every one whose status, percentage or instances to update changed. The
// wait honours ctx; a refresh that ends other than Successful is returned
// without error: the caller judges.
func (p *Provisioner) WaitRoll(ctx context.Context, name, id string, interval time.Duration, progress func(cloud.InstanceRefresh)) (cloud.InstanceRefresh, error) {
	pl, err := p.rollTarget(ctx, name)
	if err != nil {
		return cloud.InstanceRefresh{}, err
	}
	var last *cloud.InstanceRefresh
	for {
		r, err := p.refresh(ctx, pl, id)
		if err != nil {
			return cloud.InstanceRefresh{}, fmt.Errorf("follow roll of pool %s: %w", name, err)
		}
		if progress != nil && (last == nil || last.Status != r.Status || last.PercentageComplete != r.PercentageComplete ||
			last.InstancesToUpdate != r.InstancesToUpdate) {
			progress(r)
		}
		if r.Status.Ended() {
			return r, nil
		}
		last = &r
		select {
		case <-ctx.Done():
			return r, fmt.Errorf("follow roll of pool %s: %w", name, ctx.Err())
		case <-p.clock.After(interval):
		}
	}
}
