package aws

import (
	"context"
	"fmt"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"

	"github.com/kelp-dev/kelp/internal/cloud"
)

// This file is lifecycle hooks: the provisioner puts, reads and deletes
// them (pool.Cloud); the drain controller heartbeats and completes the
// actions of the instances they hold (cloud.LifecycleActions). Every call
// goes through call (timeout, throttle rounds, error mapping): an action
// that does not exist is cloud.ErrNotFound, an endpoint without lifecycle
// hooks cloud.ErrUnsupported.

var _ cloud.LifecycleActions = (*Provider)(nil)

// PutLifecycleHook creates or replaces (by name) a hook of group: Auto
// Scaling's PutLifecycleHook is an upsert. A zero HeartbeatTimeout or
// DefaultResult leaves AWS's default (3600 s, ABANDON); GlobalTimeout is
// AWS's to derive and is not sent.
func (p *Provider) PutLifecycleHook(ctx context.Context, group string, h cloud.LifecycleHook) error {
	in := &autoscaling.PutLifecycleHookInput{
		AutoScalingGroupName: sdkaws.String(group),
		LifecycleHookName:    sdkaws.String(h.Name),
		LifecycleTransition:  sdkaws.String(h.Transition),
	}
	if h.HeartbeatTimeout > 0 {
		in.HeartbeatTimeout = sdkaws.Int32(int32(h.HeartbeatTimeout / time.Second))
	}
	if h.DefaultResult != "" {
		in.DefaultResult = sdkaws.String(string(h.DefaultResult))
	}
	if h.Metadata != "" {
		in.NotificationMetadata = sdkaws.String(h.Metadata)
	}
	_, err := call(ctx, p, "PutLifecycleHook", func(ctx context.Context) (*autoscaling.PutLifecycleHookOutput, error) {
		return p.as.PutLifecycleHook(ctx, in)
	})
	if err != nil {
		return fmt.Errorf("put lifecycle hook %s on group %s: %w", h.Name, group, err)
	}
	p.log.Info("lifecycle hook put", "group", group, "hook", h.Name, "transition", h.Transition,
		"heartbeatTimeout", h.HeartbeatTimeout, "defaultResult", h.DefaultResult)
	return nil
}

// DescribeLifecycleHooks returns the hooks of group, in the cloud's
// order. A group that does not exist is cloud.ErrNotFound.
func (p *Provider) DescribeLifecycleHooks(ctx context.Context, group string) ([]cloud.LifecycleHook, error) {
	out, err := call(ctx, p, "DescribeLifecycleHooks", func(ctx context.Context) (*autoscaling.DescribeLifecycleHooksOutput, error) {
		return p.as.DescribeLifecycleHooks(ctx, &autoscaling.DescribeLifecycleHooksInput{AutoScalingGroupName: sdkaws.String(group)})
	})
	if err != nil {
		return nil, fmt.Errorf("describe lifecycle hooks of group %s: %w", group, err)
	}
	hooks := make([]cloud.LifecycleHook, 0, len(out.LifecycleHooks))
	for _, h := range out.LifecycleHooks {
		hooks = append(hooks, hookFromAWS(h))
	}
	return hooks, nil
}

func hookFromAWS(h astypes.LifecycleHook) cloud.LifecycleHook {
	return cloud.LifecycleHook{
		Name:             sdkaws.ToString(h.LifecycleHookName),
		Transition:       sdkaws.ToString(h.LifecycleTransition),
		HeartbeatTimeout: time.Duration(sdkaws.ToInt32(h.HeartbeatTimeout)) * time.Second,
		GlobalTimeout:    time.Duration(sdkaws.ToInt32(h.GlobalTimeout)) * time.Second,
		DefaultResult:    cloud.LifecycleResult(sdkaws.ToString(h.DefaultResult)),
		Metadata:         sdkaws.ToString(h.NotificationMetadata),
	}
}

// DeleteLifecycleHook deletes a hook of group. AWS first completes the
// actions it holds (CONTINUE for terminating instances, ABANDON for
// launching ones). A hook that does not exist is cloud.ErrNotFound.
func (p *Provider) DeleteLifecycleHook(ctx context.Context, group, name string) error {
	_, err := call(ctx, p, "DeleteLifecycleHook", func(ctx context.Context) (*autoscaling.DeleteLifecycleHookOutput, error) {
		return p.as.DeleteLifecycleHook(ctx, &autoscaling.DeleteLifecycleHookInput{
			AutoScalingGroupName: sdkaws.String(group), LifecycleHookName: sdkaws.String(name)})
	})
	if err != nil {
		return fmt.Errorf("delete lifecycle hook %s of group %s: %w", name, group, err)
	}
	return nil
}

// Heartbeat implements cloud.LifecycleActions with
// RecordLifecycleActionHeartbeat, by token when a has one, else by
// instance ID.
func (p *Provider) Heartbeat(ctx context.Context, a cloud.LifecycleAction) error {
	in := &autoscaling.RecordLifecycleActionHeartbeatInput{
		AutoScalingGroupName: sdkaws.String(a.Group), LifecycleHookName: sdkaws.String(a.Hook)}
	if a.Token != "" {
		in.LifecycleActionToken = sdkaws.String(a.Token)
	} else {
		in.InstanceId = sdkaws.String(a.InstanceID)
	}
	_, err := call(ctx, p, "RecordLifecycleActionHeartbeat", func(ctx context.Context) (*autoscaling.RecordLifecycleActionHeartbeatOutput, error) {
		return p.as.RecordLifecycleActionHeartbeat(ctx, in)
	})
	if err != nil {
		return fmt.Errorf("record heartbeat of %s: %w", a, err)
	}
	return nil
}

// Complete implements cloud.LifecycleActions with
// CompleteLifecycleAction, by token when a has one, else by instance ID.
// The instance's cached state is dropped: it is about to change.
func (p *Provider) Complete(ctx context.Context, a cloud.LifecycleAction, result cloud.LifecycleResult) error {
	if err := result.Validate(); err != nil {
		return fmt.Errorf("complete %s: %w", a, err)
	}
	in := &autoscaling.CompleteLifecycleActionInput{
		AutoScalingGroupName: sdkaws.String(a.Group), LifecycleHookName: sdkaws.String(a.Hook),
		LifecycleActionResult: sdkaws.String(string(result))}
	if a.Token != "" {
		in.LifecycleActionToken = sdkaws.String(a.Token)
	} else {
		in.InstanceId = sdkaws.String(a.InstanceID)
	}
	_, err := call(ctx, p, "CompleteLifecycleAction", func(ctx context.Context) (*autoscaling.CompleteLifecycleActionOutput, error) {
		return p.as.CompleteLifecycleAction(ctx, in)
	})
	if a.InstanceID != "" {
		p.instances.invalidate(a.InstanceID)
	}
	if err != nil {
		return fmt.Errorf("complete %s with %s: %w", a, result, err)
	}
	p.log.Info("lifecycle action completed", "group", a.Group, "hook", a.Hook, "instance", a.InstanceID, "result", result)
	return nil
}
