package deploy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/kelp-dev/kelp/internal/approver"
	"github.com/kelp-dev/kelp/internal/autoscaler"
	"github.com/kelp-dev/kelp/internal/autoscaler/loop"
	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/cloud/cloudtest"
	"github.com/kelp-dev/kelp/internal/controller"
	"github.com/kelp-dev/kelp/internal/testenv"
)

// recordingScaler accepts every change and remembers it.
type recordingScaler struct {
	mu    sync.Mutex
	calls []string
}

func (s *recordingScaler) SetTargetSize(_ context.Context, group string, n int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, "set "+group)
	return nil
}

func (s *recordingScaler) DeleteInstances(_ context.Context, group string, ids []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, "delete "+group+" "+strings.Join(ids, ","))
	return nil
}

// TestChartRBACRunsTheController applies the chart's render (server-side,
// beside a minimal ServiceMonitor CRD) and runs kelp's controller as the
// chart's ServiceAccount, with a token from the TokenRequest API: it takes
// its Lease, syncs its informers, approves a node's renewal CSR and runs
// autoscaler cycles (scale-down included), and nothing it asks is
// forbidden.
func TestChartRBACRunsTheController(t *testing.T) {
	env := testenv.Get(t)
	ctx := context.Background()
	applyAll(t, env.Config, decodeUnstructured(t, "testdata/servicemonitor-crd.yaml"))
	applyAll(t, env.Config, decodeUnstructured(t, chartAll))
	client := kubernetes.NewForConfigOrDie(tokenConfig(t, env.Config, env.Client, "kube-system", "kelp-controller"))

	var idBytes [8]byte
	_, _ = rand.Read(idBytes[:])
	suffix := hex.EncodeToString(idBytes[:3])
	nodeName, instanceID := "ip-10-78-0-1-"+suffix+".ec2.internal", "i-0"+hex.EncodeToString(idBytes[:])
	inst := cloud.Instance{
		ID: instanceID, ProviderID: "aws:///us-east-1a/" + instanceID, State: cloud.InstanceStateRunning,
		GroupName: "kelp-test-chart", Pool: "chart", PrivateDNSName: nodeName, PrivateIPs: []string{"10.78.0.1"},
		LaunchTime: time.Now().Add(-time.Hour),
	}
	provider := cloudtest.New(cloud.NodeGroup{ID: "kelp-test-chart", Pool: "chart", MaxSize: 1, Instances: []cloud.Instance{inst}})
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: nodeName, Labels: map[string]string{"kelp.dev/pool": "chart"}},
		Spec: corev1.NodeSpec{ProviderID: inst.ProviderID}}
	if _, err := env.Client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Client.CoreV1().Nodes().Delete(context.Background(), nodeName, metav1.DeleteOptions{}) })

	var logs logBuffer
	logger := capturedLogger(t, &logs)
	reg := prometheus.NewRegistry()
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- controller.Run(runCtx, controller.Options{
			ClusterName: testenv.ClusterName, Approve: approver.ModeAuto, LeaderElect: true,
			Autoscaler: &loop.Options{ScanInterval: time.Second, ScaleDownEnabled: true, ScaleDown: autoscaler.DefaultScaleDownOptions()},
		}, controller.Deps{Client: client, Cloud: provider, Scaler: &recordingScaler{}, Registry: reg, Logger: logger})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("controller.Run: %v", err)
		}
		if f := logs.forbidden(); len(f) > 0 {
			t.Errorf("the chart's RBAC refused the controller:\n%s", strings.Join(f, "\n"))
		}
		if t.Failed() {
			t.Logf("controller logs:\n%s", logs.String())
		}
	}()

	testenv.Eventually(t, time.Minute, "the Lease kube-system/kelp-controller taken", func(ctx context.Context) (bool, error) {
		l, err := env.Client.CoordinationV1().Leases("kube-system").Get(ctx, "kelp-controller", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return err == nil && l.Spec.HolderIdentity != nil && *l.Spec.HolderIdentity != "", err
	})
	approveRenewal(t, env.Config, env.Client, nodeName)
	testenv.EventuallyTrue(t, time.Minute, "two autoscaler cycles", func() bool {
		return counterSum(t, reg, "kelp_autoscaler_cycles_total") >= 2
	})
}

// approveRenewal has nodeName renew its client certificate and waits for
// kelp to approve it and kube-controller-manager to issue it.
func approveRenewal(t *testing.T, admin *rest.Config, client kubernetes.Interface, nodeName string) {
	t.Helper()
	c := rest.CopyConfig(admin)
	c.Impersonate = rest.ImpersonationConfig{UserName: "system:node:" + nodeName, Groups: []string{"system:nodes", "system:authenticated"}}
	asNode := kubernetes.NewForConfigOrDie(c)
	created, err := testenv.CreateCSR(asNode, testenv.NodeClientCSR(t, nodeName), 30*time.Second)
	if err != nil {
		t.Fatalf("create the renewal CSR as the node: %v", err)
	}
	csrs := client.CertificatesV1().CertificateSigningRequests()
	t.Cleanup(func() { _ = csrs.Delete(context.Background(), created.Name, metav1.DeleteOptions{}) })
	testenv.Eventually(t, time.Minute, "the renewal approved and issued", func(ctx context.Context) (bool, error) {
		got, err := csrs.Get(ctx, created.Name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		if c := approver.ConditionOf(got); c == approver.Denied || c == approver.Failed {
			t.Fatalf("renewal %s: %+v", c, got.Status.Conditions)
		}
		return approver.ConditionOf(got) == approver.Issued, nil
	})
}
