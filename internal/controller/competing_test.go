package controller

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kelp-dev/kelp/internal/approver"
	"github.com/kelp-dev/kelp/internal/cloud/cloudtest"
	"github.com/kelp-dev/kelp/internal/competingapprovers"
	"github.com/kelp-dev/kelp/internal/testenv"
)

// TestRefusesBesideNodeClientApprover: with a binding that lets kelp's
// bootstrap tokens create certificatesigningrequests/nodeclient, Run in
// auto mode returns an error naming the binding; with
// AllowCompetingApprovers (or in manual mode) it runs and the gauge says
// so.
func TestRefusesBesideNodeClientApprover(t *testing.T) {
	env := testenv.Get(t)
	ctx := context.Background()
	const name = "auto-approve-csrs-for-group"
	crbs := env.Client.RbacV1().ClusterRoleBindings()
	if _, err := crbs.Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "system:certificates.k8s.io:certificatesigningrequests:nodeclient"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: "system:bootstrappers"}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	nodeclient := func(want bool) func(context.Context) (bool, error) {
		return func(ctx context.Context) (bool, error) {
			r, err := competingapprovers.Checker{Client: env.Client}.Check(ctx, nil)
			return err == nil && r.Allowed[competingapprovers.NodeClient] == want, err
		}
	}
	testenv.Eventually(t, 30*time.Second, "the authorizer to see "+name, nodeclient(true))
	defer func() {
		if err := crbs.Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
			t.Error(err)
		}
		testenv.Eventually(t, 30*time.Second, "the authorizer to forget "+name, nodeclient(false))
	}()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))

	err := Run(ctx, Options{ClusterName: "kelp-test", Approve: approver.ModeAuto},
		Deps{Client: env.Client, Cloud: cloudtest.New(), Registry: prometheus.NewRegistry(), Logger: quiet})
	if !errors.Is(err, competingapprovers.ErrCompetingApprover) {
		t.Fatalf("Run in auto mode = %v, want a refusal", err)
	}
	testenv.ErrorContains(t, err, "ClusterRoleBinding "+name, "--allow-competing-approvers")

	for _, o := range []Options{
		{ClusterName: "kelp-test", Approve: approver.ModeAuto, AllowCompetingApprovers: true},
		{ClusterName: "kelp-test", Approve: approver.ModeManual},
	} {
		runCtx, cancel := context.WithCancel(ctx)
		reg := prometheus.NewRegistry()
		done := make(chan error, 1)
		go func() {
			done <- Run(runCtx, o, Deps{Client: env.Client, Cloud: cloudtest.New(), Registry: reg, Logger: quiet})
		}()
		testenv.EventuallyTrue(t, time.Minute, "kelp_competing_approvers{check=nodeclient} 1", func() bool {
			mfs, _ := reg.Gather()
			for _, mf := range mfs {
				for _, m := range mf.GetMetric() {
					if mf.GetName() == "kelp_competing_approvers" && m.GetLabel()[0].GetValue() == "nodeclient" {
						return m.GetGauge().GetValue() == 1
					}
				}
			}
			return false
		})
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run(%+v) = %v", o, err)
		}
	}
}
