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

// aliveMembers is the providerIDs of the managed groups' instances that
// are not gone, read once a Refresh: looking each Node up in them is then
// a map read, not a scan of every group's instances.
func aliveMembers(ctx context.Context, c Cloud) (map[string]bool, error) {
	gs, err := c.NodeGroups(ctx)
	if err != nil {
		return nil, fmt.Errorf("list node groups: %w", err)
	}
	alive := map[string]bool{}
	for _, g := range gs {
		for _, i := range g.Instances {
			if !i.State.Gone() {
				alive[i.ProviderID] = true
			}
		}
	}
	return alive, nil
}

// instanceStatus looks up the instance behind an aws:/// providerID.
// Members of managed groups (alive, from aliveMembers) are answered at
// once; any other instance is looked up afresh. An error means the cloud
// could not answer: nothing is decided.
func instanceStatus(ctx context.Context, c Cloud, alive map[string]bool, providerID string) (InstanceStatus, error) {
	if alive[providerID] {
		return InstanceAlive, nil
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
