package controller

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"

	"github.com/kelp-dev/kelp/internal/approver"
	"github.com/kelp-dev/kelp/internal/bootstrap"
	"github.com/kelp-dev/kelp/internal/cloud/cloudtest"
	"github.com/kelp-dev/kelp/internal/testenv"
)

// TestEventsGoThroughTheEventClient: with Deps.EventClient, the Events of
// kelp's decisions are sent through it, and none through Client, whose
// rate limit stays for the work.
func TestEventsGoThroughTheEventClient(t *testing.T) {
	env := testenv.Get(t)
	ctx, cancel := context.WithCancel(context.Background())
	if err := bootstrap.EnsureJoinRBAC(ctx, env.Client); err != nil {
		t.Fatal(err)
	}
	var eventWrites atomic.Int64
	cfg := rest.CopyConfig(env.Config)
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(r *http.Request) (*http.Response, error) {
			if r.Method != http.MethodGet && strings.Contains(r.URL.Path, "/events") {
				eventWrites.Add(1)
			}
			return rt.RoundTrip(r)
		})
	})
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	events := fake.NewClientset()
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{ClusterName: testenv.ClusterName, Approve: approver.ModeAuto},
			Deps{Client: client, EventClient: events, Cloud: cloudtest.New(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	// A join through a kelp pool's token for a node no instance has: kelp
	// decides it and says so in an Event on the CSR.
	token := impersonate(t, env.Config, "system:bootstrap:evts01", "system:bootstrappers", "system:bootstrappers:kelp",
		"system:bootstrappers:kelp:events", "system:authenticated")
	csr := testenv.NodeClientCSR(t, "ip-10-9-8-7.ec2.internal")
	created, err := testenv.CreateCSR(token, csr, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = env.Client.CertificatesV1().CertificateSigningRequests().Delete(context.Background(), created.Name, metav1.DeleteOptions{})
	})
	testenv.Eventually(t, time.Minute, "an Event on the CSR through the event client", func(ctx context.Context) (bool, error) {
		list, err := events.CoreV1().Events("").List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		for _, e := range list.Items {
			if e.InvolvedObject.Name == created.Name {
				return true, nil
			}
		}
		return false, nil
	})
	if n := eventWrites.Load(); n != 0 {
		t.Errorf("%d Event writes through Client, want none", n)
	}
}
