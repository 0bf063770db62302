package pool

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/kelp-dev/kelp/internal/cloud"
)

// Every pool carries kelp's termination lifecycle hook, the drain hook: an
// instance leaving its group for any reason (a lower desired count, a spot
// interruption's replacement, AZ or capacity rebalancing, an instance
// refresh, TerminateInstanceInAutoScalingGroup) waits in Terminating:Wait
// until kelp has drained its Node and completes the action.
//
// How long an instance can be held:
//
//   - With kelp alive, the drain sends heartbeats while it works and
//     completes with CONTINUE when the Node is empty, or at its own bound
//     (--max-graceful-termination); AWS's global timeout, min(48 h, 100 ×
//     the heartbeat timeout), caps that bound.
//   - With kelp dead (no heartbeats, no completion), the instance waits at
//     most the heartbeat timeout; then the default result, CONTINUE, lets
//     it go. So a dead controller never blocks scale-in for longer than the
//     heartbeat timeout (DefaultDrainHeartbeatTimeout unless the pool sets
//     drainHeartbeatTimeout).
//
// CONTINUE rather than ABANDON: for a terminating instance both end in
// termination, but CONTINUE also lets the group's other hooks run.

// DrainHookName is the name of kelp's termination hook on every pool (and
// on the adopted groups it was asked to put it on).
const DrainHookName = "kelp-drain"

// DrainHookTransition is the lifecycle transition the drain hook holds.
const DrainHookTransition = "autoscaling:EC2_INSTANCE_TERMINATING"

// Heartbeat timeouts of the drain hook: AWS accepts 30 s to 7,200 s.
const (
	DefaultDrainHeartbeatTimeout = 300 * time.Second
	MinDrainHeartbeatTimeout     = 30 * time.Second
	MaxDrainHeartbeatTimeout     = 7200 * time.Second
)

// ValidateDrainHeartbeatTimeout returns an error unless d is whole seconds
// in [MinDrainHeartbeatTimeout, MaxDrainHeartbeatTimeout]; the error names
// field.
func ValidateDrainHeartbeatTimeout(field string, d time.Duration) error {
	if d < MinDrainHeartbeatTimeout || d > MaxDrainHeartbeatTimeout || d%time.Second != 0 {
		return fmt.Errorf("%s %s: want whole seconds from %s to %s (AWS's bounds of a lifecycle hook's heartbeat timeout)",
			field, d, MinDrainHeartbeatTimeout, MaxDrainHeartbeatTimeout)
	}
	return nil
}

// DrainHook is kelp's termination hook on group with the heartbeat
// timeout (0 is DefaultDrainHeartbeatTimeout). Its notification metadata
// names the cluster, the group and the pool ("" for an adopted group), as
// JSON.
func DrainHook(cluster, group, pool string, heartbeat time.Duration) cloud.LifecycleHook {
	if heartbeat == 0 {
		heartbeat = DefaultDrainHeartbeatTimeout
	}
	meta, _ := json.Marshal(struct {
		Cluster string `json:"cluster"`
		Group   string `json:"group"`
		Pool    string `json:"pool,omitempty"`
	}{cluster, group, pool}) // strings only: cannot fail
	return cloud.LifecycleHook{Name: DrainHookName, Transition: DrainHookTransition,
		HeartbeatTimeout: heartbeat, DefaultResult: cloud.LifecycleContinue, Metadata: string(meta)}
}

// drainHookOf returns kelp's hook among hooks, nil when there is none.
func drainHookOf(hooks []cloud.LifecycleHook) *cloud.LifecycleHook {
	for _, h := range hooks {
		if h.Name == DrainHookName {
			return &h
		}
	}
	return nil
}

// sameHook reports whether the cloud's hook is want (the cloud's own
// GlobalTimeout aside).
func sameHook(got, want cloud.LifecycleHook) bool {
	got.GlobalTimeout = 0
	return got == want
}

// errHooksUnsupported is wrapped when the cloud's endpoint has no
// lifecycle hooks.
var errHooksUnsupported = errors.New("the cloud's endpoint does not implement lifecycle hooks")

// AdoptHook puts kelp's drain hook on a group kelp manages but did not
// create (given by --nodes or found by discovery), with the heartbeat
// timeout (0 keeps the current hook's, or is the default): the group must
// carry the cluster's ownership tag, kubernetes.io/cluster/<cluster>=owned.
// Putting it again changes nothing. It returns the group's drain hook.
func (p *Provisioner) AdoptHook(ctx context.Context, group string, heartbeat time.Duration) (cloud.LifecycleHook, error) {
	if heartbeat != 0 {
		if err := ValidateDrainHeartbeatTimeout("heartbeat timeout", heartbeat); err != nil {
			return cloud.LifecycleHook{}, fmt.Errorf("adopt group %s: %w", group, err)
		}
	}
	groups, err := p.cloud.DescribeGroups(ctx, GroupFilter{Names: []string{group}})
	if err != nil {
		return cloud.LifecycleHook{}, fmt.Errorf("adopt group %s: describe auto scaling group: %w", group, err)
	}
	if len(groups) == 0 {
		return cloud.LifecycleHook{}, fmt.Errorf("adopt group %s: %w", group, cloud.ErrNotFound)
	}
	if groups[0].Tags[ClusterTagPrefix+p.cluster] != ownedValue {
		return cloud.LifecycleHook{}, fmt.Errorf("adopt group %s: not tagged %s%s=%s: kelp does not manage it for cluster %s",
			group, ClusterTagPrefix, p.cluster, ownedValue, p.cluster)
	}
	h, err := p.reconcileDrainHook(ctx, group, groups[0].Tags[PoolTag], heartbeat)
	if err != nil {
		return cloud.LifecycleHook{}, fmt.Errorf("adopt group %s: %w", group, err)
	}
	return h, nil
}

// reconcileDrainHook puts kelp's hook on group with the heartbeat timeout,
// or, when heartbeat is 0, with the current hook's (the default when there
// is none), unless the group has that hook already. It returns the hook.
func (p *Provisioner) reconcileDrainHook(ctx context.Context, group, pool string, heartbeat time.Duration) (cloud.LifecycleHook, error) {
	hooks, err := p.cloud.DescribeLifecycleHooks(ctx, group)
	if errors.Is(err, cloud.ErrUnsupported) {
		err = fmt.Errorf("%w: %w", errHooksUnsupported, err)
	}
	if err != nil {
		return cloud.LifecycleHook{}, err // the cloud's error names the call and group
	}
	current := drainHookOf(hooks)
	if heartbeat == 0 && current != nil {
		heartbeat = current.HeartbeatTimeout
	}
	want := DrainHook(p.cluster, group, pool, heartbeat)
	if current != nil && sameHook(*current, want) {
		return want, nil
	}
	if err := p.cloud.PutLifecycleHook(ctx, group, want); err != nil {
		return cloud.LifecycleHook{}, err // the cloud's error names the call, hook and group
	}
	return want, nil
}
