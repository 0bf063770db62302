package approver

import (
	"context"
	"errors"
	"fmt"

	"github.com/kelp-dev/kelp/internal/cloud"
)

// Cloud is what the approver reads from the cloud: single instances and
// the managed groups. A cloud.Provider is one.
type Cloud interface {
	// InstanceByPrivateDNSName, InstanceForNode and Invalidate are those
	// of cloud.InstanceFinder.
	InstanceByPrivateDNSName(ctx context.Context, name string) ([]cloud.Instance, error)
	InstanceForNode(ctx context.Context, providerID string) (cloud.Instance, error)
	Invalidate(instanceID string)
	cloud.GroupLister
}

var _ Cloud = cloud.Provider(nil)

// gatherCloud resolves the cloud's facts of the node name into f: the
// instances of that private DNS name, the instance of the Node's
// providerID and the managed groups. A failure is a fact, f.CloudErr, and
// leaves the other cloud facts empty.
func gatherCloud(ctx context.Context, c Cloud, f *Facts, name string) {
	if err := readCloud(ctx, c, f, name); err != nil {
		f.InstancesByName, f.NodeInstance, f.ManagedGroups = nil, nil, nil
		f.CloudErr = err
	}
}

func readCloud(ctx context.Context, c Cloud, f *Facts, name string) error {
	byName, err := c.InstanceByPrivateDNSName(ctx, name)
	if err != nil && !errors.Is(err, cloud.ErrNotFound) {
		return fmt.Errorf("find instances named %s: %w", name, err)
	}
	// Answers come from the provider's short-lived cache, which is dropped
	// for each instance seen so that the next decision reads the cloud
	// again.
	for _, i := range byName {
		c.Invalidate(i.ID)
	}
	f.InstancesByName = byName
	seen := byName
	if f.Node != nil && f.Node.Spec.ProviderID != "" {
		id := f.Node.Spec.ProviderID
		inst, err := c.InstanceForNode(ctx, id)
		switch {
		case errors.Is(err, cloud.ErrNotFound) || errors.Is(err, cloud.ErrInvalidProviderID):
		case err != nil:
			return fmt.Errorf("find instance %s: %w", id, err)
		default:
			f.NodeInstance = &inst
			seen = append(seen[:len(seen):len(seen)], inst)
		}
	}
	f.ManagedGroups, err = managedGroups(ctx, c, seen)
	return err
}

// managedGroups returns the managed groups by name with their pool,
// refreshing the provider's snapshot once when an instance belongs to a
// group it has not seen yet (a pool created since the last refresh): "not
// managed" must never rest on a stale list.
func managedGroups(ctx context.Context, c Cloud, insts []cloud.Instance) (map[string]string, error) {
	groups, err := listGroups(ctx, c)
	if err != nil {
		return nil, err
	}
	for _, i := range insts {
		if _, ok := groups[i.GroupName]; i.GroupName != "" && !ok {
			if err := c.Refresh(ctx); err != nil {
				return nil, fmt.Errorf("refresh node groups: %w", err)
			}
			return listGroups(ctx, c)
		}
	}
	return groups, nil
}

func listGroups(ctx context.Context, c Cloud) (map[string]string, error) {
	gs, err := c.NodeGroups(ctx)
	if err != nil {
		return nil, fmt.Errorf("list node groups: %w", err)
	}
	out := make(map[string]string, len(gs))
	for _, g := range gs {
		out[g.ID] = g.Pool
	}
	return out, nil
}
