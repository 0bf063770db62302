package terminationctl

import (
	"context"
	"time"

	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/pool"
	"github.com/kelp-dev/kelp/internal/termination"
)

// HookReader reads a group's lifecycle hooks. A cloud/aws Provider is one.
type HookReader interface {
	DescribeLifecycleHooks(ctx context.Context, group string) ([]cloud.LifecycleHook, error)
}

// hookCacheTTL is how long a group's hook is trusted before it is read
// again.
const hookCacheTTL = 5 * time.Minute

// minHeartbeat is the shortest heartbeat interval, whatever the hook.
const minHeartbeat = 10 * time.Second

// hookEntry is the heartbeat interval of a group's drain hook, as read.
type hookEntry struct {
	interval time.Duration
	read     time.Time
}

// HeartbeatInterval is how often to heartbeat an action of a hook whose
// heartbeat timeout is timeout: a third of it, at least 10 s, at most
// upper (Options.HeartbeatInterval). A zero timeout (unknown) gives upper.
func HeartbeatInterval(timeout, upper time.Duration) time.Duration {
	if timeout <= 0 {
		return upper
	}
	return min(max(timeout/3, minHeartbeat), upper)
}

// heartbeatInterval returns the heartbeat interval for the actions of
// group's drain hook, read through Hooks (cached for hookCacheTTL).
// Without Hooks, or when the hook cannot be read, it is
// Options.HeartbeatInterval.
func (c *Controller) heartbeatInterval(ctx context.Context, group string, now time.Time) time.Duration {
	upper := c.Options.WithDefaults().HeartbeatInterval
	if c.Hooks == nil {
		return upper
	}
	if e, ok := c.hooks[group]; ok && now.Sub(e.read) < hookCacheTTL {
		return e.interval
	}
	hooks, err := c.Hooks.DescribeLifecycleHooks(ctx, group)
	if err != nil {
		c.Logger.Warn("read the drain hook", "group", group, "err", err)
		return upper
	}
	var timeout time.Duration
	for _, h := range hooks {
		if h.Name == pool.DrainHookName {
			timeout = h.HeartbeatTimeout
		}
	}
	if c.hooks == nil {
		c.hooks = map[string]hookEntry{}
	}
	e := hookEntry{interval: HeartbeatInterval(timeout, upper), read: now}
	c.hooks[group] = e
	return e.interval
}

// withHeartbeat returns o with the heartbeat interval set.
func withHeartbeat(o termination.Options, interval time.Duration) termination.Options {
	o.HeartbeatInterval = interval
	return o
}
