package aws

import (
	"context"
	"errors"
	"fmt"
	"slices"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/pool"
)

// SetTargetSize implements cloud.Scaler: it reads the group afresh,
// checks n against its bounds (cloud.NodeGroup.CheckSize) and calls
// SetDesiredCapacity with HonorCooldown false.
func (p *Provider) SetTargetSize(ctx context.Context, group string, n int) error {
	g, err := p.describeManagedGroup(ctx, group)
	if err != nil {
		return fmt.Errorf("set target size of %s: %w", group, err)
	}
	sizes := p.groupSizes(g)
	check := sizes
	// Growing a group that is below kelp's minimum (GroupBounds) toward
	// it is fine.
	check.MinSize = min(check.MinSize, max(sizes.TargetSize, int(sdkaws.ToInt32(g.MinSize))))
	if err := check.CheckSize(n); err != nil {
		return fmt.Errorf("set target size: %w", err)
	}
	if n == sizes.TargetSize {
		return nil
	}
	_, err = call(ctx, p, "SetDesiredCapacity", func(ctx context.Context) (*autoscaling.SetDesiredCapacityOutput, error) {
		return p.as.SetDesiredCapacity(ctx, &autoscaling.SetDesiredCapacityInput{
			AutoScalingGroupName: sdkaws.String(group), DesiredCapacity: sdkaws.Int32(int32(n)), HonorCooldown: sdkaws.Bool(false)})
	})
	if err != nil {
		return fmt.Errorf("set target size of %s to %d: %w", group, n, err)
	}
	p.log.Info("target size set", "group", group, "from", sizes.TargetSize, "to", n)
	p.edit(group, func(ng *cloud.NodeGroup) { ng.TargetSize = n })
	return nil
}

// DeleteInstances implements cloud.Scaler: it reads the group afresh,
// checks membership and the minimum (cloud.NodeGroup.CheckSize), then calls
// TerminateInstanceInAutoScalingGroup with ShouldDecrementDesiredCapacity
// for each instance in turn.
//
// kelp's own scale-down drains a node before it deletes its instance, so
// each terminated instance is let go at once: kelp's drain hook
// (pool.DrainHookName) is completed with CONTINUE for it (releaseDrainHook).
// A group without the hook, or an action not (yet) there, is fine: the
// drain controller completes any action left, at once for a drained node.
func (p *Provider) DeleteInstances(ctx context.Context, group string, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	g, err := p.describeManagedGroup(ctx, group)
	if err != nil {
		return fmt.Errorf("delete instances of %s: %w", group, err)
	}
	victims, strangers := splitVictims(g, ids)
	if err := p.checkStrangers(ctx, group, strangers); err != nil {
		return fmt.Errorf("delete instances of %s: %w", group, err)
	}
	sizes := p.groupSizes(g)
	desired := sizes.TargetSize
	if err := sizes.CheckSize(desired - len(victims)); err != nil {
		return fmt.Errorf("delete %d instances at size %d: %w", len(victims), desired, err)
	}
	var done []string
	var errs []error
	for _, id := range victims {
		_, err := call(ctx, p, "TerminateInstanceInAutoScalingGroup", func(ctx context.Context) (*autoscaling.TerminateInstanceInAutoScalingGroupOutput, error) {
			return p.as.TerminateInstanceInAutoScalingGroup(ctx, &autoscaling.TerminateInstanceInAutoScalingGroupInput{
				InstanceId: sdkaws.String(id), ShouldDecrementDesiredCapacity: sdkaws.Bool(true)})
		})
		p.instances.invalidate(id)
		if err != nil {
			errs = append(errs, fmt.Errorf("terminate instance %s: %w", id, err))
			continue
		}
		done = append(done, id)
		if err := p.releaseDrainHook(ctx, group, id); err != nil {
			errs = append(errs, err)
		}
	}
	if len(done) > 0 {
		p.log.Info("instances terminated", "group", group, "instances", done, "targetSize", desired-len(done))
		target := desired - len(done)
		p.edit(group, func(ng *cloud.NodeGroup) {
			ng.TargetSize = target
			for i := range ng.Instances {
				if slices.Contains(done, ng.Instances[i].ID) && !ng.Instances[i].State.Gone() {
					ng.Instances[i].State, ng.Instances[i].CloudState = cloud.InstanceStateTerminating, "Terminating"
				}
			}
		})
	}
	if len(errs) > 0 {
		return fmt.Errorf("delete instances of %s: %d of %d failed: %w", group, len(errs), len(victims), errors.Join(errs...))
	}
	return nil
}

// releaseDrainHook completes kelp's drain hook with CONTINUE for instance
// id of group, which kelp has drained already. An action that does not
// exist (cloud.ErrNotFound: the group has no such hook, the action is
// already gone or not yet there) or an endpoint without lifecycle hooks is
// not an error.
func (p *Provider) releaseDrainHook(ctx context.Context, group, id string) error {
	err := p.Complete(ctx, cloud.LifecycleAction{Group: group, Hook: pool.DrainHookName, InstanceID: id}, cloud.LifecycleContinue)
	if err == nil || errors.Is(err, cloud.ErrNotFound) || errors.Is(err, cloud.ErrUnsupported) {
		return nil
	}
	return fmt.Errorf("release terminated instance %s: %w", id, err)
}

// splitVictims sorts ids into the members of g to terminate and the ids
// g does not list (strangers). Members already terminating are neither;
// duplicates count once.
func splitVictims(g astypes.AutoScalingGroup, ids []string) (victims, strangers []string) {
	members := map[string]astypes.LifecycleState{}
	for _, i := range g.Instances {
		members[sdkaws.ToString(i.InstanceId)] = i.LifecycleState
	}
	for _, id := range ids {
		state, ok := members[id]
		switch {
		case slices.Contains(victims, id), slices.Contains(strangers, id):
		case !ok:
			strangers = append(strangers, id)
		case !stateFromGroup(string(state)).Gone():
			victims = append(victims, id)
		}
	}
	return victims, strangers
}

// checkStrangers accepts ids the group no longer lists because they were
// its instances and are terminated or terminating (deleting twice is a
// no-op); any other is an error wrapping cloud.ErrNotFound.
func (p *Provider) checkStrangers(ctx context.Context, group string, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	insts, err := p.describeEC2Instances(ctx, &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{
		{Name: sdkaws.String("instance-id"), Values: ids}}})
	if err != nil {
		return fmt.Errorf("describe instances %v: %w", ids, err)
	}
	var bad []string
	for _, id := range ids {
		i := slices.IndexFunc(insts, func(inst cloud.Instance) bool { return inst.ID == id })
		if i < 0 || insts[i].GroupName != group || !insts[i].State.Gone() {
			bad = append(bad, id)
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("instances %v are not in the group: %w", bad, cloud.ErrNotFound)
	}
	return nil
}

// snapshotEdit is a Scaler change applied to the snapshot. Edits are
// absolute (set a size, mark instances), so applying one twice is harmless.
type snapshotEdit struct {
	seq   uint64
	group string
	apply func(*cloud.NodeGroup)
}

// edit applies a change to the snapshot now and remembers it, so that a
// Refresh that read the cloud before the change keeps it.
func (p *Provider) edit(group string, apply func(*cloud.NodeGroup)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.editSeq++
	p.edits = append(p.edits, snapshotEdit{seq: p.editSeq, group: group, apply: apply})
	p.applyEditLocked(p.edits[len(p.edits)-1])
}

// reapplyEditsLocked applies the edits made after a Refresh took its
// sequence number and forgets the older ones. p.mu must be held.
func (p *Provider) reapplyEditsLocked(since uint64) {
	p.edits = slices.DeleteFunc(p.edits, func(e snapshotEdit) bool { return e.seq <= since })
	for _, e := range p.edits {
		p.applyEditLocked(e)
	}
}

func (p *Provider) applyEditLocked(e snapshotEdit) {
	for i := range p.groups {
		if p.groups[i].ID == e.group {
			e.apply(&p.groups[i])
		}
	}
}
