package terminationctl

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
)

const (
	// StatusConfigMap is kelp's status ConfigMap in kube-system, shared
	// with the autoscaler (key "status") and the competing-approver checks
	// (key "competingApprovers").
	StatusConfigMap = "kelp-status"
	// StatusKey is the key the drain controller writes: the drains in
	// progress as a JSON list of DrainStatus, absent when there are none.
	StatusKey = "drains"
)

// DrainStatus is one drain in progress, as the status ConfigMap shows it.
type DrainStatus struct {
	Node     string    `json:"node,omitempty"`
	Instance string    `json:"instance"`
	Group    string    `json:"group,omitempty"`
	Cause    string    `json:"cause"`
	Started  time.Time `json:"started,omitzero"`
	Deadline time.Time `json:"deadline,omitzero"`
	PodsLeft int       `json:"podsLeft"`
	Reason   string    `json:"reason"`
}

// renderDrains is the StatusKey value of drains, sorted by instance; ""
// when there are none.
func renderDrains(drains []DrainStatus) (string, error) {
	if len(drains) == 0 {
		return "", nil
	}
	drains = slices.Clone(drains)
	slices.SortFunc(drains, func(a, b DrainStatus) int { return strings.Compare(a.Instance, b.Instance) })
	body, err := json.MarshalIndent(drains, "", "  ")
	if err != nil {
		return "", fmt.Errorf("render drains: %w", err)
	}
	return string(body), nil
}

// statusWriter writes StatusKey of the status ConfigMap when its content
// changed, and removes it when no drain is in progress. It writes the way
// competingapprovers' writer does: read, change its own key, update, on
// conflict again.
type statusWriter struct {
	last    string
	written bool
}

func (w *statusWriter) write(ctx context.Context, client kubernetes.Interface, drains []DrainStatus) error {
	body, err := renderDrains(drains)
	if err != nil || (w.written && body == w.last) {
		return err
	}
	cms := client.CoreV1().ConfigMaps(metav1.NamespaceSystem)
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cm, err := cms.Get(ctx, StatusConfigMap, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err) && body == "":
			return nil
		case apierrors.IsNotFound(err):
			cm = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: metav1.NamespaceSystem, Name: StatusConfigMap,
				Labels: map[string]string{"app.kubernetes.io/managed-by": "kelp"}}, Data: map[string]string{StatusKey: body}}
			_, err = cms.Create(ctx, cm, metav1.CreateOptions{})
			if apierrors.IsAlreadyExists(err) {
				return apierrors.NewConflict(corev1.Resource("configmaps"), StatusConfigMap, err)
			}
			return err
		case err != nil:
			return err
		}
		if _, has := cm.Data[StatusKey]; cm.Data[StatusKey] == body && (has || body == "") {
			return nil
		}
		cm = cm.DeepCopy()
		if body == "" {
			delete(cm.Data, StatusKey)
		} else {
			if cm.Data == nil {
				cm.Data = map[string]string{}
			}
			cm.Data[StatusKey] = body
		}
		_, err = cms.Update(ctx, cm, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("write configmap kube-system/%s: %w", StatusConfigMap, err)
	}
	w.last, w.written = body, true
	return nil
}
