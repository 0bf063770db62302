package terminationctl

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"

	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/pool"
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

// Controller drains the Nodes of instances held on kelp's drain hook and
// lets them go. Run it on the leader only.
type Controller struct {
	Client   kubernetes.Interface
	Nodes    corelisters.NodeLister
	Cloud    Cloud
	Recorder record.EventRecorder
	Logger   *slog.Logger
	Metrics  *Metrics
	Clock    clock.PassiveClock
	Options  termination.Options
	// Period between rounds; DefaultPeriod when zero.
	Period time.Duration

	drains map[string]*drain // by instance ID, while it waits
}

// drain is what the controller remembers of one waiting instance between
// rounds; what must survive a restart is on the Node.
type drain struct {
	noticed, lastHeartbeat time.Time
	lastReason             string
}

// Run runs a round every Period until ctx ends.
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
		}
	}
}

// Refresh reads the managed groups once and takes one step for every
// instance waiting on a termination hook.
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
	byProviderID := make(map[string]*corev1.Node, len(nodes))
	for _, n := range nodes {
		if n.Spec.ProviderID != "" {
			byProviderID[n.Spec.ProviderID] = n
		}
	}
	if c.drains == nil {
		c.drains = map[string]*drain{}
	}
	waiting := cloud.WaitingToTerminate(groups)
	seen := make(map[string]bool, len(waiting))
	var errs []error
	for _, inst := range waiting {
		seen[inst.ID] = true
		if err := c.step(ctx, inst, byProviderID[inst.ProviderID]); err != nil {
			errs = append(errs, fmt.Errorf("instance %s of group %s: %w", inst.ID, inst.GroupName, err))
		}
	}
	for id := range c.drains {
		if !seen[id] {
			delete(c.drains, id) // gone on: completed, timed out, or no longer waiting
		}
	}
	inProgress := 0
	for _, d := range c.drains {
		if d.lastReason != "" {
			inProgress++
		}
	}
	c.Metrics.InProgress.Set(float64(inProgress))
	return errors.Join(errs...)
}

// step gathers the facts of one waiting instance, decides and applies.
func (c *Controller) step(ctx context.Context, inst cloud.Instance, node *corev1.Node) error {
	now := c.Clock.Now()
	d := c.drains[inst.ID]
	if d == nil {
		d = &drain{noticed: now}
		c.drains[inst.ID] = d
	}
	f := termination.Facts{
		Departure: termination.Departure{InstanceID: inst.ID, Group: inst.GroupName, Hook: pool.DrainHookName,
			Cause: termination.CauseScaleIn, NoticedAt: d.noticed},
		LastHeartbeat: d.lastHeartbeat, Now: now, Options: c.Options,
	}
	var pods []*corev1.Pod
	if node != nil {
		var err error
		if pods, err = podsLeft(ctx, c.Client, node.Name); err != nil {
			return err
		}
		f.Node, f.Cordoned, f.PodsLeft, f.DrainStarted = node, cordoned(node), len(pods), drainStarted(node)
	}
	plan := termination.Decide(f)
	if err := c.apply(ctx, inst, node, pods, plan, now); err != nil {
		return err // decided again next round; reported once it succeeds
	}
	c.report(node, inst, f.Cause, d, plan)
	if plan.Done {
		delete(c.drains, inst.ID)
	}
	return nil
}

// apply takes the Plan's steps in order; a step that fails stops the rest
// (the next round decides again).
func (c *Controller) apply(ctx context.Context, inst cloud.Instance, node *corev1.Node, pods []*corev1.Pod, plan termination.Plan, now time.Time) error {
	action := cloud.LifecycleAction{Group: inst.GroupName, Hook: pool.DrainHookName, InstanceID: inst.ID}
	if node != nil && !plan.Done && (plan.Cordon || drainStarted(node).IsZero()) {
		if err := markDraining(ctx, c.Client, node.Name, now); err != nil {
			return err
		}
	}
	if plan.Evict {
		if err := evict(ctx, c.Client, pods, plan.EvictGrace); err != nil {
			return err
		}
	}
	if plan.Heartbeat {
		err := c.Cloud.Heartbeat(ctx, action)
		if err != nil && !errors.Is(err, cloud.ErrNotFound) {
			return err
		}
		c.drains[inst.ID].lastHeartbeat = now
	}
	if plan.Complete {
		if err := c.Cloud.Complete(ctx, action, cloud.LifecycleContinue); err != nil && !errors.Is(err, cloud.ErrNotFound) {
			return err
		}
		c.Logger.Info("lifecycle action completed", "instance", inst.ID, "group", inst.GroupName, "reason", plan.Reason)
	}
	if plan.DeleteNode && node != nil {
		if err := deleteNode(ctx, c.Client, node); err != nil {
			return err
		}
	}
	return nil
}

// report records an Event on the Node when the drain's reason changes or
// it ends, and counts finished drains.
func (c *Controller) report(node *corev1.Node, inst cloud.Instance, cause termination.Cause, d *drain, plan termination.Plan) {
	if plan.Done {
		c.Metrics.Drains.With(prometheus.Labels{"cause": string(cause), "outcome": plan.Reason}).Inc()
		c.Logger.Info("drain done", "instance", inst.ID, "group", inst.GroupName, "reason", plan.Reason, "message", plan.Message)
	}
	if node == nil || (plan.Reason == d.lastReason && !plan.Done) {
		return
	}
	d.lastReason = plan.Reason
	kind := corev1.EventTypeNormal
	if plan.GaveUp {
		kind = corev1.EventTypeWarning
	}
	c.Recorder.Event(node, kind, plan.Reason, plan.Message)
}
