package nodelifecycle

import (
	"context"
	"errors"
	"fmt"

	"github.com/kelp-dev/kelp/internal/cloud"
)

// Cloud is what node lifecycle reads from the cloud: the managed groups in
// bulk, and single instances outside them. A cloud.Provider is one.
type Cloud interface {
	cloud.GroupLister
	// InstanceForNode and Invalidate are those of cloud.InstanceFinder.
	InstanceForNode(ctx context.Context, providerID string) (cloud.Instance, error)
	Invalidate(instanceID string)
}

var _ Cloud = cloud.Provider(nil)

// instanceStatus looks up the instance behind an aws:/// providerID.
// Members of managed groups are answered from the last Refresh; any other
// instance is looked up afresh. An error means the cloud could not
// answer: nothing is decided.
func instanceStatus(ctx context.Context, c Cloud, providerID string) (InstanceStatus, error) {
	gs, err := c.NodeGroups(ctx)
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
	inst, err := c.InstanceForNode(ctx, providerID)
	if errors.Is(err, cloud.ErrNotFound) {
		return InstanceGone, nil
	}
	if err != nil {
		return 0, fmt.Errorf("find instance %s: %w", providerID, err)
	}
	c.Invalidate(inst.ID)
	if inst.State == cloud.InstanceStateTerminated {
		return InstanceTerminated, nil
	}
	return InstanceAlive, nil
}
