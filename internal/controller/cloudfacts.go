package controller

import (
	"context"
	"errors"
	"fmt"

	"github.com/kelp-dev/kelp/internal/cloud"
)

// CloudFacts adapts a cloud.Provider to what node lifecycle reads.
type CloudFacts struct {
	Provider cloud.Provider
}

var (
	_ InstanceStatuses = CloudFacts{}
	_ refresher        = CloudFacts{}
)

// refresher is implemented by InstanceStatuses that read the cloud in
// bulk once per node lifecycle refresh.
type refresher interface {
	Refresh(ctx context.Context) error
}

// Refresh reads every managed group and its instances in one pass.
func (c CloudFacts) Refresh(ctx context.Context) error {
	return c.Provider.Refresh(ctx)
}

// InstanceStatus implements InstanceStatuses. Members of managed groups
// are answered from the last Refresh; any other instance is looked up
// afresh.
func (c CloudFacts) InstanceStatus(ctx context.Context, providerID string) (InstanceStatus, error) {
	gs, err := c.Provider.NodeGroups(ctx)
	if err != nil {
		return 0, fmt.Errorf("list node groups: %w", err)
	}
	for _, g := range gs {
		for _, i := range g.Instances {
			if i.ProviderID == providerID && !i.State.Gone() {
				return InstanceAlive, nil
			}
		}
	}
	inst, err := c.Provider.InstanceForNode(ctx, providerID)
	if errors.Is(err, cloud.ErrNotFound) {
		return InstanceGone, nil
	}
	if err != nil {
		return 0, fmt.Errorf("find instance %s: %w", providerID, err)
	}
	c.Provider.Invalidate(inst.ID)
	if inst.State == cloud.InstanceStateTerminated {
		return InstanceTerminated, nil
	}
	return InstanceAlive, nil
}
