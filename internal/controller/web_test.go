package controller

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/kelp-dev/kelp/internal/approver"
	"github.com/kelp-dev/kelp/internal/autoscaler/loop"
	"github.com/kelp-dev/kelp/internal/cloud/cloudtest"
	"github.com/kelp-dev/kelp/internal/testenv"
	"github.com/kelp-dev/kelp/internal/webview"
)

// TestStandbyServesTheWebView: a replica that does not hold the Lease
// serves the web view from its own watches, with the leader's decisions
// from the status ConfigMap.
func TestStandbyServesTheWebView(t *testing.T) {
	env := testenv.Get(t)
	leases := env.Client.CoordinationV1().Leases(metav1.NamespaceSystem)
	holdLease(t, leases)
	t.Cleanup(func() {
		if l, err := leases.Get(context.Background(), "kelp-controller", metav1.GetOptions{}); err == nil {
			l.Spec.HolderIdentity = ptr.To("")
			_, _ = leases.Update(context.Background(), l, metav1.UpdateOptions{})
		}
	})
	cms := env.Client.CoreV1().ConfigMaps(metav1.NamespaceSystem)
	_ = cms.Delete(context.Background(), loop.StatusConfigMap, metav1.DeleteOptions{})
	_, err := cms.Create(context.Background(), &corev1.ConfigMap{ObjectMeta: metaInKubeSystem(loop.StatusConfigMap), Data: map[string]string{
		"status": "autoscaler: {expanders: priority}\npools:\n- {group: g-standby, pool: standby, minSize: 1, maxSize: 9, targetSize: 2, ready: 2, upcoming: 0}\n"}},
		metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cms.Delete(context.Background(), loop.StatusConfigMap, metav1.DeleteOptions{}) })
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{ClusterName: "kelp-test", LeaderElect: true, Approve: approver.ModeOff, WebAddr: addr,
			Autoscaler: &loop.Options{}}, Deps{Client: env.Client, Cloud: cloudtest.New(), Scaler: noScaler{}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	var last webview.Payload
	testenv.EventuallyTrue(t, time.Minute, "the standby's view shows the leader's pool", func() bool {
		resp, err := http.Get("http://" + addr + "/api/view")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&last) != nil {
			return false
		}
		for _, p := range last.View.Pools {
			if p.Name == "standby" && p.Desired == 2 && p.Max == 9 {
				return true
			}
		}
		return false
	})
	if last.View.Leading == nil || *last.View.Leading || last.View.Autoscaler == nil || last.View.Autoscaler.Expanders != "priority" {
		t.Fatalf("standby view: leading %v (want false, present), autoscaler %+v", last.View.Leading, last.View.Autoscaler)
	}
}
