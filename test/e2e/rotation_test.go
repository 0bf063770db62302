package e2e

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kelp-dev/kelp/internal/bootstrap"
	"github.com/kelp-dev/kelp/internal/controller"
	"github.com/kelp-dev/kelp/internal/localup"
	"github.com/kelp-dev/kelp/internal/pool"
	"github.com/kelp-dev/kelp/internal/testenv"
)

// TestScaleUpAfterTokenExpiryStillJoins gives pools one-minute bootstrap
// tokens, waits until the token the pool was created with has expired, and
// scales up: the new instance boots with the rotated token and joins.
func TestScaleUpAfterTokenExpiryStillJoins(t *testing.T) {
	release, err := testenv.AcquireSlot()
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	cluster, client := startLocal(t, localup.Config{
		Dir: filepath.Join(t.TempDir(), "rot"), Name: "rot",
		Pools:      &pool.Config{Pools: []pool.Spec{{Name: "rot", InstanceTypes: []string{"m5.large"}, MaxSize: 2}}},
		Controller: controller.Options{TokenTTL: time.Minute, TokenRotationPeriod: time.Second},
	})
	defer func() { _ = cluster.Stop(context.Background()) }()
	first := poolTokens(t, ctx, client, "rot")
	if len(first) != 1 {
		t.Fatalf("want the pool's one token at start, got %+v", first)
	}
	original := first[0]
	poll(t, ctx, 2*time.Minute, "the original token expired and a newer one exists", func() bool {
		tokens := poolTokens(t, ctx, client, "rot")
		now := time.Now()
		fresh := false
		for _, tok := range tokens {
			fresh = fresh || (tok.ID != original.ID && tok.Expires.After(now.Add(20*time.Second)))
		}
		return now.After(original.Expires) && fresh
	})

	mgr, err := cluster.Provisioner(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mgr.Scale(ctx, "rot", 1); err != nil {
		t.Fatal(err)
	}
	poll(t, ctx, 2*time.Minute, "a node joined after the first token expired", func() bool {
		ready, _, err := readyNodesOf(ctx, client, "rot")
		return err == nil && len(ready) == 1
	})
	csrs, err := client.CertificatesV1().CertificateSigningRequests().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range csrs.Items {
		if c.Spec.SignerName == certificatesv1.KubeAPIServerClientKubeletSignerName && strings.HasPrefix(c.Spec.Username, "system:bootstrap:") {
			if c.Spec.Username == "system:bootstrap:"+original.ID {
				t.Errorf("the node joined with the expired original token")
			}
		}
	}
}

func poolTokens(t *testing.T, ctx context.Context, client kubernetes.Interface, poolName string) []bootstrap.Token {
	t.Helper()
	all, err := bootstrap.ListTokens(ctx, client)
	if err != nil {
		t.Fatal(err)
	}
	var out []bootstrap.Token
	for _, tok := range all {
		if tok.Pool == poolName {
			out = append(out, tok)
		}
	}
	return out
}
