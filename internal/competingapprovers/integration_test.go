package competingapprovers

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/kelp-dev/kelp/internal/autoscaler/loop"
	"github.com/kelp-dev/kelp/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// grant creates a ClusterRoleBinding of role to group, waits until the
// RBAC authorizer answers with it, and removes it (waiting again) when the
// test ends.
func grant(t *testing.T, name, role, group string, check Check) {
	t.Helper()
	env := testenv.Get(t)
	ctx := context.Background()
	crbs := env.Client.RbacV1().ClusterRoleBindings()
	_, err := crbs.Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: group}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create clusterrolebinding %s: %v", name, err)
	}
	allowed := func(want bool) func(context.Context) (bool, error) {
		return func(ctx context.Context) (bool, error) {
			r, err := Checker{Client: env.Client}.Check(ctx, nil)
			return err == nil && r.Allowed[check] == want, err
		}
	}
	testenv.Eventually(t, 30*time.Second, "the authorizer to see "+name, allowed(true))
	t.Cleanup(func() {
		if err := crbs.Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("delete clusterrolebinding %s: %v", name, err)
		}
		testenv.Eventually(t, 30*time.Second, "the authorizer to forget "+name, allowed(false))
	})
}

// TestFreshControlPlaneFindsNothing: kelp's own control plane (kelp up,
// the tests') runs no csrapproving and binds neither role, so the checks
// find nothing and kelp starts in auto mode.
func TestFreshControlPlaneFindsNothing(t *testing.T) {
	env := testenv.Get(t)
	r, err := Checker{Client: env.Client}.Check(context.Background(), []string{"general", "gpu"})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Findings) != 0 || r.Allowed[NodeClient] || r.Allowed[SelfNodeClient] {
		t.Errorf("fresh control plane: %+v, want no findings", r)
	}
	m := &Monitor{Checker: Checker{Client: env.Client}, Refuse: true, Logger: quiet, Metrics: NewMetrics(prometheus.NewRegistry())}
	if err := m.Start(context.Background()); err != nil {
		t.Errorf("Start refused on a fresh control plane: %v", err)
	}
}

// TestNodeClientBindingRefusesStart: a binding that lets every bootstrap
// token create certificatesigningrequests/nodeclient (Kubernetes' TLS
// bootstrapping guide shows one) makes Start refuse in auto mode, naming
// the binding, and only report otherwise.
func TestNodeClientBindingRefusesStart(t *testing.T) {
	env := testenv.Get(t)
	grant(t, "auto-approve-csrs-for-group", "system:certificates.k8s.io:certificatesigningrequests:nodeclient", "system:bootstrappers", NodeClient)

	r, err := Checker{Client: env.Client}.Check(context.Background(), []string{"general"})
	if err != nil {
		t.Fatal(err)
	}
	f, ok := r.Fatal()
	if !ok || len(f.Grants) != 1 || f.Grants[0].Binding != "auto-approve-csrs-for-group" || f.Grants[0].Subject != "Group system:bootstrappers" {
		t.Fatalf("report %+v: want a fatal finding naming auto-approve-csrs-for-group and its subject", r)
	}

	m := &Monitor{Checker: Checker{Client: env.Client}, Refuse: true, Logger: quiet, Metrics: NewMetrics(prometheus.NewRegistry())}
	err = m.Start(context.Background())
	if !errors.Is(err, ErrCompetingApprover) {
		t.Fatalf("Start = %v, want ErrCompetingApprover", err)
	}
	testenv.ErrorContains(t, err, "remove ClusterRoleBinding auto-approve-csrs-for-group", "subject Group system:bootstrappers", "--allow-competing-approvers")

	m = &Monitor{Checker: Checker{Client: env.Client}, Logger: quiet, Metrics: NewMetrics(prometheus.NewRegistry())}
	if err := m.Start(context.Background()); err != nil {
		t.Errorf("Start without Refuse = %v, want nil (report only)", err)
	}
}

// TestMonitorReportsSelfNodeClient runs the monitor beside kubeadm's
// renewal binding: no refusal, but the gauge, the status ConfigMap and a
// Warning Event on it say so; once the binding is gone, the next period
// clears them.
func TestMonitorReportsSelfNodeClient(t *testing.T) {
	env := testenv.Get(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const binding = "kubeadm:node-autoapprove-certificate-rotation"
	grant(t, binding, "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient", "system:nodes", SelfNodeClient)

	broadcaster := record.NewBroadcaster()
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: env.Client.CoreV1().Events("")})
	defer broadcaster.Shutdown()
	recorder := broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "kelp-test"})
	clk := clocktesting.NewFakeClock(time.Now())
	metrics := NewMetrics(prometheus.NewRegistry())
	m := &Monitor{Checker: Checker{Client: env.Client}, Refuse: true, Logger: quiet, Metrics: metrics, Clock: clk}
	if err := m.Start(ctx); err != nil {
		t.Fatalf("Start refused for a selfnodeclient binding: %v", err)
	}
	done := make(chan struct{})
	go func() { defer close(done); m.Run(ctx, env.Client, recorder) }()
	defer func() { cancel(); <-done }()

	gauge := func(c Check) float64 {
		var out dto.Metric
		if err := metrics.Competing.WithLabelValues(string(c)).Write(&out); err != nil {
			t.Fatal(err)
		}
		return out.GetGauge().GetValue()
	}
	status := func() string {
		cm, err := env.Client.CoreV1().ConfigMaps("kube-system").Get(ctx, StatusConfigMap, metav1.GetOptions{})
		if err != nil {
			return ""
		}
		return cm.Data[StatusKey]
	}
	events := func(reason string) bool {
		list, err := env.Client.CoreV1().Events("kube-system").List(ctx, metav1.ListOptions{FieldSelector: fields.Set{
			"involvedObject.kind": "ConfigMap", "involvedObject.name": StatusConfigMap, "reason": reason}.String()})
		return err == nil && len(list.Items) > 0
	}
	testenv.EventuallyTrue(t, 30*time.Second, "the gauge, status and Event to report selfnodeclient", func() bool {
		return gauge(SelfNodeClient) == 1 && strings.Contains(status(), binding) && events(EventSelfNodeClient)
	})
	if gauge(NodeClient) != 0 {
		t.Errorf("nodeclient gauge %v, want 0", gauge(NodeClient))
	}
	testenv.Contains(t, "status", status(), "check: selfnodeclient\n  competingApprover: true", "check: nodeclient\n  competingApprover: false")

	if err := env.Client.RbacV1().ClusterRoleBindings().Delete(ctx, binding, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.EventuallyTrue(t, 30*time.Second, "the next period to clear the finding", func() bool {
		clk.Step(DefaultPeriod)
		return gauge(SelfNodeClient) == 0 && !strings.Contains(status(), binding) && events(EventGone)
	})
}

func TestStatusConfigMapIsTheAutoscalers(t *testing.T) {
	if StatusConfigMap != loop.StatusConfigMap {
		t.Errorf("StatusConfigMap %q, the autoscaler writes %q: users look at one", StatusConfigMap, loop.StatusConfigMap)
	}
}
