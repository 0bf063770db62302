package nodelifecycle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/record"
)

// Metrics are node lifecycle's Prometheus metrics.
type Metrics struct {
	Deletions  *prometheus.CounterVec
	NotInCloud prometheus.Gauge
}

// NewMetrics creates the metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Deletions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kelp_node_lifecycle_deletions_total",
			Help: "Node objects deleted because their instance was terminated or unknown to the cloud, by reason.",
		}, []string{"reason"}),
		NotInCloud: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "kelp_nodes_not_in_cloud",
			Help: "Nodes without an aws:/// providerID, left alone by node lifecycle.",
		}),
	}
	reg.MustRegister(m.Deletions, m.NotInCloud)
	return m
}

// Controller deletes the Node objects of instances that are gone.
type Controller struct {
	Client   kubernetes.Interface
	Nodes    corelisters.NodeLister
	Cloud    Cloud
	Recorder record.EventRecorder
	Logger   *slog.Logger
	Metrics  *Metrics
	// Period between refreshes: a terminated instance's Node is deleted
	// within one.
	Period time.Duration

	reported map[types.UID]bool // Nodes already reported as not in the cloud
}

// Run refreshes every Period until ctx ends.
func (c *Controller) Run(ctx context.Context) {
	t := time.NewTicker(c.Period)
	defer t.Stop()
	for {
		if err := c.Refresh(ctx); err != nil && ctx.Err() == nil {
			c.Logger.Warn("node lifecycle refresh failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Refresh reads the managed groups once and looks at every Node once.
func (c *Controller) Refresh(ctx context.Context) error {
	if err := c.Cloud.Refresh(ctx); err != nil {
		return fmt.Errorf("refresh cloud: %w", err)
	}
	nodes, err := c.Nodes.List(labels.Everything())
	if err != nil {
		return fmt.Errorf("list nodes: %w", err)
	}
	alive, err := aliveMembers(ctx, c.Cloud)
	if err != nil {
		return err
	}
	var errs []error
	notInCloud := 0
	for _, node := range nodes {
		var status InstanceStatus
		if IsCloudProviderID(node.Spec.ProviderID) {
			if status, err = instanceStatus(ctx, c.Cloud, alive, node.Spec.ProviderID); err != nil {
				errs = append(errs, fmt.Errorf("node %s: %w", node.Name, err))
				continue
			}
		}
		action := Decide(node, status)
		switch {
		case action.Reason == ReasonNotInCloud:
			notInCloud++
			c.reportNotInCloud(node, action)
		case action.Delete:
			if err := c.deleteNode(ctx, node, action); err != nil {
				errs = append(errs, err)
			}
		}
	}
	c.Metrics.NotInCloud.Set(float64(notInCloud))
	c.forgetReported(nodes)
	return errors.Join(errs...)
}

// reportNotInCloud says once per Node, with an Event and a log line, that
// node lifecycle leaves it alone.
func (c *Controller) reportNotInCloud(node *corev1.Node, action Action) {
	if c.reported == nil {
		c.reported = map[types.UID]bool{}
	}
	if c.reported[node.UID] {
		return
	}
	c.reported[node.UID] = true
	c.Recorder.Event(node, corev1.EventTypeNormal, action.Reason, action.Message)
	c.Logger.Info("node not in the cloud; left alone", "node", node.Name, "providerID", node.Spec.ProviderID)
}

// forgetReported drops report marks of Nodes that no longer exist.
func (c *Controller) forgetReported(nodes []*corev1.Node) {
	present := make(map[types.UID]bool, len(nodes))
	for _, node := range nodes {
		present[node.UID] = true
	}
	for uid := range c.reported {
		if !present[uid] {
			delete(c.reported, uid)
		}
	}
}

// deleteNode deletes the Node it was given, not a new one of that name.
func (c *Controller) deleteNode(ctx context.Context, node *corev1.Node, action Action) error {
	c.Recorder.Event(node, corev1.EventTypeNormal, "DeletingNode", action.Message)
	uid := node.UID
	err := c.Client.CoreV1().Nodes().Delete(ctx, node.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil // gone already, or replaced by a new Node of that name
	}
	if err != nil {
		return fmt.Errorf("delete node %s: %w", node.Name, err)
	}
	c.Metrics.Deletions.With(prometheus.Labels{"reason": action.Reason}).Inc()
	c.Logger.Info("deleted node of a gone instance", "node", node.Name, "providerID", node.Spec.ProviderID, "reason", action.Reason)
	return nil
}
