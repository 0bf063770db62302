package nodelifecycle

import (
	"context"
	"errors"
	"testing"

	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/cloud/cloudtest"
)

var _ Cloud = (*cloudtest.Provider)(nil)

func TestInstanceStatus(t *testing.T) {
	alive := cloud.Instance{ID: "i-00000001", ProviderID: "aws:///a/i-00000001", State: cloud.InstanceStateRunning}
	dead := cloud.Instance{ID: "i-00000002", ProviderID: "aws:///a/i-00000002", State: cloud.InstanceStateTerminated}
	c := cloudtest.New(cloud.NodeGroup{ID: "g", Instances: []cloud.Instance{alive}})
	c.AddInstances(dead)
	for id, want := range map[string]InstanceStatus{"aws:///a/i-00000001": InstanceAlive, "aws:///a/i-00000002": InstanceTerminated, "aws:///a/i-00000003": InstanceGone} {
		if got, err := instanceStatus(context.Background(), c, id); err != nil || got != want {
			t.Errorf("instanceStatus(%s) = %v, %v; want %v", id, got, err, want)
		}
	}
	c.FailInstance("i-00000004", errors.New("cloud unavailable"))
	if _, err := instanceStatus(context.Background(), c, "aws:///a/i-00000004"); err == nil {
		t.Error("a failed lookup gave a status")
	}
}
