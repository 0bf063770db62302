package bootstrap_test

import (
	"context"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kelp-dev/kelp/internal/bootstrap"
	"github.com/kelp-dev/kelp/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// tokenClient builds a client from the bootstrap kubeconfig a node would
// receive, so the test covers the kubeconfig too.
func tokenClient(t *testing.T, env *testenv.Env, tok bootstrap.Token) kubernetes.Interface {
	t.Helper()
	data, err := bootstrap.BootstrapKubeconfig(env.Cluster.APIServerURL(), env.Cluster.CACertPEM(), tok)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.RESTConfigFromKubeConfig(data)
	if err != nil {
		t.Fatal(err)
	}
	return kubernetes.NewForConfigOrDie(cfg)
}

func TestTokenJoinsOnlyWithKelpRBAC(t *testing.T) {
	env := testenv.Get(t)
	ctx := context.Background()
	if err := bootstrap.EnsureJoinRBAC(ctx, env.Client); err != nil {
		t.Fatal(err)
	}
	if err := bootstrap.EnsureJoinRBAC(ctx, env.Client); err != nil {
		t.Fatalf("EnsureJoinRBAC is not idempotent: %v", err)
	}
	tok, err := bootstrap.CreateToken(ctx, env.Client, bootstrap.TokenSpec{Pool: "general", TTL: time.Hour}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	client := tokenClient(t, env, tok)

	created, err := testenv.CreateCSR(client, testenv.NodeClientCSR(t, "ip-127-9-0-1.ec2.internal"), 30*time.Second)
	if err != nil {
		t.Fatalf("kelp token could not create a CSR: %v", err)
	}
	if created.Spec.Username != "system:bootstrap:"+tok.ID {
		t.Errorf("requestor %q, want system:bootstrap:%s", created.Spec.Username, tok.ID)
	}
	for _, g := range []string{"system:bootstrappers", "system:bootstrappers:kelp", "system:bootstrappers:kelp:general"} {
		found := false
		for _, have := range created.Spec.Groups {
			found = found || have == g
		}
		if !found {
			t.Errorf("CSR groups %v lack %s", created.Spec.Groups, g)
		}
	}

	// A bootstrap token may create and read CSRs, nothing else.
	for _, attr := range []authorizationv1.ResourceAttributes{
		{Verb: "list", Resource: "nodes"},
		{Verb: "get", Resource: "secrets", Namespace: "kube-system"},
		{Verb: "update", Group: "certificates.k8s.io", Resource: "certificatesigningrequests", Subresource: "approval"},
		{Verb: "create", Group: "certificates.k8s.io", Resource: "certificatesigningrequests", Subresource: "nodeclient"},
	} {
		review, err := client.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authorizationv1.SelfSubjectAccessReview{
			Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &attr},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if review.Status.Allowed {
			t.Errorf("bootstrap token is allowed to %s %s/%s", attr.Verb, attr.Resource, attr.Subresource)
		}
	}
}

func TestForeignBootstrapTokenCannotCreateCSRs(t *testing.T) {
	env := testenv.Get(t)
	ctx := context.Background()
	if err := bootstrap.EnsureJoinRBAC(ctx, env.Client); err != nil {
		t.Fatal(err)
	}
	// A token of another tool: authenticates as system:bootstrappers only.
	_, err := env.Client.CoreV1().Secrets("kube-system").Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "bootstrap-token-zzzzzz"},
		Type:       corev1.SecretTypeBootstrapToken,
		StringData: map[string]string{
			"token-id": "zzzzzz", "token-secret": "zzzzzzzzzzzzzzzz", "usage-bootstrap-authentication": "true",
			"expiration": time.Now().Add(time.Hour).UTC().Format(time.RFC3339),
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	client := tokenClient(t, env, bootstrap.Token{ID: "zzzzzz", Secret: "zzzzzzzzzzzzzzzz"})
	_, err = testenv.CreateCSR(client, testenv.NodeClientCSR(t, "ip-127-9-0-2.ec2.internal"), 10*time.Second)
	if !apierrors.IsForbidden(err) {
		t.Fatalf("a non-kelp bootstrap token got %v creating a CSR, want Forbidden", err)
	}
}

func TestExpiredAndDeletedTokensAreRefused(t *testing.T) {
	env := testenv.Get(t)
	ctx := context.Background()
	if err := bootstrap.EnsureJoinRBAC(ctx, env.Client); err != nil {
		t.Fatal(err)
	}
	expired, err := bootstrap.CreateToken(ctx, env.Client, bootstrap.TokenSpec{Pool: "general", TTL: time.Minute}, time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := testenv.CreateCSR(tokenClient(t, env, expired), testenv.NodeClientCSR(t, "ip-127-9-0-3.ec2.internal"), 5*time.Second); !apierrors.IsUnauthorized(err) {
		t.Errorf("expired token: got %v, want Unauthorized", err)
	}

	deleted, err := bootstrap.CreateToken(ctx, env.Client, bootstrap.TokenSpec{Pool: "general", TTL: time.Hour}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	client := tokenClient(t, env, deleted)
	if _, err := testenv.CreateCSR(client, testenv.NodeClientCSR(t, "ip-127-9-0-4.ec2.internal"), 30*time.Second); err != nil {
		t.Fatalf("fresh token refused: %v", err)
	}
	if err := bootstrap.DeleteToken(ctx, env.Client, deleted.ID); err != nil {
		t.Fatal(err)
	}
	// The authenticator reads tokens through an informer: poll until the
	// deletion reaches it.
	testenv.Eventually(t, 30*time.Second, "the deleted token refused", func(ctx context.Context) (bool, error) {
		_, err := client.CertificatesV1().CertificateSigningRequests().Create(ctx, testenv.NodeClientCSR(t, "ip-127-9-0-5.ec2.internal"), metav1.CreateOptions{})
		return apierrors.IsUnauthorized(err), nil
	})
}

func TestListAndDeleteTokens(t *testing.T) {
	env := testenv.Get(t)
	ctx := context.Background()
	tok, err := bootstrap.CreateToken(ctx, env.Client, bootstrap.TokenSpec{Pool: "listed", TTL: time.Hour, Description: "for the list test"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := bootstrap.ListTokens(ctx, env.Client)
	if err != nil {
		t.Fatal(err)
	}
	var found *bootstrap.Token
	for i := range tokens {
		if tokens[i].ID == tok.ID {
			found = &tokens[i]
		}
	}
	if found == nil {
		t.Fatalf("created token %s not listed in %v", tok.ID, tokens)
	}
	if found.Pool != "listed" || found.Description != "for the list test" || found.Created.IsZero() {
		t.Errorf("listed token = %+v", *found)
	}
	if err := bootstrap.DeleteToken(ctx, env.Client, tok.ID); err != nil {
		t.Fatal(err)
	}
	if err := bootstrap.DeleteToken(ctx, env.Client, tok.ID); err == nil {
		t.Error("deleting a deleted token succeeded")
	}
}
