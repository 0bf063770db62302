package controller

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/kelp-dev/kelp/internal/approver"
	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// TestRunWithLeaderElection runs the controllers on the real API server:
// the process takes the Lease, serves /metrics, and on cancel stops its
// controllers and then releases the Lease.
func TestRunWithLeaderElection(t *testing.T) {
	env := testenv.Get(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{ClusterName: "kelp-test", LeaderElect: true, Approve: approver.ModeAuto, ProbeAddr: "127.0.0.1:0"},
			Deps{Client: env.Client, Cloud: &fakeProvider{}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	}()
	leases := env.Client.CoordinationV1().Leases("kube-system")
	var holder string
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		l, err := leases.Get(ctx, "kelp-controller", metav1.GetOptions{})
		if err != nil || l.Spec.HolderIdentity == nil {
			return false, nil
		}
		holder = *l.Spec.HolderIdentity
		return holder != "", nil
	})
	if err != nil {
		t.Fatalf("the controller never took the lease: %v", err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run after cancel: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return within 30s of cancel")
	}
	l, err := leases.Get(context.Background(), "kelp-controller", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if l.Spec.HolderIdentity != nil && *l.Spec.HolderIdentity == holder {
		t.Errorf("lease still held by %s after a clean stop", holder)
	}
}

func TestOptionsValidate(t *testing.T) {
	err := Options{Approve: "sometimes", TokenTTL: 30 * time.Second, ProbeAddr: "nonsense"}.Validate()
	testenv.ErrorContains(t, err, "cluster name", `approve "sometimes"`, "token ttl 30s", `probe address "nonsense"`)
}

// fakeProvider serves a fixed set of instances; its group snapshot only
// changes on Refresh, like the AWS provider's.
type fakeProvider struct {
	instances []cloud.Instance
	snapshot  []cloud.NodeGroup
	next      []cloud.NodeGroup
	refreshes int
}

func (f *fakeProvider) Refresh(context.Context) error {
	f.refreshes++
	f.snapshot = f.next
	return nil
}
func (f *fakeProvider) NodeGroups(context.Context) ([]cloud.NodeGroup, error) { return f.snapshot, nil }
func (f *fakeProvider) InstanceByID(_ context.Context, id string) (cloud.Instance, error) {
	for _, i := range f.instances {
		if i.ID == id {
			return i, nil
		}
	}
	return cloud.Instance{}, cloud.ErrNotFound
}
func (f *fakeProvider) InstanceForNode(_ context.Context, providerID string) (cloud.Instance, error) {
	for _, i := range f.instances {
		if i.ProviderID == providerID {
			return i, nil
		}
	}
	return cloud.Instance{}, cloud.ErrNotFound
}
func (f *fakeProvider) InstanceByPrivateDNSName(_ context.Context, name string) ([]cloud.Instance, error) {
	var out []cloud.Instance
	for _, i := range f.instances {
		if i.PrivateDNSName == name {
			out = append(out, i)
		}
	}
	if len(out) == 0 {
		return nil, cloud.ErrNotFound
	}
	return out, nil
}
func (f *fakeProvider) Invalidate(string) {}
func (f *fakeProvider) InvalidateAll()    {}

var _ cloud.Provider = (*fakeProvider)(nil)
