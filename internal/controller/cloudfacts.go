package controller

import (
	"context"
	"errors"
	"fmt"

	"github.com/kelp-dev/kelp/internal/approver"
	"github.com/kelp-dev/kelp/internal/cloud"
)

// CloudFacts adapts a cloud.Provider to what the approver and node
// lifecycle read: it is the only place that translates cloud instances
// into their facts.
type CloudFacts struct {
	Provider cloud.Provider
}

var (
	_ approver.InstanceLookup = CloudFacts{}
	_ InstanceStatuses        = CloudFacts{}
	_ refresher               = CloudFacts{}
)

// InstancesByPrivateDNSName implements approver.InstanceLookup. Answers
// come from the provider's short-lived cache, which is dropped for each
// instance seen so that the next decision reads the cloud again.
func (c CloudFacts) InstancesByPrivateDNSName(ctx context.Context, name string) ([]approver.Instance, error) {
	insts, err := c.Provider.InstanceByPrivateDNSName(ctx, name)
	if errors.Is(err, cloud.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("find instances named %s: %w", name, err)
	}
	groups, err := c.groupsKnowing(ctx, insts...)
	if err != nil {
		return nil, err
	}
	out := make([]approver.Instance, 0, len(insts))
	for _, i := range insts {
		c.Provider.Invalidate(i.ID)
		out = append(out, approverInstance(i, groups))
	}
	return out, nil
}

// InstanceByProviderID implements approver.InstanceLookup.
func (c CloudFacts) InstanceByProviderID(ctx context.Context, providerID string) (*approver.Instance, error) {
	inst, err := c.Provider.InstanceForNode(ctx, providerID)
	if errors.Is(err, cloud.ErrNotFound) || errors.Is(err, cloud.ErrInvalidProviderID) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("find instance %s: %w", providerID, err)
	}
	groups, err := c.groupsKnowing(ctx, inst)
	if err != nil {
		return nil, err
	}
	out := approverInstance(inst, groups)
	return &out, nil
}

// groupsKnowing returns the managed groups, refreshing the provider's
// snapshot once when an instance belongs to a group it has not seen yet (a
// pool created since the last refresh): "not managed" must never rest on a
// stale list.
func (c CloudFacts) groupsKnowing(ctx context.Context, insts ...cloud.Instance) (map[string]string, error) {
	groups, err := c.groups(ctx)
	if err != nil {
		return nil, err
	}
	for _, i := range insts {
		if _, ok := groups[i.GroupName]; i.GroupName != "" && !ok {
			if err := c.Provider.Refresh(ctx); err != nil {
				return nil, fmt.Errorf("refresh node groups: %w", err)
			}
			return c.groups(ctx)
		}
	}
	return groups, nil
}

// groups maps the managed groups by name to their pool.
func (c CloudFacts) groups(ctx context.Context) (map[string]string, error) {
	gs, err := c.Provider.NodeGroups(ctx)
	if err != nil {
		return nil, fmt.Errorf("list node groups: %w", err)
	}
	out := make(map[string]string, len(gs))
	for _, g := range gs {
		out[g.ID] = g.Pool
	}
	return out, nil
}

func approverInstance(i cloud.Instance, groups map[string]string) approver.Instance {
	pool, managed := groups[i.GroupName]
	return approver.Instance{
		ID: i.ID, ProviderID: i.ProviderID, State: approverState(i.State),
		GroupName: i.GroupName, Pool: pool, Managed: managed && i.GroupName != "",
		PrivateDNSName: i.PrivateDNSName, PrivateIPs: i.PrivateIPs, LaunchTime: i.LaunchTime,
	}
}

func approverState(s cloud.InstanceState) approver.InstanceState {
	switch s {
	case cloud.InstanceStatePending:
		return approver.InstancePending
	case cloud.InstanceStateRunning:
		return approver.InstanceRunning
	case cloud.InstanceStateTerminating:
		return approver.InstanceTerminating
	case cloud.InstanceStateTerminated:
		return approver.InstanceTerminated
	}
	return approver.InstanceUnknown
}

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
