package terminationctl

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"

	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/termination"
)

// Cloud is what the controller needs of the cloud: the managed groups
// (their instances in Terminating:Wait) and the lifecycle actions. A
// cloud/aws Provider is one.
type Cloud interface {
	cloud.GroupLister
	cloud.LifecycleActions
}

// DefaultPeriod is the default time between rounds.
const DefaultPeriod = 5 * time.Second

// Controller drains the Nodes of departing instances (held on kelp's
// drain hook, or warned of by the interruption queue) and lets them go.
// Run it on the leader only; Notify may be called while it runs.
type Controller struct {
	Client   kubernetes.Interface
	Nodes    corelisters.NodeLister
	Cloud    Cloud
	Recorder record.EventRecorder
	Logger   *slog.Logger
	Metrics  *Metrics
	Clock    clock.PassiveClock
	Options  termination.Options
	// Hooks, when set, reads the groups' drain hooks: an action is
	// heartbeated at a third of its hook's heartbeat timeout, at most
	// every Options.HeartbeatInterval.
	Hooks HookReader
	// Period between rounds; DefaultPeriod when zero.
	Period time.Duration

	inbox inbox // Notify's; the rest is the rounds' alone
	// refreshMu guards lastNoticeRefresh, when a notice last refreshed
	// the cloud (Notify's too).
	refreshMu         sync.Mutex
	lastNoticeRefresh time.Time

	drains map[string]*drain // by instance ID, while it departs
	noted  noted
	hooks  map[string]hookEntry // by group
	status statusWriter
}

// drain is what the controller remembers of one departing instance
// between rounds; what must survive a restart is on the Node.
type drain struct {
	noticed, heldSince, lastHeartbeat time.Time
	lastReason                        string
	// done: a warning no hook holds with nothing more to do now; it is
	// decided again once a hook holds it or a stronger warning comes.
	done      bool
	doneCause termination.Cause
	status    DrainStatus // "" Instance until a step succeeded
}

// Run runs a round every Period, and at once after a notice, until ctx
// ends.
func (c *Controller) Run(ctx context.Context) {
	period := c.Period
	if period <= 0 {
		period = DefaultPeriod
	}
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		if err := c.Refresh(ctx); err != nil && ctx.Err() == nil {
			c.Logger.Warn("drain round failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-c.inbox.woken():
		}
	}
}

// Refresh reads the managed groups once and takes one step for every
// departing instance.
func (c *Controller) Refresh(ctx context.Context) error {
	if err := c.Cloud.Refresh(ctx); err != nil {
		return fmt.Errorf("refresh cloud: %w", err)
	}
	groups, err := c.Cloud.NodeGroups(ctx)
	if err != nil {
		return fmt.Errorf("list node groups: %w", err)
	}
	nodes, err := c.Nodes.List(labels.Everything())
	if err != nil {
		return fmt.Errorf("list nodes: %w", err)
	}
	if c.drains == nil {
		c.drains = map[string]*drain{}
	}
	now := c.Clock.Now()
	c.noted.take(&c.inbox, now)
	departures := c.noted.departures(groups, nodes, now)
	c.cordonHeld(ctx, departures, now)
	seen := make(map[string]bool, len(departures))
	var errs []error
	for _, d := range departures {
		seen[d.InstanceID] = true
		if err := c.step(ctx, d); err != nil {
			errs = append(errs, fmt.Errorf("instance %s of group %s: %w", d.InstanceID, d.Group, err))
		}
	}
	var progress []DrainStatus
	for id, d := range c.drains {
		switch {
		case !seen[id]:
			delete(c.drains, id) // gone on: completed, timed out, or no longer departing
		case !d.done && d.status.Instance != "":
			progress = append(progress, d.status)
		}
	}
	c.Metrics.InProgress.Set(float64(len(progress)))
	if err := c.status.write(ctx, c.Client, progress); err != nil {
		c.Logger.Error("write drains status", "configmap", "kube-system/"+StatusConfigMap, "err", err)
	}
	return errors.Join(errs...)
}

// cordonHeld cordons the Node of every instance a hook holds before any
// Node is drained, so that pods evicted from one leaving node are not
// scheduled onto another that is leaving too (and evicted again). The
// departure's Node is updated to what was written; a Node that could not
// be cordoned is left to its step, which tries again.
func (c *Controller) cordonHeld(ctx context.Context, departures []departure, now time.Time) {
	for i, d := range departures {
		if d.Hook == "" || d.node == nil || cordoned(d.node) {
			continue
		}
		node, err := markDraining(ctx, c.Client, d.node.Name, now, true)
		if err != nil {
			c.Logger.Warn("cordon leaving node", "node", d.node.Name, "instance", d.InstanceID, "err", err)
			continue
		}
		departures[i].node = node
	}
}

// step gathers the facts of one departing instance, decides and applies.
func (c *Controller) step(ctx context.Context, dep departure) error {
	now := c.Clock.Now()
	d := c.drains[dep.InstanceID]
	if d == nil {
		d = &drain{noticed: now}
		c.drains[dep.InstanceID] = d
	}
	held := dep.Hook != ""
	if held && d.heldSince.IsZero() {
		d.heldSince, d.done = now, false
	}
	if !held && d.done && d.doneCause == dep.Cause {
		return nil
	}
	f := termination.Facts{Departure: dep.Departure, LastHeartbeat: d.lastHeartbeat, Now: now, Options: c.Options}
	if held {
		f.NoticedAt = d.heldSince
		f.Options = withHeartbeat(f.Options, c.heartbeatInterval(ctx, dep.Group, now))
	} else if f.NoticedAt.IsZero() {
		f.NoticedAt = d.noticed
	}
	node := dep.node
	var pods []*corev1.Pod
	if node != nil {
		var err error
		if pods, err = podsLeft(ctx, c.Client, node.Name); err != nil {
			return err
		}
		f.Node, f.Cordoned, f.PodsLeft, f.DrainStarted = node, cordoned(node), len(pods), drainStarted(node)
	}
	plan := termination.Decide(f)
	if err := c.apply(ctx, dep, pods, plan, now); err != nil {
		return err // decided again next round; reported once it succeeds
	}
	c.report(dep, d, plan)
	d.status = statusOf(f, plan, now)
	switch {
	case plan.Done && held:
		delete(c.drains, dep.InstanceID)
		delete(c.noted.actions, dep.InstanceID)
	case plan.Done:
		d.done, d.doneCause = true, dep.Cause
	}
	return nil
}

// statusOf is the status of the drain of f after plan.
func statusOf(f termination.Facts, plan termination.Plan, now time.Time) DrainStatus {
	s := DrainStatus{Instance: f.InstanceID, Group: f.Group, Cause: string(f.Cause), Deadline: f.Deadline, PodsLeft: f.PodsLeft, Reason: plan.Reason}
	if f.Node != nil {
		s.Node = f.Node.Name
	}
	if s.Started = f.DrainStarted; s.Started.IsZero() && !plan.CordonOnly {
		s.Started = now
	}
	return s
}

// apply takes the Plan's steps in order; a step that fails stops the rest
// (the next round decides again).
func (c *Controller) apply(ctx context.Context, dep departure, pods []*corev1.Pod, plan termination.Plan, now time.Time) error {
	node := dep.node
	action := cloud.LifecycleAction{Group: dep.Group, Hook: dep.Hook, InstanceID: dep.InstanceID, Token: dep.token}
	start := !plan.Done && !plan.CordonOnly && node != nil && drainStarted(node).IsZero()
	if node != nil && !plan.DeleteNode && (plan.Cordon || start) {
		if _, err := markDraining(ctx, c.Client, node.Name, now, !plan.CordonOnly); err != nil {
			return err
		}
	}
	if plan.Evict {
		if err := evict(ctx, c.Client, pods, plan.EvictGrace); err != nil {
			return err
		}
	}
	if plan.Heartbeat {
		if err := act(ctx, action, c.Cloud.Heartbeat); err != nil {
			return err
		}
		c.drains[dep.InstanceID].lastHeartbeat = now
	}
	if plan.Complete {
		complete := func(ctx context.Context, a cloud.LifecycleAction) error {
			return c.Cloud.Complete(ctx, a, cloud.LifecycleContinue)
		}
		if err := act(ctx, action, complete); err != nil {
			return err
		}
		c.Logger.Info("lifecycle action completed", "instance", dep.InstanceID, "group", dep.Group, "reason", plan.Reason)
	}
	if plan.DeleteNode && node != nil {
		if err := deleteNode(ctx, c.Client, node); err != nil {
			return err
		}
	}
	return nil
}

// act calls fn on the lifecycle action a: by its token when one came, by
// the instance when the token names no action (an older one's). An action
// that does not exist (completed, timed out, never held) is not an error.
func act(ctx context.Context, a cloud.LifecycleAction, fn func(context.Context, cloud.LifecycleAction) error) error {
	err := fn(ctx, a)
	if a.Token != "" && errors.Is(err, cloud.ErrNotFound) {
		a.Token = ""
		err = fn(ctx, a)
	}
	if err != nil && !errors.Is(err, cloud.ErrNotFound) {
		return err
	}
	return nil
}

// report records an Event on the Node when the drain's reason changes or
// it ends, and counts finished drains.
func (c *Controller) report(dep departure, d *drain, plan termination.Plan) {
	if plan.Done {
		c.Metrics.Drains.With(prometheus.Labels{"cause": string(dep.Cause), "outcome": plan.Reason}).Inc()
		c.Logger.Info("drain done", "instance", dep.InstanceID, "group", dep.Group, "cause", dep.Cause, "reason", plan.Reason, "message", plan.Message)
	}
	if dep.node == nil || (plan.Reason == d.lastReason && !plan.Done) {
		return
	}
	d.lastReason = plan.Reason
	kind := corev1.EventTypeNormal
	if plan.GaveUp {
		kind = corev1.EventTypeWarning
	}
	c.Recorder.Event(dep.node, kind, plan.Reason, plan.Message)
}
