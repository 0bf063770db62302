// Package deploy holds what runs kelp controller in a cluster: the Helm
// chart (chart/kelp) and controller.yaml, the chart rendered by `make
// chart`. Its tests apply the renders to a real API server and run the
// controller with the chart's ServiceAccount.
package deploy

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"

	"github.com/kelp-dev/kelp/internal/competingapprovers"
	"github.com/kelp-dev/kelp/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func decodeAll(t *testing.T, path string) []runtime.Object {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var objs []runtime.Object
	for _, doc := range strings.Split(string(data), "\n---\n") {
		if onlyComments(doc) {
			continue
		}
		obj, _, err := scheme.Codecs.UniversalDeserializer().Decode([]byte(doc), nil, nil)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		objs = append(objs, obj)
	}
	return objs
}

// onlyComments says whether a YAML document has nothing but comments and
// blank lines (Helm's "# Source:" documents, the file's header).
func onlyComments(doc string) bool {
	for _, l := range strings.Split(doc, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			return false
		}
	}
	return true
}

// TestControllerManifest applies deploy/controller.yaml and checks, with
// SubjectAccessReviews on the real API server, that its service account
// may do what the controller does and nothing beyond.
func TestControllerManifest(t *testing.T) {
	env := testenv.Get(t)
	ctx := context.Background()
	dry := metav1.CreateOptions{}
	for _, obj := range decodeAll(t, "controller.yaml") {
		var err error
		switch o := obj.(type) {
		case *corev1.ServiceAccount:
			_, err = env.Client.CoreV1().ServiceAccounts(o.Namespace).Create(ctx, o, dry)
		case *rbacv1.ClusterRole:
			_, err = env.Client.RbacV1().ClusterRoles().Create(ctx, o, dry)
		case *rbacv1.ClusterRoleBinding:
			_, err = env.Client.RbacV1().ClusterRoleBindings().Create(ctx, o, dry)
		case *rbacv1.Role:
			_, err = env.Client.RbacV1().Roles(o.Namespace).Create(ctx, o, dry)
		case *rbacv1.RoleBinding:
			_, err = env.Client.RbacV1().RoleBindings(o.Namespace).Create(ctx, o, dry)
		case *appsv1.Deployment:
			_, err = env.Client.AppsV1().Deployments(o.Namespace).Create(ctx, o, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		case *policyv1.PodDisruptionBudget:
			_, err = env.Client.PolicyV1().PodDisruptionBudgets(o.Namespace).Create(ctx, o, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		default:
			t.Fatalf("unexpected object %T in controller.yaml", obj)
		}
		if err != nil {
			t.Fatalf("apply %T: %v", obj, err)
		}
	}
	sa := "system:serviceaccount:kube-system:kelp-controller"
	tests := []struct {
		attr authorizationv1.ResourceAttributes
		want bool
	}{
		{authorizationv1.ResourceAttributes{Verb: "watch", Group: "certificates.k8s.io", Resource: "certificatesigningrequests"}, true},
		{authorizationv1.ResourceAttributes{Verb: "update", Group: "certificates.k8s.io", Resource: "certificatesigningrequests", Subresource: "approval"}, true},
		// Contested joins: the denied CSRs are deleted so their kubelets can
		// ask again; nothing else of a CSR is written.
		{authorizationv1.ResourceAttributes{Verb: "delete", Group: "certificates.k8s.io", Resource: "certificatesigningrequests", Name: "node-csr-x"}, true},
		{authorizationv1.ResourceAttributes{Verb: "update", Group: "certificates.k8s.io", Resource: "certificatesigningrequests"}, false},
		{authorizationv1.ResourceAttributes{Verb: "deletecollection", Group: "certificates.k8s.io", Resource: "certificatesigningrequests"}, false},
		{authorizationv1.ResourceAttributes{Verb: "approve", Group: "certificates.k8s.io", Resource: "signers", Name: "kubernetes.io/kube-apiserver-client-kubelet"}, true},
		{authorizationv1.ResourceAttributes{Verb: "approve", Group: "certificates.k8s.io", Resource: "signers", Name: "kubernetes.io/kubelet-serving"}, true},
		{authorizationv1.ResourceAttributes{Verb: "approve", Group: "certificates.k8s.io", Resource: "signers", Name: "kubernetes.io/kube-apiserver-client"}, false},
		{authorizationv1.ResourceAttributes{Verb: "delete", Resource: "nodes"}, true},
		{authorizationv1.ResourceAttributes{Verb: "update", Resource: "nodes"}, true},
		{authorizationv1.ResourceAttributes{Verb: "watch", Resource: "pods"}, true},
		{authorizationv1.ResourceAttributes{Verb: "create", Resource: "pods", Subresource: "eviction", Namespace: "default"}, true},
		{authorizationv1.ResourceAttributes{Verb: "watch", Group: "policy", Resource: "poddisruptionbudgets"}, true},
		{authorizationv1.ResourceAttributes{Verb: "watch", Group: "apps", Resource: "daemonsets"}, true},
		{authorizationv1.ResourceAttributes{Verb: "watch", Resource: "persistentvolumes"}, true},
		{authorizationv1.ResourceAttributes{Verb: "update", Resource: "pods", Namespace: "default"}, false},
		{authorizationv1.ResourceAttributes{Verb: "update", Resource: "configmaps", Namespace: "default"}, false},
		{authorizationv1.ResourceAttributes{Verb: "create", Resource: "secrets", Namespace: "kube-system"}, true},
		{authorizationv1.ResourceAttributes{Verb: "get", Resource: "secrets", Namespace: "default"}, false},
		{authorizationv1.ResourceAttributes{Verb: "update", Resource: "configmaps", Namespace: "kube-system"}, true},
		{authorizationv1.ResourceAttributes{Verb: "update", Group: "coordination.k8s.io", Resource: "leases", Namespace: "kube-system"}, true},
		{authorizationv1.ResourceAttributes{Verb: "delete", Resource: "pods", Namespace: "default"}, false},
		// Competing approvers: SubjectAccessReviews, the bindings and roles
		// to name (read only), Events on kube-system/kelp-status.
		{authorizationv1.ResourceAttributes{Verb: "create", Group: "authorization.k8s.io", Resource: "subjectaccessreviews"}, true},
		{authorizationv1.ResourceAttributes{Verb: "list", Group: "rbac.authorization.k8s.io", Resource: "clusterrolebindings"}, true},
		{authorizationv1.ResourceAttributes{Verb: "list", Group: "rbac.authorization.k8s.io", Resource: "clusterroles"}, true},
		{authorizationv1.ResourceAttributes{Verb: "create", Group: "rbac.authorization.k8s.io", Resource: "clusterrolebindings"}, false},
		{authorizationv1.ResourceAttributes{Verb: "delete", Group: "rbac.authorization.k8s.io", Resource: "clusterrolebindings"}, false},
		{authorizationv1.ResourceAttributes{Verb: "create", Resource: "events", Namespace: "kube-system"}, true},
		{authorizationv1.ResourceAttributes{Verb: "create", Resource: "configmaps", Namespace: "kube-system", Name: "kelp-status"}, true},
	}
	for _, tt := range tests {
		attr := tt.attr
		review, err := env.Client.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{
			Spec: authorizationv1.SubjectAccessReviewSpec{User: sa, Groups: []string{"system:serviceaccounts", "system:serviceaccounts:kube-system"}, ResourceAttributes: &attr},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if review.Status.Allowed != tt.want {
			t.Errorf("%s %s/%s %s in %q: allowed=%v, want %v", attr.Verb, attr.Resource, attr.Subresource, attr.Name, attr.Namespace, review.Status.Allowed, tt.want)
		}
	}
}

// TestControllerManifestCanCheckCompetingApprovers runs the competing
// approvers check as the manifest's service account beside a binding that
// lets bootstrap tokens create certificatesigningrequests/nodeclient: the
// SubjectAccessReviews and the listing that names the binding must all be
// allowed.
func TestControllerManifestCanCheckCompetingApprovers(t *testing.T) {
	env := testenv.Get(t)
	ctx := context.Background()
	for _, obj := range decodeAll(t, "controller.yaml") {
		var err error
		switch o := obj.(type) {
		case *rbacv1.ClusterRole:
			_, err = env.Client.RbacV1().ClusterRoles().Create(ctx, o, metav1.CreateOptions{})
		case *rbacv1.ClusterRoleBinding:
			_, err = env.Client.RbacV1().ClusterRoleBindings().Create(ctx, o, metav1.CreateOptions{})
		}
		if err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatalf("apply %T: %v", obj, err)
		}
	}
	const name = "auto-approve-csrs-for-group"
	if _, err := env.Client.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "system:certificates.k8s.io:certificatesigningrequests:nodeclient"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: "system:bootstrappers"}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := env.Client.RbacV1().ClusterRoleBindings().Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
			t.Error(err)
		}
	}()
	cfg := rest.CopyConfig(env.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: "system:serviceaccount:kube-system:kelp-controller",
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"}}
	checker := competingapprovers.Checker{Client: kubernetes.NewForConfigOrDie(cfg)}
	var lastErr error
	testenv.EventuallyTrue(t, 30*time.Second, "the check, as kelp-controller, to name "+name, func() bool {
		r, err := checker.Check(ctx, nil)
		lastErr = err
		f, ok := r.Fatal()
		return err == nil && ok && len(f.Grants) == 1 && f.Grants[0].Binding == name
	})
	if lastErr != nil {
		t.Errorf("last check: %v", lastErr)
	}
}
