package pool_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/kelp-dev/kelp/internal/localcloud"
	"github.com/kelp-dev/kelp/internal/pool"
	"github.com/kelp-dev/kelp/internal/testenv"
)

// TestProvisionerUnderThrottling is `kelp up --cloud-throttle-rate 0.5`
// in small: with half of all requests throttled, a pool is created,
// scaled, updated, listed and deleted. The provisioner's calls get the
// adapter's throttle rounds, not only the SDK's three attempts.
func TestProvisionerUnderThrottling(t *testing.T) {
	e := newEnv(t, localcloud.Faults{ThrottleRate: 0.5})
	m := e.provisioner("prod")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, name := range []string{"a", "b", "c"} {
		spec := generalSpec()
		spec.Name = name
		if _, err := m.Create(ctx, spec, pool.StaticUserData("#cloud-config\n")); err != nil {
			t.Fatalf("create pool %s: %v", name, err)
		}
	}
	for range 10 {
		if pools, err := m.List(ctx); err != nil || len(pools) != 3 {
			t.Fatalf("List = %d pools, %v", len(pools), err)
		}
	}
	if _, err := m.Scale(ctx, "a", 2); err != nil {
		t.Fatalf("scale: %v", err)
	}
	testenv.Eventually(t, 30*time.Second, "2 instances of pool a", func(ctx context.Context) (bool, error) {
		p, err := m.Get(ctx, "a")
		if err != nil {
			return false, fmt.Errorf("get pool a: %w", err)
		}
		return p.Instances == 2, nil
	})
	if _, err := m.Update(ctx, "b", pool.Update{UserData: []byte("#cloud-config\nv2\n")}); err != nil {
		t.Fatalf("update: %v", err)
	}
	if data, err := m.UserData(ctx, "b"); err != nil || string(data) != "#cloud-config\nv2\n" {
		t.Fatalf("user-data = %q, %v", data, err)
	}
	for _, name := range []string{"a", "b", "c"} {
		if err := m.Delete(ctx, name, pool.DeleteOptions{Mode: pool.DeleteForce}); err != nil {
			t.Fatalf("delete pool %s: %v", name, err)
		}
	}
}
