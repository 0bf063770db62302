package terminationctl

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"

	"github.com/kelp-dev/kelp/internal/termination"
)

// A warning (a spot interruption, a rebalance recommendation, a scheduled
// change) arrives once, from the interruption queue, before any hook holds
// the instance. It is kept on the Node, so a restarted controller resumes
// its drain with the same cause and deadline.
const (
	// AnnotationWarningCause is the warning's termination.Cause.
	AnnotationWarningCause = "kelp.dev/departure-cause"
	// AnnotationWarningDeadline is when the instance goes whatever kelp
	// does (RFC 3339); absent when the warning has none.
	AnnotationWarningDeadline = "kelp.dev/departure-deadline"
	// AnnotationWarningNoticed is when the warning was sent (RFC 3339).
	AnnotationWarningNoticed = "kelp.dev/departure-noticed"
)

// warningRank orders the causes of warnings: a stronger warning replaces
// a weaker one of the same instance, never the reverse.
var warningRank = map[termination.Cause]int{
	termination.CauseRebalanceRecommendation: 1,
	termination.CauseScheduledChange:         2,
	termination.CauseSpotInterruption:        3,
}

// stronger reports whether warning w replaces old: a stronger cause, or
// the same cause sent later.
func stronger(w, old termination.Departure) bool {
	if old.Cause == "" {
		return true
	}
	if r, o := warningRank[w.Cause], warningRank[old.Cause]; r != o {
		return r > o
	}
	return w.NoticedAt.After(old.NoticedAt)
}

// warningOf reads the warning kept on node, ok false when it has none or
// it is unreadable. InstanceID is left to the caller.
func warningOf(node *corev1.Node) (termination.Departure, bool) {
	cause := termination.Cause(node.Annotations[AnnotationWarningCause])
	if _, known := warningRank[cause]; !known {
		return termination.Departure{}, false
	}
	w := termination.Departure{Cause: cause}
	var err error
	if w.NoticedAt, err = time.Parse(time.RFC3339, node.Annotations[AnnotationWarningNoticed]); err != nil {
		return termination.Departure{}, false
	}
	if s := node.Annotations[AnnotationWarningDeadline]; s != "" {
		if w.Deadline, err = time.Parse(time.RFC3339, s); err != nil {
			return termination.Departure{}, false
		}
	}
	return w, true
}

// warningAnnotations are the annotations that keep w.
func warningAnnotations(w termination.Departure) map[string]string {
	a := map[string]string{
		AnnotationWarningCause:   string(w.Cause),
		AnnotationWarningNoticed: w.NoticedAt.UTC().Format(time.RFC3339),
	}
	if !w.Deadline.IsZero() {
		a[AnnotationWarningDeadline] = w.Deadline.UTC().Format(time.RFC3339)
	}
	return a
}

// keepWarning writes w on the Node unless it holds a stronger warning
// already.
func keepWarning(ctx context.Context, client kubernetes.Interface, name string, w termination.Departure) error {
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		node, err := client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if old, ok := warningOf(node); ok && !stronger(w, old) {
			return nil
		}
		if node.Annotations == nil {
			node.Annotations = map[string]string{}
		}
		delete(node.Annotations, AnnotationWarningDeadline)
		for k, v := range warningAnnotations(w) {
			node.Annotations[k] = v
		}
		_, err = client.CoreV1().Nodes().Update(ctx, node, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("keep %s warning on node %s: %w", w.Cause, name, err)
	}
	return nil
}
