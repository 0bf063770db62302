package pool_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/kelp-dev/kelp/internal/bootstrap"
	"github.com/kelp-dev/kelp/internal/localcloud"
	"github.com/kelp-dev/kelp/internal/pool"
	"github.com/kelp-dev/kelp/internal/userdata"
)

func testCAPEM(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kelp-test-ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// fakeTokens issues numbered tokens and remembers the specs.
type fakeTokens struct{ specs []bootstrap.TokenSpec }

func (f *fakeTokens) IssueToken(_ context.Context, spec bootstrap.TokenSpec) (bootstrap.Token, error) {
	f.specs = append(f.specs, spec)
	return bootstrap.Token{ID: fmt.Sprintf("tok%03d", len(f.specs)), Secret: "0123456789abcdef", Pool: spec.Pool,
		Expires: time.Now().Add(spec.TTL)}, nil
}

func tokenJoin(t *testing.T, tokens pool.TokenIssuer) pool.TokenJoin {
	return pool.TokenJoin{Tokens: tokens, TTL: time.Hour, Server: "https://10.0.0.1:6443", CA: testCAPEM(t),
		Template: userdata.Input{Profile: userdata.ProfileLocal, ClusterName: "prod"}}
}

func TestTokenJoin(t *testing.T) {
	tokens := &fakeTokens{}
	join := tokenJoin(t, tokens)
	tests := []struct {
		name    string
		spec    pool.Spec
		wantErr string // "" renders with a token
	}{
		{"labels and taints", pool.Spec{Name: "general", Labels: map[string]string{"team": "blue"}, Taints: []corev1.Taint{{Key: "dedicated", Value: "gpu", Effect: corev1.TaintEffectNoSchedule}}}, ""},
		{"label NodeRestriction forbids", pool.Spec{Name: "general", Labels: map[string]string{"node-role.kubernetes.io/worker": ""}}, "node-role.kubernetes.io/worker"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(tokens.specs)
			data, err := join.UserData(context.Background(), tt.spec)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one naming %q", err, tt.wantErr)
				}
				if len(tokens.specs) != before {
					t.Error("bad input issued a token")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(tokens.specs) != before+1 || tokens.specs[before].Pool != tt.spec.Name || tokens.specs[before].TTL != time.Hour {
				t.Fatalf("issued %+v, want one token for pool %s with the join's TTL", tokens.specs[before:], tt.spec.Name)
			}
			doc, err := userdata.Decode(data)
			if err != nil {
				t.Fatal(err)
			}
			if _, token, err := userdata.BootstrapToken(doc); err != nil || !strings.HasPrefix(token, fmt.Sprintf("tok%03d.", before+1)) {
				t.Errorf("user-data token = %q, %v", token, err)
			}
		})
	}
}

func TestRotateToken(t *testing.T) {
	e := newEnv(t, localcloud.Faults{})
	tokens := &fakeTokens{}
	m := pool.New("prod", pool.Deps{Cloud: e.provider, Tokens: tokens})
	ctx := context.Background()
	if _, err := m.Create(ctx, generalSpec(), tokenJoin(t, tokens)); err != nil {
		t.Fatal(err)
	}
	if id, err := m.JoinToken(ctx, "general"); err != nil || id != "tok001" {
		t.Fatalf("JoinToken = %q, %v; want tok001", id, err)
	}
	fresh, err := m.RotateToken(ctx, "general", bootstrap.TokenSpec{TTL: 2 * time.Hour, Description: "rotated"})
	if err != nil {
		t.Fatal(err)
	}
	if fresh.ID != "tok002" || tokens.specs[1] != (bootstrap.TokenSpec{Pool: "general", TTL: 2 * time.Hour, Description: "rotated"}) {
		t.Errorf("rotation issued %+v from %+v", fresh, tokens.specs[1])
	}
	if id, err := m.JoinToken(ctx, "general"); err != nil || id != "tok002" {
		t.Errorf("after rotation JoinToken = %q, %v; want tok002", id, err)
	}

	// User-data kelp did not render carries no token: nothing to rotate.
	other := generalSpec()
	other.Name = "byo"
	if _, err := m.Create(ctx, other, pool.StaticUserData("#cloud-config\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := m.JoinToken(ctx, "byo"); !errors.Is(err, pool.ErrNoJoinToken) {
		t.Errorf("JoinToken of user-data without a token: %v, want ErrNoJoinToken", err)
	}
	if _, err := m.RotateToken(ctx, "byo", bootstrap.TokenSpec{TTL: time.Hour}); !errors.Is(err, pool.ErrNoJoinToken) {
		t.Errorf("RotateToken of user-data without a token: %v, want ErrNoJoinToken", err)
	}
	if len(tokens.specs) != 2 {
		t.Errorf("%d tokens issued, want 2", len(tokens.specs))
	}
}
