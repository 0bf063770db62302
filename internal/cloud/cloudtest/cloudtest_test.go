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
