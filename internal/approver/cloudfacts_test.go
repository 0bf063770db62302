package approver

import (
	"context"
	"errors"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/cloud/cloudtest"
)

var _ Cloud = (*cloudtest.Provider)(nil)

// testCloud is the cloud of the test cluster's managed groups, holding
// insts: each in its group when that is managed, else in none.
func testCloud(insts ...cloud.Instance) *cloudtest.Provider {
	managed := testManagedGroups()
	byGroup := map[string][]cloud.Instance{}
	var others []cloud.Instance
	for _, i := range insts {
		if _, ok := managed[i.GroupName]; ok {
			byGroup[i.GroupName] = append(byGroup[i.GroupName], i)
		} else {
			others = append(others, i)
		}
	}
	var groups []cloud.NodeGroup
	for id, pool := range managed {
		groups = append(groups, cloud.NodeGroup{ID: id, Pool: pool, Instances: byGroup[id]})
	}
	p := cloudtest.New(groups...)
	p.AddInstances(others...)
	return p
}

func TestGatherCloudRefreshesForUnknownGroups(t *testing.T) {
	inst := cloud.Instance{
		ID: "i-0123456789abcdef0", ProviderID: "aws:///us-east-1a/i-0123456789abcdef0", PrivateDNSName: "ip-127-1-0-4.ec2.internal",
		State: cloud.InstanceStateRunning, GroupName: "kelp-c-general", LaunchTime: time.Unix(0, 0),
	}
	// The group is created after the last refresh.
	p := cloudtest.New()
	p.AddInstances(inst)
	p.SetGroups(cloud.NodeGroup{ID: "kelp-c-general", Pool: "general"})
	var f Facts
	gatherCloud(context.Background(), p, &f, inst.PrivateDNSName)
	if f.CloudErr != nil || len(f.InstancesByName) != 1 || f.InstancesByName[0].State != cloud.InstanceStateRunning {
		t.Fatalf("facts = %+v", f)
	}
	if pool, ok := f.ManagedGroups["kelp-c-general"]; !ok || pool != "general" {
		t.Fatalf("managed groups = %v; a group created after the last refresh must count as managed", f.ManagedGroups)
	}
	if n := p.Refreshes(); n != 1 {
		t.Errorf("refreshes = %d, want 1", n)
	}
	if inv := p.Invalidated(); len(inv) != 1 || inv[0] != inst.ID {
		t.Errorf("invalidated %v, want the instance read so the next decision reads the cloud again", inv)
	}
	// An instance of a group that stays unknown is not managed.
	p.SetGroups()
	if err := p.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
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
	dead := cloud.Instance{ID: "i-00000002", ProviderID: "aws:///a/i-00000002", State: cloud.InstanceStateTerminated, GroupName: "elsewhere"}
	p := testCloud(freshInstance(), dead)
	for _, tt := range []struct {
		providerID string
		want       string // ID of the Node's instance, "" for none
	}{
		{freshInstance().ProviderID, testInstance},
		{dead.ProviderID, dead.ID},
		{"aws:///a/i-00000003", ""},
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
	p := testCloud(freshInstance())
	timeout := errors.New("timeout")
	p.SetErr(timeout)
	f := Facts{Node: &corev1.Node{Spec: corev1.NodeSpec{ProviderID: freshInstance().ProviderID}}}
	gatherCloud(context.Background(), p, &f, testNode)
	if !errors.Is(f.CloudErr, timeout) || f.InstancesByName != nil || f.NodeInstance != nil || f.ManagedGroups != nil {
		t.Errorf("facts after a cloud error: %+v", f)
	}
}
