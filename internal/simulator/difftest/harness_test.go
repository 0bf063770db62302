package difftest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/kelp-dev/kelp/internal/simulator"
)

// Polling of the scheduler's verdict and of deletions.
const (
	pollInterval = 20 * time.Millisecond
	pollTimeout  = 30 * time.Second
)

// controlPlaneTolerations make probes indifferent to the taints the node
// lifecycle controller puts on nodes without a kubelet.
var controlPlaneTolerations = []corev1.Toleration{
	{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists},
	{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists},
}

// harness runs scenarios on the test control plane.
type harness struct {
	client kubernetes.Interface
	// logf reports what does not fail a scenario (cleanup problems).
	logf func(format string, args ...any)
}

// verdict is the scheduler's answer for a copy of the probe pinned to one
// node.
type verdict struct {
	Fits bool
	// Message is the scheduler's PodScheduled message when it does not fit.
	Message string
}

// mismatch is a node where the scheduler and the simulator disagree twice.
type mismatch struct {
	Node      string
	Scheduler verdict
	SimFits   bool
	SimReason simulator.Reason
}

func (m mismatch) String() string {
	if m.SimFits {
		return fmt.Sprintf("node %s: simulator says fits, scheduler says %q", m.Node, m.Scheduler.Message)
	}
	return fmt.Sprintf("node %s: simulator says %q, scheduler placed the pod", m.Node, m.SimReason)
}

// outcome is the result of one scenario.
type outcome struct {
	Scenario *scenario
	// Unsupported is the simulator's reason for not modelling the probe;
	// nothing was compared then.
	Unsupported simulator.Reason
	// Fit and NoFit count the nodes compared, by the scheduler's verdict.
	Fit, NoFit int
	// SchedulerFit lists the nodes the scheduler placed the probe on, in
	// scenario order.
	SchedulerFit []string
	// Reprobed counts nodes whose first verdict disagreed and the second
	// agreed (scheduler cache lag).
	Reprobed   int
	Mismatches []mismatch
}

// run creates the scenario in a fresh namespace, compares the simulator's
// fit of the probe with the scheduler's verdict on every node, and removes
// what it created.
func (h *harness) run(ctx context.Context, sc *scenario) (*outcome, error) {
	ns := scenarioNamespace(sc.ID)
	defer h.cleanup(ns, sc)
	if err := h.createNamespace(ctx, ns); err != nil {
		return nil, err
	}
	if err := h.createScenario(ctx, ns, sc); err != nil {
		return nil, err
	}
	tmpl := probeTemplate(ns, sc)
	fit, err := h.simulate(ctx, ns, sc, tmpl)
	if err != nil {
		return nil, err
	}
	out := &outcome{Scenario: sc, Unsupported: fit.Unsupported}
	if fit.Unsupported != simulator.ReasonNone {
		return out, nil
	}
	for _, n := range sc.Nodes {
		simFits := slices.Contains(fit.Fit, n.Name)
		v, err := h.probe(ctx, tmpl, n.Name)
		if err != nil {
			return nil, err
		}
		if v.Fits != simFits {
			if v, err = h.probe(ctx, tmpl, n.Name); err != nil {
				return nil, err
			}
			if v.Fits != simFits {
				out.Mismatches = append(out.Mismatches, mismatch{Node: n.Name, Scheduler: v, SimFits: simFits, SimReason: fit.Reasons[n.Name]})
			} else {
				out.Reprobed++
			}
		}
		if v.Fits {
			out.SchedulerFit = append(out.SchedulerFit, n.Name)
			out.Fit++
		} else {
			out.NoFit++
		}
	}
	return out, nil
}

// scenarioNamespace is the namespace of scenario id's pods.
func scenarioNamespace(id string) string { return "difftest-" + id }

// probeTemplate is the probe as created: in ns, selecting the scenario's
// nodes, tolerating the control plane's node taints.
func probeTemplate(ns string, sc *scenario) *corev1.Pod {
	p := sc.Probe.DeepCopy()
	p.Namespace = ns
	if p.Spec.NodeSelector == nil {
		p.Spec.NodeSelector = map[string]string{}
	}
	p.Spec.NodeSelector[labelScenario] = sc.ID
	p.Spec.Tolerations = append(p.Spec.Tolerations, controlPlaneTolerations...)
	return p
}

func (h *harness) createNamespace(ctx context.Context, ns string) error {
	_, err := h.client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("create namespace %s: %w", ns, err)
	}
	// The API server refuses pods until the default ServiceAccount exists.
	err = wait.PollUntilContextTimeout(ctx, pollInterval, pollTimeout, true, func(ctx context.Context) (bool, error) {
		_, err := h.client.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	})
	if err != nil {
		return fmt.Errorf("namespace %s: default service account: %w", ns, err)
	}
	return nil
}

// createScenario creates the nodes and the bound pods, then deletes the
// terminating ones with a long grace period (no kubelet finishes them).
func (h *harness) createScenario(ctx context.Context, ns string, sc *scenario) error {
	for _, n := range sc.Nodes {
		if _, err := h.client.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("create node %s: %w", n.Name, err)
		}
	}
	for _, b := range sc.Bound {
		p := b.Pod.DeepCopy()
		p.Namespace = ns
		if _, err := h.client.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("create bound pod %s/%s: %w", ns, p.Name, err)
		}
		if !b.Terminating {
			continue
		}
		err := h.client.CoreV1().Pods(ns).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](3600)})
		if err != nil {
			return fmt.Errorf("terminate bound pod %s/%s: %w", ns, p.Name, err)
		}
	}
	return nil
}

// simulate builds the snapshot from the objects as the API server stores
// them and asks the simulator where the probe fits.
func (h *harness) simulate(ctx context.Context, ns string, sc *scenario, tmpl *corev1.Pod) (simulator.FitResult, error) {
	snap := simulator.NewSnapshot()
	for _, n := range sc.Nodes {
		node, err := h.client.CoreV1().Nodes().Get(ctx, n.Name, metav1.GetOptions{})
		if err != nil {
			return simulator.FitResult{}, fmt.Errorf("read node %s: %w", n.Name, err)
		}
		if err := snap.AddNode(node); err != nil {
			return simulator.FitResult{}, fmt.Errorf("snapshot: %w", err)
		}
	}
	pods, err := h.client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return simulator.FitResult{}, fmt.Errorf("list pods of %s: %w", ns, err)
	}
	for i := range pods.Items {
		p := &pods.Items[i]
		if err := snap.AddPod(p.Spec.NodeName, simulator.NewPod(simulator.PodInfo{Pod: p})); err != nil {
			return simulator.FitResult{}, fmt.Errorf("snapshot: %w", err)
		}
	}
	nsObj, err := h.client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if err != nil {
		return simulator.FitResult{}, fmt.Errorf("read namespace %s: %w", ns, err)
	}
	snap.SetNamespaceLabels(ns, nsObj.Labels)
	admitted, err := h.client.CoreV1().Pods(ns).Create(ctx, tmpl, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	if err != nil {
		return simulator.FitResult{}, fmt.Errorf("dry-run create probe %s/%s: %w", ns, tmpl.Name, err)
	}
	return simulator.FitNodes(snap, simulator.NewPod(simulator.PodInfo{Pod: admitted})), nil
}

// probe creates a copy of tmpl pinned to node through its pin resource,
// waits for the scheduler's verdict and deletes the copy.
func (h *harness) probe(ctx context.Context, tmpl *corev1.Pod, node string) (verdict, error) {
	p := tmpl.DeepCopy()
	p.Name = "probe-" + node
	c := &p.Spec.Containers[0]
	one := resource.MustParse("1")
	if c.Resources.Requests == nil {
		c.Resources.Requests = corev1.ResourceList{}
	}
	if c.Resources.Limits == nil {
		c.Resources.Limits = corev1.ResourceList{}
	}
	c.Resources.Requests[pinResource(node)] = one
	c.Resources.Limits[pinResource(node)] = one
	pods := h.client.CoreV1().Pods(p.Namespace)
	if _, err := pods.Create(ctx, p, metav1.CreateOptions{}); err != nil {
		return verdict{}, fmt.Errorf("create probe %s/%s: %w", p.Namespace, p.Name, err)
	}
	var v verdict
	err := wait.PollUntilContextTimeout(ctx, pollInterval, pollTimeout, true, func(ctx context.Context) (bool, error) {
		got, err := pods.Get(ctx, p.Name, metav1.GetOptions{})
		if err != nil {
			return false, fmt.Errorf("read probe: %w", err)
		}
		if got.Spec.NodeName != "" {
			if got.Spec.NodeName != node {
				return false, fmt.Errorf("probe pinned to %s was bound to %s", node, got.Spec.NodeName)
			}
			v = verdict{Fits: true}
			return true, nil
		}
		for _, cond := range got.Status.Conditions {
			if cond.Type == corev1.PodScheduled && cond.Status == corev1.ConditionFalse && cond.Reason == corev1.PodReasonUnschedulable {
				v = verdict{Message: cond.Message}
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		return verdict{}, fmt.Errorf("scheduler verdict for %s/%s: %w", p.Namespace, p.Name, err)
	}
	return v, h.deletePod(ctx, p.Namespace, p.Name)
}

// deletePod deletes a pod at once (grace period 0: no kubelet would finish
// a graceful deletion) and waits until it is gone.
func (h *harness) deletePod(ctx context.Context, ns, name string) error {
	pods := h.client.CoreV1().Pods(ns)
	err := pods.Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete pod %s/%s: %w", ns, name, err)
	}
	err = wait.PollUntilContextTimeout(ctx, pollInterval, pollTimeout, true, func(ctx context.Context) (bool, error) {
		_, err := pods.Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("pod %s/%s still there after delete: %w", ns, name, err)
	}
	return nil
}

// cleanup deletes the scenario's pods, nodes and namespace, best effort:
// the control plane is discarded after the test anyway.
func (h *harness) cleanup(ns string, sc *scenario) {
	ctx, cancel := context.WithTimeout(context.Background(), pollTimeout)
	defer cancel()
	var errs []error
	now := metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)}
	if err := h.client.CoreV1().Pods(ns).DeleteCollection(ctx, now, metav1.ListOptions{}); err != nil && !apierrors.IsNotFound(err) {
		errs = append(errs, fmt.Errorf("delete pods of %s: %w", ns, err))
	}
	for _, n := range sc.Nodes {
		if err := h.client.CoreV1().Nodes().Delete(ctx, n.Name, now); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("delete node %s: %w", n.Name, err))
		}
	}
	if err := h.client.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		errs = append(errs, fmt.Errorf("delete namespace %s: %w", ns, err))
	}
	if err := errors.Join(errs...); err != nil {
		// Leftovers cannot change later scenarios: nodes and pods are
		// scoped by scenario label and namespace.
		h.logf("cleanup of scenario %s: %s", sc.ID, strings.ReplaceAll(err.Error(), "\n", "; "))
	}
}
