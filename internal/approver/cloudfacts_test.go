package approver

import (
	"context"
	"errors"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/kelp-dev/kelp/internal/cloud"
)

// fakeCloud serves a fixed set of instances; its group snapshot only
// changes on Refresh, like the AWS provider's. err, when set, fails every
// instance lookup.
type fakeCloud struct {
	instances   []cloud.Instance
	snapshot    []cloud.NodeGroup
	next        []cloud.NodeGroup
	refreshes   int
	invalidated []string
	err         error
}

var _ Cloud = (*fakeCloud)(nil)

func (f *fakeCloud) Refresh(context.Context) error {
	f.refreshes++
	f.snapshot = f.next
	return nil
}

func (f *fakeCloud) NodeGroups(context.Context) ([]cloud.NodeGroup, error) { return f.snapshot, nil }

func (f *fakeCloud) InstanceForNode(_ context.Context, providerID string) (cloud.Instance, error) {
	if f.err != nil {
		return cloud.Instance{}, f.err
	}
	for _, i := range f.instances {
		if i.ProviderID == providerID {
			return i, nil
		}
	}
	return cloud.Instance{}, cloud.ErrNotFound
}

func (f *fakeCloud) InstanceByPrivateDNSName(_ context.Context, name string) ([]cloud.Instance, error) {
	if f.err != nil {
		return nil, f.err
	}
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

func (f *fakeCloud) Invalidate(id string) { f.invalidated = append(f.invalidated, id) }

// testCloud knows freshInstance in the managed groups of the test cluster.
func testCloud() *fakeCloud {
	var groups []cloud.NodeGroup
	for id, pool := range testManagedGroups() {
		groups = append(groups, cloud.NodeGroup{ID: id, Pool: pool})
	}
	return &fakeCloud{instances: []cloud.Instance{freshInstance()}, snapshot: groups, next: groups}
}

func TestGatherCloudRefreshesForUnknownGroups(t *testing.T) {
	inst := cloud.Instance{
		ID: "i-0123456789abcdef0", ProviderID: "aws:///us-east-1a/i-0123456789abcdef0", PrivateDNSName: "ip-127-1-0-4.ec2.internal",
		State: cloud.InstanceStateRunning, GroupName: "kelp-c-general", LaunchTime: time.Unix(0, 0),
	}
	p := &fakeCloud{instances: []cloud.Instance{inst}, next: []cloud.NodeGroup{{ID: "kelp-c-general", Pool: "general"}}}
	var f Facts
	gatherCloud(context.Background(), p, &f, inst.PrivateDNSName)
	if f.CloudErr != nil || len(f.InstancesByName) != 1 || f.InstancesByName[0].State != cloud.InstanceStateRunning {
		t.Fatalf("facts = %+v", f)
	}
	if pool, ok := f.ManagedGroups["kelp-c-general"]; !ok || pool != "general" {
		t.Fatalf("managed groups = %v; a group created after the last refresh must count as managed", f.ManagedGroups)
	}
	if p.refreshes != 1 {
		t.Errorf("refreshes = %d, want 1", p.refreshes)
	}
	if len(p.invalidated) != 1 || p.invalidated[0] != inst.ID {
		t.Errorf("invalidated %v, want the instance read so the next decision reads the cloud again", p.invalidated)
	}
	// An instance of a group that stays unknown is not managed.
	p.next, p.snapshot = nil, nil
	f = Facts{}
	gatherCloud(context.Background(), p, &f, inst.PrivateDNSName)
	if _, ok := f.ManagedGroups["kelp-c-general"]; ok || f.CloudErr != nil {
		t.Errorf("an instance of an unmanaged group counted as managed: %+v", f)
	}
	f = Facts{}
	if gatherCloud(context.Background(), p, &f, "nobody"); f.CloudErr != nil || len(f.InstancesByName) != 0 {
		t.Errorf("unknown name: %+v, want none and no error", f)
	}
}

func TestGatherCloudNodeInstance(t *testing.T) {
	dead := cloud.Instance{ID: "i-2", ProviderID: "aws:///a/i-2", State: cloud.InstanceStateTerminated, GroupName: "elsewhere"}
	p := testCloud()
	p.instances = append(p.instances, dead)
	for _, tt := range []struct {
		providerID string
		want       string // ID of the Node's instance, "" for none
	}{
		{freshInstance().ProviderID, testInstance},
		{dead.ProviderID, dead.ID},
		{"aws:///a/i-3", ""},
		{"kind://docker/kind/kind-worker", ""},
	} {
		f := Facts{Node: &corev1.Node{Spec: corev1.NodeSpec{ProviderID: tt.providerID}}}
		gatherCloud(context.Background(), p, &f, testNode)
		got := ""
		if f.NodeInstance != nil {
			got = f.NodeInstance.ID
		}
		if f.CloudErr != nil || got != tt.want || len(f.InstancesByName) != 1 {
			t.Errorf("Node of %s: NodeInstance %q, CloudErr %v, %d by name; want %q", tt.providerID, got, f.CloudErr, len(f.InstancesByName), tt.want)
		}
	}
}

func TestGatherCloudErrorIsAFact(t *testing.T) {
	p := testCloud()
	p.err = errors.New("timeout")
	f := Facts{Node: &corev1.Node{Spec: corev1.NodeSpec{ProviderID: freshInstance().ProviderID}}}
	gatherCloud(context.Background(), p, &f, testNode)
	if !errors.Is(f.CloudErr, p.err) || f.InstancesByName != nil || f.NodeInstance != nil || f.ManagedGroups != nil {
		t.Errorf("facts after a cloud error: %+v", f)
	}
}
