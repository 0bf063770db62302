package pool_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/kelp-dev/kelp/internal/bootstrap"
	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/localcloud"
	"github.com/kelp-dev/kelp/internal/pool"
	"github.com/kelp-dev/kelp/internal/testenv"
)

// drainer completes kelp's hook for every instance waiting in it, as the
// drain controller does once a Node is empty, until the test ends. It
// records the instances it let go.
type drainer struct {
	mu       sync.Mutex
	released []string
}

func startDrainer(t *testing.T, env *testEnv) *drainer {
	d := &drainer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			if env.provider.Refresh(ctx) != nil {
				continue
			}
			groups, err := env.provider.NodeGroups(ctx)
			if err != nil {
				continue
			}
			for _, inst := range cloud.WaitingToTerminate(groups) {
				act := cloud.LifecycleAction{Group: inst.GroupName, Hook: pool.DrainHookName, InstanceID: inst.ID}
				if env.provider.Complete(ctx, act, cloud.LifecycleContinue) == nil {
					d.mu.Lock()
					d.released = append(d.released, inst.ID)
					d.mu.Unlock()
				}
			}
		}
	}()
	return d
}

func (d *drainer) releasedIDs() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.released)
}

// twoInstancePool creates the general pool with kelp's user-data (a
// bootstrap token) and 2 instances in service.
func twoInstancePool(t *testing.T, env *testEnv, tokens *fakeTokens) *pool.Provisioner {
	t.Helper()
	m := pool.New("prod", pool.Deps{Cloud: env.provider, Refresher: env.provider, Tokens: tokens})
	spec := generalSpec()
	two := int32(2)
	spec.DesiredCapacity = &two
	if _, err := m.Create(context.Background(), spec, tokenJoin(t, tokens)); err != nil {
		t.Fatal(err)
	}
	waitInstances(t, m, 2)
	return m
}

// waitInstances waits until the general pool lists n instances, none
// outdated or leaving, and returns it.
func waitInstances(t *testing.T, m *pool.Provisioner, n int) pool.Pool {
	t.Helper()
	var got pool.Pool
	testenv.Eventually(t, 30*time.Second, fmt.Sprintf("%d instances in service", n), func(ctx context.Context) (bool, error) {
		pools, err := m.List(ctx)
		if err != nil || len(pools) != 1 {
			return false, err
		}
		got = pools[0]
		for _, mem := range got.Members {
			if mem.LifecycleState != "InService" {
				return false, nil
			}
		}
		return len(got.Members) == n, nil
	})
	return got
}

func memberIDs(p pool.Pool) []string {
	var ids []string
	for _, m := range p.Members {
		ids = append(ids, m.ID)
	}
	return ids
}

// TestOutdatedOnLocalCloud: a token rotation leaves every node current; an
// instance type change makes them all outdated.
func TestOutdatedOnLocalCloud(t *testing.T) {
	env := newEnv(t, localcloud.Faults{})
	tokens := &fakeTokens{}
	m := twoInstancePool(t, env, tokens)
	ctx := context.Background()
	if _, err := m.RotateToken(ctx, "general", bootstrap.TokenSpec{TTL: time.Hour}); err != nil {
		t.Fatal(err)
	}
	p := waitInstances(t, m, 2)
	if len(p.Outdated) != 0 {
		t.Errorf("after a token rotation: outdated %v, want none", p.Outdated)
	}
	if _, err := m.Update(ctx, "general", pool.Update{InstanceTypes: []string{"c5.large"}}); err != nil {
		t.Fatal(err)
	}
	p = waitInstances(t, m, 2)
	if len(p.Outdated) != 2 || p.Outdated[p.Members[0].ID] != pool.DriftInstanceType {
		t.Errorf("after an instance type change: outdated %v, want both (instance type)", p.Outdated)
	}
}

// TestRollOnLocalCloud: a roll of a 2-instance pool ends with 2 new
// instances on the current template; the old ones left through the drain
// hook.
func TestRollOnLocalCloud(t *testing.T) {
	env := newEnv(t, localcloud.Faults{})
	tokens := &fakeTokens{}
	m := twoInstancePool(t, env, tokens)
	ctx := context.Background()
	if _, err := m.Update(ctx, "general", pool.Update{InstanceTypes: []string{"c5.large"}}); err != nil {
		t.Fatal(err)
	}
	old := memberIDs(waitInstances(t, m, 2))
	d := startDrainer(t, env)
	zero := time.Duration(0)
	prefs := pool.DefaultRollPreferences()
	prefs.InstanceWarmup = &zero
	r, err := m.Roll(ctx, "general", prefs)
	if err != nil {
		t.Fatal(err)
	}
	if r.InstancesToUpdate != 2 || r.Status.Ended() {
		t.Errorf("started roll = %+v", r)
	}
	_, err = m.Roll(ctx, "general", prefs)
	if !errors.Is(err, cloud.ErrRefreshInProgress) {
		t.Fatalf("second roll: %v, want ErrRefreshInProgress", err)
	}
	testenv.ErrorContains(t, err, "instance refresh "+r.ID+" of group kelp-prod-general is already in progress")
	var seen []cloud.InstanceRefresh
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	end, err := m.WaitRoll(wctx, "general", r.ID, 50*time.Millisecond, func(r cloud.InstanceRefresh) { seen = append(seen, r) })
	if err != nil {
		t.Fatal(err)
	}
	if end.Status != cloud.RefreshSuccessful || end.PercentageComplete != 100 || len(seen) < 2 || seen[len(seen)-1].Status != cloud.RefreshSuccessful {
		t.Errorf("roll ended %+v after %+v", end, seen)
	}
	p := waitInstances(t, m, 2)
	for _, mem := range p.Members {
		if slices.Contains(old, mem.ID) || mem.InstanceType != "c5.large" {
			t.Errorf("member after the roll: %+v (old ones %v)", mem, old)
		}
	}
	if len(p.Outdated) != 0 {
		t.Errorf("outdated after the roll: %v", p.Outdated)
	}
	released := d.releasedIDs()
	for _, id := range old {
		if !slices.Contains(released, id) {
			t.Errorf("old instance %s did not leave through the drain hook (released %v)", id, released)
		}
	}
	if st, err := m.RollStatus(ctx, "general"); err != nil || st.ID != r.ID || st.Status != cloud.RefreshSuccessful {
		t.Errorf("roll status = %+v, %v", st, err)
	}
}

// TestCancelRollOnLocalCloud: a roll held by the drain hook is cancelled.
func TestCancelRollOnLocalCloud(t *testing.T) {
	env := newEnv(t, localcloud.Faults{})
	m := twoInstancePool(t, env, &fakeTokens{})
	ctx := context.Background()
	if _, err := m.RollStatus(ctx, "general"); !errors.Is(err, cloud.ErrNotFound) {
		t.Errorf("status of a pool never rolled: %v", err)
	}
	zero := time.Duration(0)
	prefs := pool.DefaultRollPreferences()
	prefs.InstanceWarmup = &zero
	r, err := m.Roll(ctx, "general", prefs)
	if err != nil {
		t.Fatal(err)
	}
	id, err := m.CancelRoll(ctx, "general")
	if err != nil || id != r.ID {
		t.Fatalf("cancel = %q, %v", id, err)
	}
	_, err = m.CancelRoll(ctx, "general")
	if !errors.Is(err, cloud.ErrNoActiveRefresh) {
		t.Errorf("second cancel: %v", err)
	}
	startDrainer(t, env) // what was leaving finishes leaving
	end, err := m.WaitRoll(ctx, "general", r.ID, 50*time.Millisecond, nil)
	if err != nil || end.Status != cloud.RefreshCancelled {
		t.Errorf("cancelled roll ended %+v, %v", end, err)
	}
	if _, err := m.Roll(ctx, "nope", prefs); !errors.Is(err, cloud.ErrNotFound) {
		t.Errorf("roll of an unknown pool: %v", err)
	}
}

// TestDeleteDrainsOnLocalCloud: a drained delete scales to zero, waits
// for the instances to leave through the hook, then deletes; without
// anyone completing the hook it stops at its deadline.
func TestDeleteDrainsOnLocalCloud(t *testing.T) {
	env := newEnv(t, localcloud.Faults{})
	m := twoInstancePool(t, env, &fakeTokens{})
	ctx := context.Background()
	old := memberIDs(waitInstances(t, m, 2))

	err := m.Delete(ctx, "general", pool.DeleteOptions{Mode: pool.DeleteDrain, DrainTimeout: 300 * time.Millisecond, PollInterval: 50 * time.Millisecond})
	testenv.ErrorContains(t, err, "still has 2 instances")
	p, err := m.Get(ctx, "general")
	if err != nil || p.MaxSize != 0 || p.Desired != 0 {
		t.Fatalf("after the deadline: %+v, %v; want the group kept at size 0", p, err)
	}

	d := startDrainer(t, env)
	var progress []pool.DrainProgress
	err = m.Delete(ctx, "general", pool.DeleteOptions{Mode: pool.DeleteDrain, DrainTimeout: 30 * time.Second, PollInterval: 50 * time.Millisecond,
		Progress: func(p pool.DrainProgress) { progress = append(progress, p) }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Get(ctx, "general"); !errors.Is(err, cloud.ErrNotFound) {
		t.Errorf("pool after delete: %v", err)
	}
	if len(progress) == 0 || progress[0].Instances != 2 || progress[len(progress)-1].Instances != 0 {
		t.Errorf("progress = %+v", progress)
	}
	released := d.releasedIDs()
	for _, id := range old {
		if !slices.Contains(released, id) {
			t.Errorf("instance %s did not leave through the drain hook (released %v)", id, released)
		}
	}
}
