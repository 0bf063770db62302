package nodelifecycle

import (
	"context"
	"errors"
	"testing"

	"github.com/kelp-dev/kelp/internal/cloud"
)

// fakeCloud serves a fixed set of instances and group snapshot; lookups of
// the providerIDs in failing fail.
type fakeCloud struct {
	instances []cloud.Instance
	groups    []cloud.NodeGroup
	failing   map[string]bool
	refreshes int
}

var _ Cloud = (*fakeCloud)(nil)

func (f *fakeCloud) Refresh(context.Context) error                         { f.refreshes++; return nil }
func (f *fakeCloud) NodeGroups(context.Context) ([]cloud.NodeGroup, error) { return f.groups, nil }
func (f *fakeCloud) Invalidate(string)                                     {}

func (f *fakeCloud) InstanceForNode(_ context.Context, providerID string) (cloud.Instance, error) {
	if f.failing[providerID] {
		return cloud.Instance{}, errors.New("cloud unavailable")
	}
	for _, i := range f.instances {
		if i.ProviderID == providerID {
			return i, nil
		}
	}
	return cloud.Instance{}, cloud.ErrNotFound
}

func TestInstanceStatus(t *testing.T) {
	alive := cloud.Instance{ID: "i-1", ProviderID: "aws:///a/i-1", State: cloud.InstanceStateRunning}
	dead := cloud.Instance{ID: "i-2", ProviderID: "aws:///a/i-2", State: cloud.InstanceStateTerminated}
	c := &fakeCloud{instances: []cloud.Instance{alive, dead}, groups: []cloud.NodeGroup{{ID: "g", Instances: []cloud.Instance{alive}}}}
	for id, want := range map[string]InstanceStatus{"aws:///a/i-1": InstanceAlive, "aws:///a/i-2": InstanceTerminated, "aws:///a/i-3": InstanceGone} {
		if got, err := instanceStatus(context.Background(), c, id); err != nil || got != want {
			t.Errorf("instanceStatus(%s) = %v, %v; want %v", id, got, err, want)
		}
	}
	c.failing = map[string]bool{"aws:///a/i-4": true}
	if _, err := instanceStatus(context.Background(), c, "aws:///a/i-4"); err == nil {
		t.Error("a failed lookup gave a status")
	}
}
