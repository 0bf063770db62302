package terminationctl

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/termination"
)

// Outcomes of a notice, for kelp_drain_notices_total.
const (
	noticeAccepted  = "accepted"
	noticeUnmanaged = "unmanaged" // no managed group holds the instance
	noticeNoNode    = "no-node"   // a warning for an instance without a Node
	noticeForgotten = "forgotten" // the instance is shutting down: its drain ends
	noticeIgnored   = "ignored"   // a state or kind kelp does not act on
	noticeFailed    = "error"
)

// Notify handles one notice of the interruption queue. It is safe to call
// concurrently with Run; nil means the notice is taken care of (the queue
// may delete the message), an error that it must be delivered again.
//
//   - A lifecycle action of a managed instance: its token and cause are
//     kept for its drain, and a round starts at once.
//   - A warning for a managed instance with a Node: kept on the Node (it
//     survives a restart), then a round starts at once.
//   - An instance shutting down or terminated: its drain is forgotten (its
//     Node goes through node lifecycle).
//   - An instance no managed group holds: ignored.
func (c *Controller) Notify(ctx context.Context, n termination.Notice) error {
	outcome, err := c.notify(ctx, n)
	c.Metrics.Notices.WithLabelValues(string(n.Kind), outcome).Inc()
	c.Logger.Info("notice", "kind", n.Kind, "instance", n.InstanceID, "cause", n.Cause, "event", n.EventID, "outcome", outcome)
	if err != nil {
		return err
	}
	if outcome == noticeAccepted || outcome == noticeForgotten {
		c.inbox.wake()
	}
	return nil
}

func (c *Controller) notify(ctx context.Context, n termination.Notice) (string, error) {
	if n.Kind == termination.NoticeStateChange {
		switch n.State {
		case "shutting-down", "terminated", "stopping", "stopped":
			c.inbox.forget(n.InstanceID)
			return noticeForgotten, nil
		}
		return noticeIgnored, nil
	}
	if n.Kind != termination.NoticeWarning && n.Kind != termination.NoticeLifecycleAction {
		return noticeIgnored, nil
	}
	inst, ok, err := c.managed(ctx, n)
	if err != nil {
		return noticeFailed, err
	}
	if !ok {
		return noticeUnmanaged, nil
	}
	if n.Kind == termination.NoticeLifecycleAction {
		c.inbox.action(n.InstanceID, n.Token, n.Cause)
		return noticeAccepted, nil
	}
	node, err := c.nodeOf(inst)
	if err != nil {
		return noticeFailed, err
	}
	if node == nil {
		return noticeNoNode, nil
	}
	w := n.Departure
	w.Group, w.Hook = inst.GroupName, ""
	if err := keepWarning(ctx, c.Client, node.Name, w); err != nil {
		return noticeFailed, err
	}
	c.inbox.warn(w)
	return noticeAccepted, nil
}

// noticeRefreshInterval bounds how often a notice for an instance the
// groups' snapshot does not hold refreshes the cloud: a group that just
// launched it, or another cluster's instance (EventBridge rules match
// every group of the account).
const noticeRefreshInterval = 5 * time.Second

// managed returns the notice's instance as the groups' snapshot has it, ok
// false when no managed group holds it. A lifecycle action of a managed
// group is managed even when the snapshot predates the instance. An
// instance the snapshot lacks makes the cloud refresh, at most once per
// noticeRefreshInterval, and is looked for again.
func (c *Controller) managed(ctx context.Context, n termination.Notice) (cloud.Instance, bool, error) {
	inst, group, err := c.findInSnapshot(ctx, n)
	if err != nil || inst.ID != "" {
		return inst, inst.ID != "", err
	}
	if n.Kind == termination.NoticeLifecycleAction && group {
		return cloud.Instance{ID: n.InstanceID, GroupName: n.Group}, true, nil
	}
	now := c.Clock.Now()
	c.refreshMu.Lock()
	stale := now.Sub(c.lastNoticeRefresh) >= noticeRefreshInterval
	if stale {
		c.lastNoticeRefresh = now
	}
	c.refreshMu.Unlock()
	if !stale {
		return cloud.Instance{}, false, nil
	}
	if err := c.Cloud.Refresh(ctx); err != nil {
		return cloud.Instance{}, false, fmt.Errorf("refresh cloud for instance %s: %w", n.InstanceID, err)
	}
	inst, _, err = c.findInSnapshot(ctx, n)
	return inst, inst.ID != "", err
}

// findInSnapshot returns the notice's instance from the groups' snapshot
// (zero when absent) and whether the notice's group is a managed one.
func (c *Controller) findInSnapshot(ctx context.Context, n termination.Notice) (cloud.Instance, bool, error) {
	groups, err := c.Cloud.NodeGroups(ctx)
	if err != nil {
		return cloud.Instance{}, false, err
	}
	group := false
	for _, g := range groups {
		group = group || (n.Group != "" && g.ID == n.Group)
		for _, inst := range g.Instances {
			if inst.ID == n.InstanceID {
				return inst, true, nil
			}
		}
	}
	return cloud.Instance{}, group, nil
}

// nodeOf returns the Node of inst by providerID, nil when it has none.
func (c *Controller) nodeOf(inst cloud.Instance) (*corev1.Node, error) {
	nodes, err := c.Nodes.List(labels.Everything())
	if err != nil {
		return nil, err
	}
	for _, n := range nodes {
		if inst.ProviderID != "" && n.Spec.ProviderID == inst.ProviderID {
			return n, nil
		}
	}
	return nil, nil
}

// inbox is what Notify hands to the rounds: it is the only state both
// share.
type inbox struct {
	mu       sync.Mutex
	once     sync.Once
	wakeCh   chan struct{}
	warnings map[string]termination.Departure // by instance ID
	actions  map[string]action                // by instance ID
	forgets  []string
}

// action is what a lifecycle action notice says of a held instance.
type action struct {
	token string
	cause termination.Cause
}

// woken returns the channel a notice wakes the loop on.
func (b *inbox) woken() <-chan struct{} {
	b.once.Do(func() { b.wakeCh = make(chan struct{}, 1) })
	return b.wakeCh
}

func (b *inbox) wake() {
	b.woken()
	select {
	case b.wakeCh <- struct{}{}:
	default:
	}
}

func (b *inbox) warn(w termination.Departure) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.warnings == nil {
		b.warnings = map[string]termination.Departure{}
	}
	if old, ok := b.warnings[w.InstanceID]; !ok || stronger(w, old) {
		b.warnings[w.InstanceID] = w
	}
}

func (b *inbox) action(id, token string, cause termination.Cause) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.actions == nil {
		b.actions = map[string]action{}
	}
	b.actions[id] = action{token: token, cause: cause}
}

func (b *inbox) forget(id string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.forgets = append(b.forgets, id)
}

// take returns and clears what arrived since the last take.
func (b *inbox) take() (map[string]termination.Departure, map[string]action, []string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	w, a, f := b.warnings, b.actions, b.forgets
	b.warnings, b.actions, b.forgets = nil, nil, nil
	return w, a, f
}
