package webview

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"

	"github.com/kelp-dev/kelp/internal/testenv"
)

// TestAuthOffLoopback: bound off loopback, the view's data is refused
// without a token (401), with a token that is not valid (401), with one
// whose user may not get /kelp/view (403), and served with one that may;
// the page itself needs none.
func TestAuthOffLoopback(t *testing.T) {
	env := testenv.Get(t)
	ns := env.Namespace(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	token := func(sa string) string {
		t.Helper()
		if _, err := env.Client.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		tr, err := env.Client.CoreV1().ServiceAccounts(ns).CreateToken(ctx, sa, &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return tr.Status.Token
	}
	viewer, stranger := token("viewer"), token("stranger")
	role := "kelp-view-" + rand.String(5)
	_, err := env.Client.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: role},
		Rules: []rbacv1.PolicyRule{{NonResourceURLs: []string{ViewPath}, Verbs: []string{ViewVerb}}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = env.Client.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: role},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: "viewer"}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = env.Client.RbacV1().ClusterRoleBindings().Delete(context.Background(), role, metav1.DeleteOptions{})
		_ = env.Client.RbacV1().ClusterRoles().Delete(context.Background(), role, metav1.DeleteOptions{})
	})
	base, reg := startServer(t, "0.0.0.0:0", "kelp-status-none")

	for _, tt := range []struct {
		name, token string
		want        int
	}{{"no token", "", http.StatusUnauthorized}, {"invalid token", "not-a-token", http.StatusUnauthorized},
		{"token without the permission", stranger, http.StatusForbidden}} {
		if _, code, err := getView(ctx, base, tt.token); err != nil || code != tt.want {
			t.Fatalf("%s: status %d (%v), want %d", tt.name, code, err, tt.want)
		}
	}
	// The binding is read by the API server's authorizer from its cache.
	testenv.Eventually(t, time.Minute, "the viewer's token is served", func(ctx context.Context) (bool, error) {
		_, code, err := getView(ctx, base, viewer)
		return err == nil && code == http.StatusOK, nil
	})
	resp, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the page without a token: %d, want 200", resp.StatusCode)
	}
	if n := counterValue(t, reg, "kelp_web_requests_total", map[string]string{"path": "/api/view", "code": "403"}); n != 1 {
		t.Fatalf("kelp_web_requests_total{path=/api/view,code=403} = %v, want 1", n)
	}
}

func counterValue(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if v, ok := labels[l.GetName()]; ok && v != l.GetValue() {
					continue metrics
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}
