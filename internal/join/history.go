package join

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kelp-dev/kelp/internal/approver"
)

// KubeHistory is the cluster's [History]: an instance joined when a Node
// of its node name exists or when the approver's record holds an approved
// new-node CSR of it. Each call reads the API server (any replica may
// answer a join, and the record is written by the leader).
type KubeHistory struct {
	Client kubernetes.Interface
}

var _ History = KubeHistory{}

// Joined implements History.
func (h KubeHistory) Joined(ctx context.Context, instanceID, nodeName string) (string, error) {
	_, err := h.Client.CoreV1().Nodes().Get(ctx, nodeName, metav1.GetOptions{})
	switch {
	case err == nil:
		return fmt.Sprintf("node %s exists", nodeName), nil
	case !apierrors.IsNotFound(err):
		return "", fmt.Errorf("get node %s: %w", nodeName, err)
	}
	rec := &approver.ApprovalRecord{Client: h.Client}
	approvals, err := rec.Approvals(ctx)
	if err != nil {
		return "", fmt.Errorf("read approval record: %w", err)
	}
	if a, ok := approvals[instanceID]; ok {
		return fmt.Sprintf("kelp approved its CSR %s at %s", a.CSRName, a.At.UTC().Format("2006-01-02T15:04:05Z")), nil
	}
	return "", nil
}
