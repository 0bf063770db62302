package bootstrap

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kelp-dev/kelp/internal/testenv"
)

var (
	tokenRE   = regexp.MustCompile(`^[a-z0-9]{6}\.[a-z0-9]{16}$`)
	testNow   = time.Date(2026, 3, 4, 5, 6, 7, 890, time.FixedZone("X", 3600))
	validSpec = TokenSpec{Pool: "workers", TTL: 30 * time.Minute, Description: "for tests"}
)

func TestNewTokenSecretFormat(t *testing.T) {
	seen := map[string]bool{}
	for range 20 {
		s, tok, err := NewTokenSecret(validSpec, testNow)
		if err != nil {
			t.Fatalf("NewTokenSecret: %v", err)
		}
		if !tokenRE.MatchString(tok.String()) {
			t.Errorf("token %q does not match %s", tok.String(), tokenRE)
		}
		if seen[tok.ID] {
			t.Errorf("token id %q generated twice", tok.ID)
		}
		seen[tok.ID] = true
		if s.Name != "bootstrap-token-"+tok.ID {
			t.Errorf("secret name = %q, want bootstrap-token-%s", s.Name, tok.ID)
		}
	}
}

func TestNewTokenSecretContents(t *testing.T) {
	s, tok, err := NewTokenSecret(validSpec, testNow)
	if err != nil {
		t.Fatalf("NewTokenSecret: %v", err)
	}
	if s.Namespace != "kube-system" || s.Type != "bootstrap.kubernetes.io/token" {
		t.Errorf("secret %s/%s type %q, want kube-system and bootstrap.kubernetes.io/token", s.Namespace, s.Name, s.Type)
	}
	want := map[string]string{
		"token-id":                       tok.ID,
		"token-secret":                   tok.Secret,
		"usage-bootstrap-authentication": "true",
		"expiration":                     "2026-03-04T04:36:07Z",
		"description":                    "for tests",
		"auth-extra-groups":              "system:bootstrappers:kelp,system:bootstrappers:kelp:workers",
	}
	if len(s.Data) != len(want) {
		t.Errorf("secret has %d keys, want %d: %v", len(s.Data), len(want), keys(s.Data))
	}
	for k, v := range want {
		if got := string(s.Data[k]); got != v {
			t.Errorf("data[%q] = %q, want %q", k, got, v)
		}
	}
	if len(s.StringData) != 0 {
		t.Errorf("stringData must be empty, got %v", s.StringData)
	}
	wantTok := Token{ID: tok.ID, Secret: tok.Secret, Pool: "workers", Description: "for tests",
		Expires: time.Date(2026, 3, 4, 4, 36, 7, 0, time.UTC), Created: testNow}
	if tok != wantTok {
		t.Errorf("token = %+v, want %+v", tok, wantTok)
	}
	if tok.Expired(tok.Expires.Add(-time.Second)) || !tok.Expired(tok.Expires) {
		t.Errorf("Expired is wrong around %s", tok.Expires)
	}
}

func TestNewTokenSecretDefaultDescription(t *testing.T) {
	s, _, err := NewTokenSecret(TokenSpec{Pool: "gpu", TTL: time.Hour}, testNow)
	if err != nil {
		t.Fatalf("NewTokenSecret: %v", err)
	}
	if got := string(s.Data["description"]); !strings.Contains(got, "gpu") {
		t.Errorf("default description %q does not name the pool", got)
	}
}

func TestTokenSpecValidate(t *testing.T) {
	tests := []struct {
		name string
		spec TokenSpec
		want []string // substrings of the error; nil means valid
	}{
		{"valid", validSpec, nil},
		{"empty pool", TokenSpec{TTL: time.Hour}, []string{"pool"}},
		{"uppercase pool", TokenSpec{Pool: "Workers", TTL: time.Hour}, []string{`pool "Workers"`, "DNS-1123"}},
		{"dotted pool", TokenSpec{Pool: "a.b", TTL: time.Hour}, []string{`pool "a.b"`}},
		{"colon pool", TokenSpec{Pool: "a:b", TTL: time.Hour}, []string{`pool "a:b"`}},
		{"long pool", TokenSpec{Pool: strings.Repeat("a", 64), TTL: time.Hour}, []string{"pool", "63"}},
		{"zero ttl", TokenSpec{Pool: "p"}, []string{"ttl 0s", "greater than zero"}},
		{"negative ttl", TokenSpec{Pool: "p", TTL: -time.Minute}, []string{"ttl -1m0s"}},
		{"all problems", TokenSpec{Pool: "B", TTL: -1}, []string{`pool "B"`, "ttl"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.spec.Validate()
			testenv.CheckError(t, err, tt.want...)
			_, _, nerr := NewTokenSecret(tt.spec, testNow)
			testenv.CheckError(t, nerr, tt.want...)
		})
	}
}

func TestTokenFromSecretRoundTrip(t *testing.T) {
	s, want, err := NewTokenSecret(validSpec, testNow)
	if err != nil {
		t.Fatalf("NewTokenSecret: %v", err)
	}
	created := time.Date(2026, 3, 4, 4, 6, 8, 0, time.Local)
	s.CreationTimestamp = metav1.NewTime(created)
	want.Created = created
	got, err := TokenFromSecret(s)
	if err != nil {
		t.Fatalf("TokenFromSecret: %v", err)
	}
	if !got.Expires.Equal(want.Expires) {
		t.Errorf("expires = %s, want %s", got.Expires, want.Expires)
	}
	got.Expires = want.Expires
	if got != want {
		t.Errorf("round trip = %+v, want %+v", got, want)
	}
}

func TestTokenFromSecretRejects(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*corev1.Secret)
		notKelp bool
		want    string
	}{
		{"opaque secret", func(s *corev1.Secret) { s.Type = corev1.SecretTypeOpaque }, true, "type"},
		{"kubeadm token", func(s *corev1.Secret) {
			s.Data["auth-extra-groups"] = []byte("system:bootstrappers:kubeadm:default-node-token")
		}, true, "lacks group system:bootstrappers:kelp"},
		{"no groups", func(s *corev1.Secret) { delete(s.Data, "auth-extra-groups") }, true, "lacks group"},
		{"no pool group", func(s *corev1.Secret) { s.Data["auth-extra-groups"] = []byte(GroupPrefix) }, false, "auth-extra-groups"},
		{"two pool groups", func(s *corev1.Secret) {
			s.Data["auth-extra-groups"] = []byte(GroupPrefix + "," + PoolGroup("a") + "," + PoolGroup("b"))
		}, false, "exactly one group"},
		{"invalid group", func(s *corev1.Secret) {
			s.Data["auth-extra-groups"] = []byte(GroupPrefix + ",system:masters")
		}, false, "auth-extra-groups"},
		{"bad expiration", func(s *corev1.Secret) { s.Data["expiration"] = []byte("tomorrow") }, false, "expiration"},
		{"no expiration", func(s *corev1.Secret) { delete(s.Data, "expiration") }, false, "expiration"},
		{"no auth usage", func(s *corev1.Secret) { delete(s.Data, "usage-bootstrap-authentication") }, false, "usage-bootstrap-authentication"},
		{"short secret", func(s *corev1.Secret) { s.Data["token-secret"] = []byte("abc") }, false, "token-id/token-secret"},
		{"uppercase id", func(s *corev1.Secret) { s.Data["token-id"] = []byte("ABCDEF") }, false, "token-id/token-secret"},
		{"name mismatch", func(s *corev1.Secret) { s.Name = "bootstrap-token-zzzzzz" }, false, "name"},
		{"wrong namespace", func(s *corev1.Secret) { s.Namespace = "default" }, false, "namespace"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _, err := NewTokenSecret(validSpec, testNow)
			if err != nil {
				t.Fatalf("NewTokenSecret: %v", err)
			}
			tt.mutate(s)
			_, err = TokenFromSecret(s)
			if err == nil {
				t.Fatal("TokenFromSecret accepted the secret")
			}
			if errors.Is(err, ErrNotKelpToken) != tt.notKelp {
				t.Errorf("errors.Is(err, ErrNotKelpToken) = %v, want %v (err: %v)", !tt.notKelp, tt.notKelp, err)
			}
			testenv.ErrorContains(t, err, tt.want, s.Name)
		})
	}
	if _, err := TokenFromSecret(nil); err == nil {
		t.Error("TokenFromSecret(nil) returned no error")
	}
}

func TestPoolFromGroups(t *testing.T) {
	tests := []struct {
		name   string
		groups []string
		pool   string
		ok     bool
	}{
		{"token groups", []string{"system:bootstrappers", GroupPrefix, PoolGroup("workers"), "system:authenticated"}, "workers", true},
		{"pool group only", []string{PoolGroup("gpu")}, "gpu", true},
		{"duplicate same pool", []string{PoolGroup("gpu"), PoolGroup("gpu")}, "gpu", true},
		{"nil", nil, "", false},
		{"base group only", []string{"system:bootstrappers", GroupPrefix}, "", false},
		{"two pools", []string{GroupPrefix, PoolGroup("a"), PoolGroup("b")}, "", false},
		{"empty pool", []string{GroupPrefix + ":"}, "", false},
		{"nested pool", []string{PoolGroup("a:b")}, "", false},
		{"other prefix", []string{"system:bootstrappers:kelpx:a"}, "", false},
		{"kubeadm", []string{"system:bootstrappers:kubeadm:default-node-token"}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pool, ok := PoolFromGroups(tt.groups)
			if pool != tt.pool || ok != tt.ok {
				t.Errorf("PoolFromGroups(%q) = %q, %v; want %q, %v", tt.groups, pool, ok, tt.pool, tt.ok)
			}
		})
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestInstanceTokenRoundTrip(t *testing.T) {
	s, tok, err := NewTokenSecret(TokenSpec{Instance: "i-0123456789abcdef0", TTL: 10 * time.Minute}, testNow)
	if err != nil {
		t.Fatalf("NewTokenSecret: %v", err)
	}
	if got, want := string(s.Data["auth-extra-groups"]), "system:bootstrappers:kelp,system:bootstrappers:kelp:instance:i-0123456789abcdef0"; got != want {
		t.Errorf("auth-extra-groups = %q, want %q", got, want)
	}
	if got := string(s.Data["description"]); got != "kelp bootstrap token for instance i-0123456789abcdef0" {
		t.Errorf("description = %q", got)
	}
	back, err := TokenFromSecret(s)
	if err != nil {
		t.Fatalf("TokenFromSecret: %v", err)
	}
	if back.Instance != "i-0123456789abcdef0" || back.Pool != "" || back.ID != tok.ID {
		t.Errorf("parsed token = %+v, want instance i-0123456789abcdef0, no pool, id %s", back, tok.ID)
	}
}

func TestInstanceTokenSpecValidate(t *testing.T) {
	for _, spec := range []TokenSpec{
		{Instance: "i-0123456789abcdef0", Pool: "workers", TTL: time.Minute},
		{Instance: "i-xyz", TTL: time.Minute},
		{Instance: "node-1", TTL: time.Minute},
	} {
		if err := spec.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil, want an error", spec)
		}
	}
}

func TestInstanceFromGroups(t *testing.T) {
	tests := []struct {
		groups []string
		id     string
		ok     bool
	}{
		{[]string{GroupPrefix, InstanceGroup("i-0123abcd")}, "i-0123abcd", true},
		{[]string{GroupPrefix, InstanceGroup("i-0123abcd"), InstanceGroup("i-0123abcd")}, "i-0123abcd", true},
		{[]string{GroupPrefix, InstanceGroup("i-0123abcd"), InstanceGroup("i-0123abce")}, "", false},
		{[]string{GroupPrefix, PoolGroup("workers")}, "", false},
		{[]string{GroupPrefix, InstanceGroup("i-XYZ")}, "i-XYZ", false},
		{nil, "", false},
	}
	for _, tt := range tests {
		id, ok := InstanceFromGroups(tt.groups)
		if id != tt.id || ok != tt.ok {
			t.Errorf("InstanceFromGroups(%q) = %q, %v; want %q, %v", tt.groups, id, ok, tt.id, tt.ok)
		}
	}
	// An instance group is never a pool group.
	if pool, ok := PoolFromGroups([]string{GroupPrefix, InstanceGroup("i-0123abcd")}); ok {
		t.Errorf("PoolFromGroups of an instance token = %q, want none", pool)
	}
	if pool, ok := PoolFromGroups([]string{GroupPrefix, InstanceGroup("i-0123abcd"), PoolGroup("workers")}); !ok || pool != "workers" {
		t.Errorf("PoolFromGroups = %q, %v; want workers", pool, ok)
	}
}
