package bootstrap

import (
	"context"
	"errors"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/kelp-dev/kelp/internal/testenv"
)

// tokenSecret returns a valid kelp token Secret created at created.
func tokenSecret(t *testing.T, pool string, created time.Time) (*corev1.Secret, Token) {
	t.Helper()
	s, tok, err := NewTokenSecret(TokenSpec{Pool: pool, TTL: time.Hour}, created)
	if err != nil {
		t.Fatalf("NewTokenSecret: %v", err)
	}
	s.CreationTimestamp = metav1.NewTime(created)
	tok.Created = s.CreationTimestamp.Time
	return s, tok
}

func TestListTokensFiltersAndSorts(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	late, lateTok := tokenSecret(t, "late", base.Add(2*time.Hour))
	early, earlyTok := tokenSecret(t, "early", base)
	kubeadm, _ := tokenSecret(t, "x", base)
	kubeadm.Data["auth-extra-groups"] = []byte("system:bootstrappers:kubeadm:default-node-token")
	opaque := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "other", Namespace: "kube-system"}}
	elsewhere, _ := tokenSecret(t, "elsewhere", base)
	elsewhere.Namespace = "default"

	client := fake.NewClientset(late, early, kubeadm, opaque, elsewhere)
	got, err := ListTokens(context.Background(), client)
	if err != nil {
		t.Fatalf("ListTokens: %v", err)
	}
	if len(got) != 2 || got[0] != earlyTok || got[1] != lateTok {
		t.Errorf("ListTokens = %+v, want [%+v %+v]", got, earlyTok, lateTok)
	}
}

func TestListTokensReportsMalformedKelpToken(t *testing.T) {
	bad, _ := tokenSecret(t, "p", time.Now())
	bad.Data["expiration"] = []byte("soon")
	_, err := ListTokens(context.Background(), fake.NewClientset(bad))
	testenv.ErrorContains(t, err, bad.Name, "expiration")
}

func TestCreateToken(t *testing.T) {
	ctx := context.Background()
	client := fake.NewClientset()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tok, err := CreateToken(ctx, client, TokenSpec{Pool: "workers", TTL: time.Hour}, now)
	if err != nil {
		t.Fatalf("CreateToken: %v", err)
	}
	s, err := client.CoreV1().Secrets("kube-system").Get(ctx, "bootstrap-token-"+tok.ID, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get created secret: %v", err)
	}
	if string(s.Data["token-secret"]) != tok.Secret || tok.Pool != "workers" {
		t.Errorf("stored secret %v does not match token %+v", s.Data, tok)
	}
	_, err = CreateToken(ctx, client, TokenSpec{Pool: "Bad"}, now)
	testenv.ErrorContains(t, err, "pool", "ttl")
}

func TestDeleteToken(t *testing.T) {
	ctx := context.Background()
	mine, tok := tokenSecret(t, "p", time.Now())
	foreign, foreignTok := tokenSecret(t, "q", time.Now())
	foreign.Data["auth-extra-groups"] = []byte("system:bootstrappers:kubeadm:default-node-token")
	broken, brokenTok := tokenSecret(t, "r", time.Now())
	broken.Data["expiration"] = []byte("never")
	client := fake.NewClientset(mine, foreign, broken)

	tests := []struct {
		name    string
		id      string
		wantErr string
		is      error
	}{
		{"malformed id", "ABC", `"ABC"`, nil},
		{"full token", tok.String(), tok.ID, nil},
		{"not found", "zzzzzz", "zzzzzz", ErrTokenNotFound},
		{"foreign token", foreignTok.ID, foreignTok.ID, ErrNotKelpToken},
		{"kelp token", tok.ID, "", nil},
		{"malformed kelp token", brokenTok.ID, "", nil},
		{"already deleted", tok.ID, tok.ID, ErrTokenNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := DeleteToken(ctx, client, tt.id)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("DeleteToken: %v", err)
				}
				_, gerr := client.CoreV1().Secrets("kube-system").Get(ctx, "bootstrap-token-"+tt.id, metav1.GetOptions{})
				if !apierrors.IsNotFound(gerr) {
					t.Errorf("secret still present after delete: %v", gerr)
				}
				return
			}
			testenv.ErrorContains(t, err, tt.wantErr)
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("DeleteToken(%q) error %v does not wrap %v", tt.id, err, tt.is)
			}
		})
	}
	if _, err := client.CoreV1().Secrets("kube-system").Get(ctx, foreign.Name, metav1.GetOptions{}); err != nil {
		t.Errorf("foreign token was deleted: %v", err)
	}
}
