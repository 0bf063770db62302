package controller

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	typedcoordinationv1 "k8s.io/client-go/kubernetes/typed/coordination/v1"
	"k8s.io/utils/ptr"

	"github.com/kelp-dev/kelp/internal/approver"
	"github.com/kelp-dev/kelp/internal/autoscaler/loop"
	"github.com/kelp-dev/kelp/internal/cloud/cloudtest"
	"github.com/kelp-dev/kelp/internal/testenv"
)

// stuckCloud never finishes a Refresh: the autoscaler's first cycle
// hangs on it, as a loop stuck on a cloud call that never returns.
type stuckCloud struct{ *cloudtest.Provider }

func (stuckCloud) Refresh(ctx context.Context) error {
	<-ctx.Done()
	return ctx.Err()
}

// TestHealthzFailsWhenTheLeadersLoopIsStuck runs a replica on the real API
// server while another identity holds the Lease: the standby stays healthy
// and ready well past --max-inactivity. Once the Lease is free it leads;
// its autoscaler is stuck on the cloud, so /healthz turns red naming the
// reason, while /readyz, which follows informer sync only, stays green.
func TestHealthzFailsWhenTheLeadersLoopIsStuck(t *testing.T) {
	env := testenv.Get(t)
	leases := env.Client.CoordinationV1().Leases(metav1.NamespaceSystem)
	holdLease(t, leases)
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	cloud := stuckCloud{cloudtest.New()}
	go func() {
		done <- Run(ctx, Options{
			ClusterName: "kelp-test", LeaderElect: true, Approve: approver.ModeOff, ProbeAddr: addr,
			Autoscaler: &loop.Options{ScanInterval: 100 * time.Millisecond},
			Health:     HealthOptions{MaxInactivity: time.Second, MaxFailingTime: 2 * time.Second},
		}, Deps{Client: env.Client, Cloud: cloud, Scaler: noScaler{}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	probe := func(path string) (int, string) {
		code, body, err := tryGet(addr, path)
		if err != nil {
			return 0, err.Error()
		}
		return code, body
	}
	testenv.EventuallyTrue(t, 30*time.Second, "the probes served", func() bool { code, _ := probe("/healthz"); return code != 0 })
	testenv.HoldsFor(t, 3*time.Second, "a standby stays healthy and ready past --max-inactivity", func(context.Context) error {
		for _, path := range []string{"/healthz", "/readyz"} {
			if code, body := probe(path); code != 200 || body != "ok: standby" {
				return fmt.Errorf("GET %s = %d %q, want 200 ok: standby", path, code, body)
			}
		}
		if _, body := probe("/metrics"); !strings.Contains(body, "kelp_leader 0") {
			return fmt.Errorf("/metrics lacks kelp_leader 0")
		}
		return nil
	})

	// Free the Lease: the replica takes it and leads.
	l, err := leases.Get(context.Background(), "kelp-controller", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	l.Spec.HolderIdentity = ptr.To("")
	if _, err := leases.Update(context.Background(), l, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("free the lease: %v", err)
	}
	testenv.EventuallyTrue(t, time.Minute, "the replica leads and its informers sync (/readyz ok, kelp_leader 1)", func() bool {
		code, body := probe("/readyz")
		_, metrics := probe("/metrics")
		return code == 200 && body == "ok" && strings.Contains(metrics, "kelp_leader 1")
	})
	var last string
	testenv.EventuallyTrue(t, 30*time.Second, "/healthz red for the stuck loop", func() bool {
		var code int
		code, last = probe("/healthz")
		return code == 500 && strings.Contains(last, "autoscaler: no cycle finished") && strings.Contains(last, "no cycle succeeded")
	})
	t.Logf("stuck leader's /healthz: %s", last)
	if code, body := probe("/readyz"); code != 200 {
		t.Errorf("stuck leader's /readyz = %d %q: readiness is informer sync only", code, body)
	}
}

// holdLease makes another identity hold kube-system/kelp-controller for an
// hour, creating the Lease when it does not exist.
func holdLease(t *testing.T, leases typedcoordinationv1.LeaseInterface) {
	t.Helper()
	now := metav1.NewMicroTime(time.Now())
	spec := coordinationv1.LeaseSpec{HolderIdentity: ptr.To("another-replica"), LeaseDurationSeconds: ptr.To[int32](3600), AcquireTime: &now, RenewTime: &now}
	l, err := leases.Get(context.Background(), "kelp-controller", metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		_, err = leases.Create(context.Background(), &coordinationv1.Lease{ObjectMeta: metaInKubeSystem("kelp-controller"), Spec: spec}, metav1.CreateOptions{})
	case err == nil:
		l.Spec = spec
		_, err = leases.Update(context.Background(), l, metav1.UpdateOptions{})
	}
	if err != nil {
		t.Fatalf("hold the lease: %v", err)
	}
}
