package controller

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
)

type statuses map[string]InstanceStatus

func (s statuses) InstanceStatus(_ context.Context, id string) (InstanceStatus, error) {
	st, ok := s[id]
	if !ok {
		return 0, errors.New("cloud unavailable")
	}
	return st, nil
}

func node(name, providerID string) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID("uid-" + name)}, Spec: corev1.NodeSpec{ProviderID: providerID}}
}

func TestNodeLifecycleRefresh(t *testing.T) {
	nodes := []*corev1.Node{
		node("alive", "aws:///us-east-1a/i-1"),
		node("terminated", "aws:///us-east-1a/i-2"),
		node("gone", "aws:///us-east-1a/i-3"),
		node("unknown-to-cloud-api", "aws:///us-east-1a/i-4"), // lookup fails: left alone
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
	lc := &NodeLifecycle{
		Client: client, Nodes: corelisters.NewNodeLister(indexer), Recorder: recorder,
		Instances: statuses{"aws:///us-east-1a/i-1": InstanceAlive, "aws:///us-east-1a/i-2": InstanceTerminated, "aws:///us-east-1a/i-3": InstanceGone},
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: NewMetrics(prometheus.NewRegistry()),
	}
	err := lc.Refresh(context.Background())
	if err == nil || !strings.Contains(err.Error(), "unknown-to-cloud-api") {
		t.Errorf("refresh error = %v, want the failed lookup named", err)
	}
	_ = lc.Refresh(context.Background()) // a second refresh reports nothing twice
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
}
