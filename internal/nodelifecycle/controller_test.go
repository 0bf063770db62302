package nodelifecycle

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
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

func TestControllerRefresh(t *testing.T) {
	nodes := []*corev1.Node{
		node("alive", "aws:///us-east-1a/i-00000001"),
		node("terminated", "aws:///us-east-1a/i-00000002"),
		node("gone", "aws:///us-east-1a/i-00000003"),
		node("unknown-to-cloud-api", "aws:///us-east-1a/i-00000004"), // lookup fails: left alone
		node("kind", "kind://docker/kind/kind-worker"),
	}
	indexer := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	var objs []runtime.Object
	for _, n := range nodes {
		_ = indexer.Add(n)
		objs = append(objs, n)
	}
	client := fake.NewClientset(objs...)
	recorder := record.NewFakeRecorder(10)
	alive := cloud.Instance{ID: "i-00000001", ProviderID: "aws:///us-east-1a/i-00000001", State: cloud.InstanceStateRunning}
	clouds := cloudtest.New(cloud.NodeGroup{ID: "g", Instances: []cloud.Instance{alive}})
	clouds.AddInstances(cloud.Instance{ID: "i-00000002", ProviderID: "aws:///us-east-1a/i-00000002", State: cloud.InstanceStateTerminated})
	clouds.FailInstance("i-00000004", errors.New("cloud unavailable"))
	lc := &Controller{
		Client: client, Nodes: corelisters.NewNodeLister(indexer), Recorder: recorder, Cloud: clouds,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: NewMetrics(prometheus.NewRegistry()),
	}
	err := lc.Refresh(context.Background())
	if err == nil || !strings.Contains(err.Error(), "unknown-to-cloud-api") {
		t.Errorf("refresh error = %v, want the failed lookup named", err)
	}
	_ = lc.Refresh(context.Background()) // a second refresh reports nothing twice
	if n := clouds.Refreshes(); n != 2 {
		t.Errorf("cloud refreshes = %d, want one per refresh", n)
	}
	left, err := client.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, n := range left.Items {
		names = append(names, n.Name)
	}
	if strings.Join(names, ",") != "alive,kind,unknown-to-cloud-api" {
		t.Errorf("nodes left = %v, want alive, kind and unknown-to-cloud-api", names)
	}
	close(recorder.Events)
	var notInCloud int
	for e := range recorder.Events {
		if strings.Contains(e, "NotInCloud") {
			notInCloud++
		}
	}
	if notInCloud != 1 {
		t.Errorf("NotInCloud events = %d, want exactly 1", notInCloud)
	}
	for _, reason := range []string{ReasonInstanceTerminated, ReasonInstanceGone} {
		if n := value(t, lc.Metrics.Deletions.WithLabelValues(reason)); n != 1 {
			t.Errorf("deletions counted for %s = %v, want 1", reason, n)
		}
	}
	if n := value(t, lc.Metrics.NotInCloud); n != 1 {
		t.Errorf("nodes not in cloud = %v, want 1", n)
	}
}

// value reads a counter or gauge.
func value(t *testing.T, m prometheus.Metric) float64 {
	t.Helper()
	var out dto.Metric
	if err := m.Write(&out); err != nil {
		t.Fatal(err)
	}
	if c := out.GetCounter(); c != nil {
		return c.GetValue()
	}
	return out.GetGauge().GetValue()
}
