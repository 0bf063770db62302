package difftest

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"
)

// Labels and resources the harness owns.
const (
	// labelScenario marks a scenario's nodes; every probe selects it.
	labelScenario = "difftest.kelp.dev/scenario"
	// pinPrefix prefixes the per-node extended resource that pins a copy of
	// the probe to one node.
	pinPrefix  = "difftest.kelp.dev/pin-"
	pauseImage = "registry.k8s.io/pause:3.10"
	// runtimeClassOverhead is a RuntimeClass with a pod overhead; the
	// RuntimeClass admission plugin copies it into pods that name it.
	runtimeClassOverhead = "difftest-overhead"
)

// ensureRuntimeClass creates the RuntimeClass named runtimeClassOverhead
// unless it exists.
func ensureRuntimeClass(ctx context.Context, client kubernetes.Interface) error {
	rc := &nodev1.RuntimeClass{
		ObjectMeta: metav1.ObjectMeta{Name: runtimeClassOverhead},
		Handler:    "runc",
		Overhead:   &nodev1.Overhead{PodFixed: resources("cpu", "250m", "memory", "512Mi")},
	}
	_, err := client.NodeV1().RuntimeClasses().Create(ctx, rc, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create runtime class %s: %w", rc.Name, err)
	}
	return nil
}

// resourceGPU is an extended resource some nodes offer and some pods
// request.
const resourceGPU corev1.ResourceName = "example.com/gpu"

// scenario is one differential case: nodes, pods already bound to them,
// and the probe pod whose fit is compared. Nodes carry their final names;
// pods carry no namespace (the harness sets it).
type scenario struct {
	ID    string
	Nodes []*corev1.Node
	Bound []boundPod
	Probe *corev1.Pod
}

// boundPod is a pod bound to a node before the probe.
type boundPod struct {
	Pod *corev1.Pod
	// Terminating pods are deleted with a long grace period after they are
	// bound: without a kubelet they stay, with a deletionTimestamp.
	Terminating bool
}

// pinResource is the extended resource only the named node offers.
func pinResource(node string) corev1.ResourceName {
	return corev1.ResourceName(pinPrefix + node)
}

// newNode returns a Ready node of the scenario with the hostname and
// scenario labels, the given allocatable (also its capacity) and its pin
// resource.
func newNode(scenarioID, name string, labels map[string]string, alloc corev1.ResourceList) *corev1.Node {
	l := map[string]string{corev1.LabelHostname: name, labelScenario: scenarioID}
	for k, v := range labels {
		l[k] = v
	}
	a := alloc.DeepCopy()
	a[pinResource(name)] = resource.MustParse("1")
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: l},
		Status: corev1.NodeStatus{
			Capacity:    a,
			Allocatable: a.DeepCopy(),
			Conditions: []corev1.NodeCondition{{
				Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady",
				LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now(),
			}},
		},
	}
}

// cordon marks n unschedulable with the taint the node lifecycle
// controller adds to cordoned nodes.
func cordon(n *corev1.Node) {
	n.Spec.Unschedulable = true
	n.Spec.Taints = append(n.Spec.Taints, corev1.Taint{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule})
}

// newPod returns a pod with one pause container requesting req; extended
// resources get a limit equal to the request, as validation demands.
func newPod(name string, labels map[string]string, req corev1.ResourceList) *corev1.Pod {
	var limits corev1.ResourceList
	if q, ok := req[resourceGPU]; ok {
		limits = corev1.ResourceList{resourceGPU: q}
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "c", Image: pauseImage, Resources: corev1.ResourceRequirements{Requests: req, Limits: limits},
		}}},
	}
}

// resources builds a ResourceList from name, quantity pairs; empty
// quantities are skipped.
func resources(kv ...string) corev1.ResourceList {
	out := corev1.ResourceList{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			out[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
		}
	}
	return out
}

// scenarioView is the readable form of a scenario printed on a mismatch.
type scenarioView struct {
	ID    string     `json:"id"`
	Nodes []nodeView `json:"nodes"`
	Bound []podView  `json:"bound,omitempty"`
	Probe podView    `json:"probe"`
}

type nodeView struct {
	Name          string              `json:"name"`
	Labels        map[string]string   `json:"labels,omitempty"`
	Unschedulable bool                `json:"unschedulable,omitempty"`
	Taints        []corev1.Taint      `json:"taints,omitempty"`
	Allocatable   corev1.ResourceList `json:"allocatable"`
}

type podView struct {
	Name        string            `json:"name"`
	Labels      map[string]string `json:"labels,omitempty"`
	Terminating bool              `json:"terminating,omitempty"`
	Spec        corev1.PodSpec    `json:"spec"`
}

// YAML renders the scenario for a failure message.
func (s *scenario) YAML() string {
	v := scenarioView{ID: s.ID, Probe: viewPod(s.Probe, false)}
	for _, n := range s.Nodes {
		v.Nodes = append(v.Nodes, nodeView{
			Name: n.Name, Labels: n.Labels, Unschedulable: n.Spec.Unschedulable,
			Taints: n.Spec.Taints, Allocatable: n.Status.Allocatable,
		})
	}
	for _, b := range s.Bound {
		v.Bound = append(v.Bound, viewPod(b.Pod, b.Terminating))
	}
	out, err := yaml.Marshal(v)
	if err != nil {
		return fmt.Sprintf("render scenario %s: %v", s.ID, err)
	}
	return string(out)
}

func viewPod(p *corev1.Pod, terminating bool) podView {
	return podView{Name: p.Name, Labels: p.Labels, Terminating: terminating, Spec: p.Spec}
}
