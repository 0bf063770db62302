package controller

import (
	"context"
	"testing"
	"time"

	"github.com/kelp-dev/kelp/internal/approver"
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

func TestCloudFactsRefreshesForUnknownGroups(t *testing.T) {
	inst := cloud.Instance{
		ID: "i-0123456789abcdef0", ProviderID: "aws:///us-east-1a/i-0123456789abcdef0", PrivateDNSName: "ip-127-1-0-4.ec2.internal",
		State: cloud.InstanceStateRunning, GroupName: "kelp-c-general", LaunchTime: time.Unix(0, 0),
	}
	p := &fakeProvider{instances: []cloud.Instance{inst}, next: []cloud.NodeGroup{{ID: "kelp-c-general", Pool: "general"}}}
	got, err := CloudFacts{Provider: p}.InstancesByPrivateDNSName(context.Background(), inst.PrivateDNSName)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || !got[0].Managed || got[0].Pool != "general" || got[0].State != approver.InstanceRunning {
		t.Fatalf("instance facts = %+v; a group created after the last refresh must count as managed", got)
	}
	if p.refreshes != 1 {
		t.Errorf("refreshes = %d, want 1", p.refreshes)
	}
	// An instance of a group that stays unknown is not managed.
	p.next = nil
	p.snapshot = nil
	got, _ = CloudFacts{Provider: p}.InstancesByPrivateDNSName(context.Background(), inst.PrivateDNSName)
	if got[0].Managed {
		t.Error("an instance of an unmanaged group counted as managed")
	}
	if none, err := (CloudFacts{Provider: p}).InstancesByPrivateDNSName(context.Background(), "nobody"); err != nil || len(none) != 0 {
		t.Errorf("unknown name: %v %v, want none and no error", none, err)
	}
}

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
