package controller

import (
	"context"
	"testing"

	"github.com/kelp-dev/kelp/internal/cloud"
)

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

func TestInstanceStatus(t *testing.T) {
	alive := cloud.Instance{ID: "i-1", ProviderID: "aws:///a/i-1", State: cloud.InstanceStateRunning}
	dead := cloud.Instance{ID: "i-2", ProviderID: "aws:///a/i-2", State: cloud.InstanceStateTerminated}
	p := &fakeProvider{instances: []cloud.Instance{alive, dead}, snapshot: []cloud.NodeGroup{{ID: "g", Instances: []cloud.Instance{alive}}}}
	facts := CloudFacts{Provider: p}
	for id, want := range map[string]InstanceStatus{"aws:///a/i-1": InstanceAlive, "aws:///a/i-2": InstanceTerminated, "aws:///a/i-3": InstanceGone} {
		if got, err := facts.InstanceStatus(context.Background(), id); err != nil || got != want {
			t.Errorf("InstanceStatus(%s) = %v, %v; want %v", id, got, err, want)
		}
	}
}
