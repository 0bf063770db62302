package whatif

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"github.com/kelp-dev/kelp/internal/autoscaler"
	"github.com/kelp-dev/kelp/internal/autoscaler/loop"
)

// ListLive lists the objects a simulation reads from an API server, once,
// with list and get calls only; configMaps (namespace/name, e.g. the
// priority expander's) are read when they exist.
func ListLive(ctx context.Context, client kubernetes.Interface, configMaps ...string) (loop.Objects, error) {
	var objs loop.Objects
	for _, s := range listSteps(ctx, client, &objs) {
		if err := s.list(); err != nil {
			return objs, fmt.Errorf("list %s: %w", s.what, err)
		}
	}
	for _, name := range configMaps {
		ns, n, _ := strings.Cut(name, "/")
		cm, err := client.CoreV1().ConfigMaps(ns).Get(ctx, n, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
		case err != nil:
			return objs, fmt.Errorf("get configmap %s: %w", name, err)
		default:
			objs.ConfigMaps = append(objs.ConfigMaps, cm)
		}
	}
	return objs, nil
}

type listStep struct {
	what string
	list func() error
}

// listSteps lists each kind of objs.
func listSteps(ctx context.Context, client kubernetes.Interface, objs *loop.Objects) []listStep {
	all := metav1.ListOptions{}
	core, apps, policy, storage := client.CoreV1(), client.AppsV1(), client.PolicyV1(), client.StorageV1()
	return []listStep{
		{"nodes", func() error {
			l, err := core.Nodes().List(ctx, all)
			objs.Nodes = ptrs(err, func() []corev1.Node { return l.Items })
			return err
		}},
		{"pods", func() error {
			l, err := core.Pods("").List(ctx, all)
			objs.Pods = ptrs(err, func() []corev1.Pod { return l.Items })
			return err
		}},
		{"namespaces", func() error {
			l, err := core.Namespaces().List(ctx, all)
			objs.Namespaces = ptrs(err, func() []corev1.Namespace { return l.Items })
			return err
		}},
		{"daemonsets", func() error {
			l, err := apps.DaemonSets("").List(ctx, all)
			objs.DaemonSets = ptrs(err, func() []appsv1.DaemonSet { return l.Items })
			return err
		}},
		{"poddisruptionbudgets", func() error {
			l, err := policy.PodDisruptionBudgets("").List(ctx, all)
			objs.PDBs = ptrs(err, func() []policyv1.PodDisruptionBudget { return l.Items })
			return err
		}},
		{"persistentvolumes", func() error {
			l, err := core.PersistentVolumes().List(ctx, all)
			objs.PVs = ptrs(err, func() []corev1.PersistentVolume { return l.Items })
			return err
		}},
		{"persistentvolumeclaims", func() error {
			l, err := core.PersistentVolumeClaims("").List(ctx, all)
			objs.PVCs = ptrs(err, func() []corev1.PersistentVolumeClaim { return l.Items })
			return err
		}},
		{"storageclasses", func() error {
			l, err := storage.StorageClasses().List(ctx, all)
			objs.StorageClasses = ptrs(err, func() []storagev1.StorageClass { return l.Items })
			return err
		}},
		{"csinodes", func() error {
			l, err := storage.CSINodes().List(ctx, all)
			objs.CSINodes = ptrs(err, func() []storagev1.CSINode { return l.Items })
			return err
		}},
	}
}

// ptrs returns pointers to a list's items, nil when the list failed.
func ptrs[T any](err error, items func() []T) []*T {
	if err != nil {
		return nil
	}
	it := items()
	out := make([]*T, len(it))
	for i := range it {
		out[i] = &it[i]
	}
	return out
}

// PodHistory reads what past cycles recorded about a pod: its scale-up
// Events (TriggeredScaleUp, NotTriggerScaleUp, ScaleUpBudgetExhausted),
// oldest first, and its line in the status ConfigMap's examples of pods
// not helped.
func PodHistory(ctx context.Context, client kubernetes.Interface, namespace, name string) ([]Record, error) {
	events, err := client.CoreV1().Events(namespace).List(ctx, metav1.ListOptions{
		FieldSelector: "involvedObject.kind=Pod,involvedObject.name=" + name,
	})
	if err != nil {
		return nil, fmt.Errorf("list events of pod %s/%s: %w", namespace, name, err)
	}
	var out []Record
	for _, e := range events.Items {
		switch e.Reason {
		case autoscaler.ReasonTriggeredScaleUp, autoscaler.ReasonNotTriggerScaleUp, autoscaler.ReasonScaleUpBudgetExhausted:
		default:
			continue
		}
		at := e.LastTimestamp.Time
		if at.IsZero() {
			at = e.EventTime.Time
		}
		out = append(out, Record{Time: at.UTC().Format(time.RFC3339), Source: "event", Reason: e.Reason, Message: e.Message, Count: e.Count})
	}
	slices.SortStableFunc(out, func(a, b Record) int { return strings.Compare(a.Time, b.Time) })
	cm, err := client.CoreV1().ConfigMaps(metav1.NamespaceSystem).Get(ctx, loop.StatusConfigMap, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return out, nil
	case err != nil:
		return out, fmt.Errorf("get configmap %s/%s: %w", metav1.NamespaceSystem, loop.StatusConfigMap, err)
	}
	var st autoscaler.Status
	if err := yaml.Unmarshal([]byte(cm.Data["status"]), &st); err != nil {
		return out, fmt.Errorf("parse configmap %s/%s: %w", metav1.NamespaceSystem, loop.StatusConfigMap, err)
	}
	for _, ex := range st.LastDecision.NoScaleUpExamples {
		if ex.Pod == namespace+"/"+name {
			out = append(out, Record{Time: st.LastDecision.Time, Source: "status", Reason: autoscaler.ReasonNotTriggerScaleUp, Message: ex.Reason})
		}
	}
	return out, nil
}
