package cloudtest

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/kelp-dev/kelp/internal/cloud"
)

func TestProvider(t *testing.T) {
	ctx := context.Background()
	a := cloud.Instance{ID: "i-0000000a", ProviderID: "aws:///z1/i-0000000a", PrivateDNSName: "ip-1", State: cloud.InstanceStateRunning, GroupName: "g"}
	b := cloud.Instance{ID: "i-0000000b", ProviderID: "aws:///z1/i-0000000b", PrivateDNSName: "ip-1", State: cloud.InstanceStatePending}
	c := cloud.Instance{ID: "i-0000000c", AvailabilityZone: "z2", PrivateDNSName: "ip-2", State: cloud.InstanceStateTerminated}
	failing := errors.New("timeout")
	p := New(cloud.NodeGroup{ID: "g", Instances: []cloud.Instance{a}})
	p.AddInstances(b, c)
	p.FailInstance("i-0000000d", failing)

	for _, tt := range []struct {
		name    string
		lookup  func() ([]cloud.Instance, error)
		want    []string // IDs
		wantErr error
	}{
		{"by id in a group", one(func() (cloud.Instance, error) { return p.InstanceByID(ctx, a.ID) }), []string{a.ID}, nil},
		{"by id in no group", one(func() (cloud.Instance, error) { return p.InstanceByID(ctx, c.ID) }), []string{c.ID}, nil},
		{"by id unknown", one(func() (cloud.Instance, error) { return p.InstanceByID(ctx, "i-0000000e") }), nil, cloud.ErrNotFound},
		{"by id failing", one(func() (cloud.Instance, error) { return p.InstanceByID(ctx, "i-0000000d") }), nil, failing},
		{"for node", one(func() (cloud.Instance, error) { return p.InstanceForNode(ctx, a.ProviderID) }), []string{a.ID}, nil},
		{"for node without zone", one(func() (cloud.Instance, error) { return p.InstanceForNode(ctx, "aws:////i-0000000a") }), []string{a.ID}, nil},
		{"for node by availability zone", one(func() (cloud.Instance, error) { return p.InstanceForNode(ctx, "aws:///z2/i-0000000c") }), []string{c.ID}, nil},
		{"for node in another zone", one(func() (cloud.Instance, error) { return p.InstanceForNode(ctx, "aws:///z9/i-0000000a") }), nil, cloud.ErrNotFound},
		{"for node malformed", one(func() (cloud.Instance, error) { return p.InstanceForNode(ctx, "kind://docker/kind/w") }), nil, cloud.ErrInvalidProviderID},
		{"for node failing", one(func() (cloud.Instance, error) { return p.InstanceForNode(ctx, "aws:///z1/i-0000000d") }), nil, failing},
		{"by name, sorted", func() ([]cloud.Instance, error) { return p.InstanceByPrivateDNSName(ctx, "ip-1") }, []string{a.ID, b.ID}, nil},
		{"by name, terminated", func() ([]cloud.Instance, error) { return p.InstanceByPrivateDNSName(ctx, "ip-2") }, nil, cloud.ErrNotFound},
	} {
		got, err := tt.lookup()
		var ids []string
		for _, i := range got {
			ids = append(ids, i.ID)
		}
		if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) || !slices.Equal(ids, tt.want) {
			t.Errorf("%s: %v, %v; want %v, %v", tt.name, ids, err, tt.want, tt.wantErr)
		}
	}
}

func TestProviderSnapshot(t *testing.T) {
	ctx := context.Background()
	p := New(cloud.NodeGroup{ID: "b"})
	p.SetGroups(cloud.NodeGroup{ID: "c"}, cloud.NodeGroup{ID: "a"})
	if gs, err := p.NodeGroups(ctx); err != nil || len(gs) != 1 || gs[0].ID != "b" {
		t.Errorf("before Refresh: %v, %v; want the old snapshot", gs, err)
	}
	if err := p.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	gs, err := p.NodeGroups(ctx)
	if err != nil || len(gs) != 2 || gs[0].ID != "a" || gs[1].ID != "c" {
		t.Errorf("after Refresh: %v, %v; want a and c", gs, err)
	}
	gs[0].ID = "mutated"
	p.SetErr(errors.New("down"))
	if err := p.Refresh(ctx); err == nil {
		t.Error("Refresh did not fail")
	}
	if gs, err := p.NodeGroups(ctx); err != nil || len(gs) != 2 || gs[0].ID != "a" {
		t.Errorf("after a failed Refresh: %v, %v; want the last snapshot, unmodified by its caller", gs, err)
	}
	if _, err := p.InstanceByPrivateDNSName(ctx, "x"); err == nil || errors.Is(err, cloud.ErrNotFound) {
		t.Errorf("lookup while down: %v, want the error", err)
	}
	p.Invalidate("i-1")
	p.InvalidateAll()
	if p.Refreshes() != 2 || !slices.Equal(p.Invalidated(), []string{"i-1"}) || p.InvalidatedAll() != 1 {
		t.Errorf("counted %d refreshes, invalidated %v and all %d times", p.Refreshes(), p.Invalidated(), p.InvalidatedAll())
	}
}

// one adapts a single-instance lookup to the table.
func one(f func() (cloud.Instance, error)) func() ([]cloud.Instance, error) {
	return func() ([]cloud.Instance, error) {
		i, err := f()
		if err != nil {
			return nil, err
		}
		return []cloud.Instance{i}, nil
	}
}

func TestLifecycleActions(t *testing.T) {
	ctx := context.Background()
	waiting := cloud.Instance{ID: "i-1", State: cloud.InstanceStateTerminating, CloudState: cloud.LifecycleTerminatingWait}
	running := cloud.Instance{ID: "i-2", State: cloud.InstanceStateRunning, CloudState: "InService"}
	p := New(cloud.NodeGroup{ID: "a", Instances: []cloud.Instance{waiting, running}})
	p.SetHooks("a", "kelp-drain", "other")
	act := cloud.LifecycleAction{Group: "a", Hook: "kelp-drain", InstanceID: "i-1"}
	if err := p.Heartbeat(ctx, act); err != nil {
		t.Fatalf("Heartbeat: %v", err)
	}
	for _, bad := range []cloud.LifecycleAction{
		{Group: "a", Hook: "kelp-drain", InstanceID: "i-2"}, // not waiting
		{Group: "a", Hook: "nope", InstanceID: "i-1"},       // no such hook
		{Group: "b", Hook: "kelp-drain", InstanceID: "i-1"}, // no such group
	} {
		if err := p.Complete(ctx, bad, cloud.LifecycleContinue); !errors.Is(err, cloud.ErrNotFound) {
			t.Errorf("Complete(%v) = %v, want ErrNotFound", bad, err)
		}
	}
	if err := p.Complete(ctx, act, "MAYBE"); err == nil {
		t.Error("Complete with result MAYBE succeeded")
	}
	if err := p.Complete(ctx, act, cloud.LifecycleContinue); err != nil {
		t.Fatalf("Complete: %v", err)
	}
	if err := p.Complete(ctx, act, cloud.LifecycleContinue); !errors.Is(err, cloud.ErrNotFound) {
		t.Errorf("second Complete = %v, want ErrNotFound", err)
	}
	mustRefresh := func() cloud.Instance {
		t.Helper()
		if err := p.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		gs, _ := p.NodeGroups(ctx)
		return gs[0].Instances[0]
	}
	if i := mustRefresh(); !i.WaitingToTerminate() {
		t.Errorf("instance left Terminating:Wait with another hook still holding it: %+v", i)
	}
	if err := p.Complete(ctx, cloud.LifecycleAction{Group: "a", Hook: "other", InstanceID: "i-1"}, cloud.LifecycleAbandon); err != nil {
		t.Fatal(err)
	}
	if i := mustRefresh(); i.CloudState != cloud.LifecycleTerminatingProceed {
		t.Errorf("instance after its last hook completed: %+v", i)
	}
	if len(p.Heartbeats()) != 1 || len(p.Completed()) != 2 || p.Completed()[0].Result != cloud.LifecycleContinue {
		t.Errorf("recorded heartbeats %v, completions %v", p.Heartbeats(), p.Completed())
	}
}
