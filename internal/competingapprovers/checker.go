package competingapprovers

import (
	"context"
	"fmt"

	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Checker asks the API server the probes' questions. It needs create on
// subjectaccessreviews and, to name the bindings of a finding, list on
// clusterrolebindings and clusterroles.
type Checker struct {
	Client kubernetes.Interface
}

// Check asks every probe of pools and evaluates the answers; the
// ClusterRoleBindings and ClusterRoles are read only when a probe was
// allowed.
func (c Checker) Check(ctx context.Context, pools []string) (Report, error) {
	probes := Probes(pools)
	answers := make([]Answer, 0, len(probes))
	var allowed bool
	for _, p := range probes {
		attr := p.Attributes()
		review, err := c.Client.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{
			Spec: authorizationv1.SubjectAccessReviewSpec{User: p.User, Groups: p.Groups, ResourceAttributes: &attr},
		}, metav1.CreateOptions{})
		if err != nil {
			return Report{}, fmt.Errorf("ask whether %s may create certificatesigningrequests/%s: %w%s", p.User, p.Check, err, rbacHint(err))
		}
		allowed = allowed || review.Status.Allowed
		answers = append(answers, Answer{Probe: p, Allowed: review.Status.Allowed, Reason: review.Status.Reason})
	}
	if !allowed {
		return Evaluate(answers, nil, nil), nil
	}
	bindings, err := c.Client.RbacV1().ClusterRoleBindings().List(ctx, metav1.ListOptions{})
	if err != nil {
		return Report{}, fmt.Errorf("list clusterrolebindings: %w%s", err, rbacHint(err))
	}
	roles, err := c.Client.RbacV1().ClusterRoles().List(ctx, metav1.ListOptions{})
	if err != nil {
		return Report{}, fmt.Errorf("list clusterroles: %w%s", err, rbacHint(err))
	}
	return Evaluate(answers, bindings.Items, roles.Items), nil
}

// rbacHint points a forbidden error at the manifest that grants the
// checks' permissions.
func rbacHint(err error) string {
	if apierrors.IsForbidden(err) {
		return " (kelp's ClusterRole needs create on subjectaccessreviews and list on clusterrolebindings and clusterroles: see deploy/controller.yaml)"
	}
	return ""
}
