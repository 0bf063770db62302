package nodelifecycle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"

	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/cloud/cloudtest"
)

var _ Cloud = (*cloudtest.Provider)(nil)

func TestInstanceStatus(t *testing.T) {
	running := cloud.Instance{ID: "i-00000001", ProviderID: "aws:///a/i-00000001", State: cloud.InstanceStateRunning}
	dead := cloud.Instance{ID: "i-00000002", ProviderID: "aws:///a/i-00000002", State: cloud.InstanceStateTerminated}
	c := cloudtest.New(cloud.NodeGroup{ID: "g", Instances: []cloud.Instance{running}})
	c.AddInstances(dead)
	alive, err := aliveMembers(context.Background(), c)
	if err != nil || !alive["aws:///a/i-00000001"] || len(alive) != 1 {
		t.Fatalf("aliveMembers = %v, %v; want only i-00000001", alive, err)
	}
	for id, want := range map[string]InstanceStatus{"aws:///a/i-00000001": InstanceAlive, "aws:///a/i-00000002": InstanceTerminated, "aws:///a/i-00000003": InstanceGone} {
		if got, err := instanceStatus(context.Background(), c, alive, id); err != nil || got != want {
			t.Errorf("instanceStatus(%s) = %v, %v; want %v", id, got, err, want)
		}
	}
	c.FailInstance("i-00000004", errors.New("cloud unavailable"))
	if _, err := instanceStatus(context.Background(), c, alive, "aws:///a/i-00000004"); err == nil {
		t.Error("a failed lookup gave a status")
	}
}

// countingCloud counts the reads of the managed groups.
type countingCloud struct {
	*cloudtest.Provider
	groupReads int
}

func (c *countingCloud) NodeGroups(ctx context.Context) ([]cloud.NodeGroup, error) {
	c.groupReads++
	return c.Provider.NodeGroups(ctx)
}

// TestRefreshReadsGroupsOnce: one Refresh reads the groups once, whatever
// the number of Nodes (it read them once a Node, cloning every group each
// time: at 1,000 nodes a quarter of a gigabyte of garbage every period).
func TestRefreshReadsGroupsOnce(t *testing.T) {
	var insts []cloud.Instance
	var nodes []runtime.Object
	for i := range 20 {
		id := fmt.Sprintf("i-%08d", i+1)
		insts = append(insts, cloud.Instance{ID: id, ProviderID: "aws:///a/" + id, State: cloud.InstanceStateRunning})
		nodes = append(nodes, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: id}, Spec: corev1.NodeSpec{ProviderID: "aws:///a/" + id}})
	}
	c := &countingCloud{Provider: cloudtest.New(cloud.NodeGroup{ID: "g", Instances: insts})}
	client := fake.NewClientset(nodes...)
	indexer := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	for _, n := range nodes {
		if err := indexer.Add(n); err != nil {
			t.Fatal(err)
		}
	}
	ctl := &Controller{Client: client, Nodes: corelisters.NewNodeLister(indexer), Cloud: c, Recorder: record.NewFakeRecorder(10),
		Logger: slog.New(slog.DiscardHandler), Metrics: NewMetrics(prometheus.NewRegistry()), Period: time.Second}
	if err := ctl.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if c.groupReads != 1 {
		t.Errorf("one Refresh of 20 Nodes read the groups %d times, want 1", c.groupReads)
	}
	if left, _ := client.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{}); len(left.Items) != 20 {
		t.Errorf("%d of 20 Nodes of running instances left", len(left.Items))
	}
}
