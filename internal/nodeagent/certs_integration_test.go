package nodeagent

import (
	"context"
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	bootstrapapi "k8s.io/cluster-bootstrap/token/api"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/kelp-dev/kelp/internal/bootstrap"
	"github.com/kelp-dev/kelp/internal/testenv"
)

func TestBootstrapTokenRejected(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	tests := []struct {
		name  string
		spoil func(t *testing.T, tok bootstrap.Token)
	}{
		{"expired", func(t *testing.T, tok bootstrap.Token) {
			secrets := env.Client.CoreV1().Secrets(bootstrap.TokenNamespace)
			s, err := secrets.Get(context.Background(), bootstrapapi.BootstrapTokenSecretPrefix+tok.ID, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			s.Data[bootstrapapi.BootstrapTokenExpirationKey] = []byte(time.Now().Add(-time.Minute).UTC().Format(time.RFC3339))
			if _, err := secrets.Update(context.Background(), s, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
		}},
		{"deleted", func(t *testing.T, tok bootstrap.Token) {
			if err := bootstrap.DeleteToken(context.Background(), env.Client, tok.ID); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tok := createToken(t, env, "workers")
			tt.spoil(t, tok)
			waitTokenRejected(t, env, tok)
			n := newTestNode(t, env, nodeOpts{token: &tok})
			n.start(t)
			testenv.Eventually(t, 30*time.Second, "agent to report Unauthorized", func(context.Context) (bool, error) {
				err := n.agent.Status().LastError
				return err != nil && strings.Contains(err.Error(), "Unauthorized"), nil
			})
			if s := n.agent.Status(); s.Ready || s.Phase != PhaseBootstrapping {
				t.Errorf("status %+v, want still bootstrapping", s)
			}
			if csrs := listCSRs(t, env, n.bootstrapUser()); len(csrs) > 0 {
				t.Errorf("a rejected token filed CSR %s", csrs[0].Name)
			}
		})
	}
}

// waitTokenRejected waits until the API server's token cache forgets tok.
func waitTokenRejected(t *testing.T, env *testenv.Env, tok bootstrap.Token) {
	t.Helper()
	cfg := rest.AnonymousClientConfig(env.Config)
	cfg.BearerToken = tok.String()
	client := kubernetes.NewForConfigOrDie(cfg)
	testenv.Eventually(t, 30*time.Second, "token to be rejected", func(ctx context.Context) (bool, error) {
		_, err := client.CertificatesV1().CertificateSigningRequests().List(ctx, metav1.ListOptions{Limit: 1})
		return err != nil && strings.Contains(err.Error(), "Unauthorized"), nil
	})
}

// followingClock is a fake clock that follows real time plus an offset a
// test can move forward, firing timers as it passes them.
type followingClock struct {
	*clocktesting.FakeClock
	offset atomic.Int64
}

func newFollowingClock(t *testing.T) *followingClock {
	c := &followingClock{FakeClock: clocktesting.NewFakeClock(time.Now())}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				c.SetTime(time.Now().Add(time.Duration(c.offset.Load())))
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-done })
	return c
}

// jumpTo moves the clock forward to at.
func (c *followingClock) jumpTo(at time.Time) {
	c.offset.Store(int64(time.Until(at)))
	c.SetTime(at)
}

func TestClientCertificateRotation(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	clk := newFollowingClock(t)
	n := newTestNode(t, env, nodeOpts{clock: clk, tuning: Tuning{LeaseRenewInterval: time.Second, ClientCertLifetime: time.Hour}})
	joinNode(t, n)
	first := loadClientCert(t, n)
	// The signer honours expirationSeconds (it backdates notBefore by 5m).
	if life := first.Leaf.NotAfter.Sub(first.Leaf.NotBefore); life < time.Hour || life > 66*time.Minute {
		t.Errorf("client certificate lifetime %v, want the requested hour (+5m backdating)", life)
	}
	testenv.Eventually(t, 10*time.Second, "the first certificate in use", func(context.Context) (bool, error) {
		return n.agent.transport.presentedSerial() == serial(first), nil
	})

	// Past 90% of the lifetime every rotation deadline has passed.
	life := first.Leaf.NotAfter.Sub(first.Leaf.NotBefore)
	clk.jumpTo(first.Leaf.NotBefore.Add(life * 9 / 10).Add(time.Minute))
	renewal := waitCSR(t, env, n.nodeUser(), certificatesv1.KubeAPIServerClientKubeletSignerName)
	checkClientCSR(t, renewal, n.id.PrivateDNSName)
	approve(t, env.Client, renewal)

	var second string
	testenv.Eventually(t, time.Minute, "the rotated certificate", func(context.Context) (bool, error) {
		second = n.agent.Status().ClientCertSerial
		return second != serial(first), nil
	})
	if onDisk := serial(loadClientCert(t, n)); onDisk != second {
		t.Errorf("certificate on disk %s, in use %s", onDisk, second)
	}
	// The agent reconnects with the new certificate and keeps renewing its
	// lease with it.
	leases := env.Client.CoordinationV1().Leases(corev1.NamespaceNodeLease)
	rotated := clk.Now()
	testenv.Eventually(t, 30*time.Second, "a lease renewal with the new certificate", func(ctx context.Context) (bool, error) {
		if n.agent.transport.presentedSerial() != second {
			return false, nil
		}
		l, err := leases.Get(ctx, n.id.PrivateDNSName, metav1.GetOptions{})
		return err == nil && l.Spec.RenewTime.After(rotated), err
	})
}

func loadClientCert(t *testing.T, n *testNode) *tls.Certificate {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(n.root, PKIDir, clientCertFile))
	if err != nil {
		t.Fatal(err)
	}
	c, err := tls.X509KeyPair(data, data)
	if err != nil {
		t.Fatal(err)
	}
	return &c
}
