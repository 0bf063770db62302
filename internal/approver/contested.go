package approver

import (
	"context"
	"fmt"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ContestedDeleteGrace is how long after denying a contested join
// (ReasonContestedJoin) the controller deletes the denied CSR.
//
// Why delete: a kubelet keeps its bootstrap key across restarts and names
// its CSR after the key (client-go's certificate/csr.RequestCertificate),
// so once restarted it finds its own denied CSR again and exits, on every
// restart, until that CSR is gone; kube-controller-manager's cleaner
// deletes denied CSRs only after about an hour. Deleting it lets the
// restarted kubelet file a fresh CSR of the same name, which kelp decides
// anew.
//
// Why wait: a kubelet waiting on its CSR (client-go's WaitForCertificate)
// must first see the Denied condition through its watch; a CSR deleted
// between its Get and its List can leave it waiting forever. The denial's
// time is read from the condition, which the API server keeps to the
// second, so the deletion comes between grace-1s and grace after it.
const ContestedDeleteGrace = 20 * time.Second

// contestedGrace is c.ContestedGrace, or ContestedDeleteGrace when unset.
func (c *Controller) contestedGrace() time.Duration {
	if c.ContestedGrace > 0 {
		return c.ContestedGrace
	}
	return ContestedDeleteGrace
}

// contestedDenial returns when csr was denied with ReasonContestedJoin,
// and false when it was not (another reason, or not denied).
func contestedDenial(csr *certificatesv1.CertificateSigningRequest) (time.Time, bool) {
	for _, cond := range csr.Status.Conditions {
		if cond.Type != certificatesv1.CertificateDenied || cond.Status != corev1.ConditionTrue || cond.Reason != ReasonContestedJoin {
			continue
		}
		at := cond.LastUpdateTime.Time
		if cond.LastTransitionTime.After(at) {
			at = cond.LastTransitionTime.Time
		}
		if at.IsZero() {
			at = csr.CreationTimestamp.Time
		}
		return at, true
	}
	return time.Time{}, false
}

// deleteContested deletes csr, a denied CSR, once the grace after its
// denial has passed, if and only if it is a new node's client CSR denied
// with ReasonContestedJoin and the controller approves by itself
// (ModeAuto): so the kubelet, restarted, can ask again under the same
// name. It returns how long until the grace ends while it runs. The delete
// is conditional on csr's UID: a CSR of the same name filed meanwhile is
// never deleted. A CSR already gone or replaced is not an error.
func (c *Controller) deleteContested(ctx context.Context, csr *certificatesv1.CertificateSigningRequest) (time.Duration, error) {
	if c.Mode != ModeAuto || Classify(csr) != KindNewNode || ConditionOf(csr) != Denied {
		return 0, nil
	}
	deniedAt, ok := contestedDenial(csr)
	if !ok {
		return 0, nil
	}
	if left := deniedAt.Add(c.contestedGrace()).Sub(c.Clock.Now()); left > 0 {
		return left, nil
	}
	uid := csr.UID
	err := c.Client.CertificatesV1().CertificateSigningRequests().Delete(ctx, csr.Name,
		metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
	switch {
	case apierrors.IsNotFound(err) || apierrors.IsConflict(err):
		return 0, nil // gone, or replaced by a CSR of the same name
	case err != nil:
		return 0, fmt.Errorf("delete contested csr %s: %w", csr.Name, err)
	}
	c.forget(csr)
	msg := fmt.Sprintf("deleted CSR %s, denied %s %s ago, so that its kubelet, restarted, can file a new CSR of the same name and join",
		csr.Name, ReasonContestedJoin, c.Clock.Since(deniedAt).Round(time.Second))
	c.Recorder.Event(csr, corev1.EventTypeNormal, "CSRDeleted", BoundText(msg))
	c.Metrics.ContestedDeleted.Inc()
	c.Logger.Info("contested csr deleted; its kubelet can retry", "csr", csr.Name, "uid", csr.UID, "deniedAt", deniedAt)
	return 0, nil
}
