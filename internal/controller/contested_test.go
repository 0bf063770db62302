package controller

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"

	"github.com/kelp-dev/kelp/internal/approver"
	"github.com/kelp-dev/kelp/internal/bootstrap"
	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/cloud/cloudtest"
	"github.com/kelp-dev/kelp/internal/testenv"
)

// TestContestedJoinIsDeniedDeletedThenJoins plays issue 13's promise for
// contested joins on the real API server: two pending CSRs of a kelp pool
// token ask for the same fresh instance's node; kelp denies both
// (ContestedJoin), deletes both once the grace has passed (after the
// denial, as a watcher sees it), and the CSR the restarted kubelet files
// under the SAME name (a kubelet names its CSR after its key, which it
// keeps) is approved and recorded.
func TestContestedJoinIsDeniedDeletedThenJoins(t *testing.T) {
	env := testenv.Get(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := bootstrap.EnsureJoinRBAC(ctx, env.Client); err != nil {
		t.Fatal(err)
	}
	inst := contestInstance()
	provider := cloudtest.New(cloud.NodeGroup{ID: "kelp-test-contest", Pool: "contest", Instances: []cloud.Instance{inst}})
	token := impersonate(t, env.Config, "system:bootstrap:cont01", "system:bootstrappers", "system:bootstrappers:kelp",
		"system:bootstrappers:kelp:contest", "system:authenticated")
	csrs := env.Client.CertificatesV1().CertificateSigningRequests()

	// Both sides are pending before kelp looks: the kubelet's and the
	// token holder's, named as a kubelet names them.
	kubelet := testenv.NodeClientCSR(t, inst.PrivateDNSName)
	kubelet.GenerateName, kubelet.Name = "", "node-csr-kubelet-"+inst.ID
	rival := testenv.NodeClientCSR(t, inst.PrivateDNSName)
	rival.GenerateName, rival.Name = "", "node-csr-rival-"+inst.ID
	uids := map[string]types.UID{}
	var lastRV string
	for _, csr := range []*certificatesv1.CertificateSigningRequest{kubelet, rival} {
		created, err := testenv.CreateCSR(token, csr, 30*time.Second)
		if err != nil {
			t.Fatalf("create %s as the pool token: %v", csr.Name, err)
		}
		uids[created.Name], lastRV = created.UID, created.ResourceVersion
		t.Cleanup(func() { _ = csrs.Delete(context.Background(), created.Name, metav1.DeleteOptions{}) })
	}
	w, err := csrs.Watch(ctx, metav1.ListOptions{ResourceVersion: lastRV})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	recorder := runContestApprover(ctx, t, env, provider)
	seen := watchContest(t, w, uids)
	for name := range uids {
		if !seen[name] {
			t.Errorf("%s deleted without a ContestedJoin denial seen first", name)
		}
	}
	// The Event follows the deletion the watch saw.
	deletedEvents := 0
	testenv.EventuallyTrue(t, 10*time.Second, "a CSRDeleted event per side", func() bool {
		for len(recorder.Events) > 0 {
			if e := <-recorder.Events; strings.Contains(e, "CSRDeleted") {
				deletedEvents++
			}
		}
		return deletedEvents >= 2
	})

	// The kubelet restarts with the same key: same request, same name.
	again := kubelet.DeepCopy()
	created, err := testenv.CreateCSR(token, again, 30*time.Second)
	if err != nil {
		t.Fatalf("the restarted kubelet's CSR %s: %v", again.Name, err)
	}
	testenv.Eventually(t, time.Minute, "the restarted kubelet's CSR approved", func(ctx context.Context) (bool, error) {
		got, err := csrs.Get(ctx, created.Name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		if c := approver.ConditionOf(got); c == approver.Denied || c == approver.Failed {
			t.Fatalf("the restarted kubelet's CSR: %s %+v", c, got.Status.Conditions)
		}
		return got.UID == created.UID && (approver.ConditionOf(got) == approver.Approved || approver.ConditionOf(got) == approver.Issued), nil
	})
	approvals, err := (&approver.ApprovalRecord{Client: env.Client}).Approvals(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if a := approvals[inst.ID]; a.CSRName != created.Name || a.CSRUID != created.UID {
		t.Errorf("record of %s: CSR %s (%s), want %s (%s)", inst.ID, a.CSRName, a.CSRUID, created.Name, created.UID)
	}
}

// contestGrace is the approver's ContestedGrace in the contest test:
// short, so the test is quick; the API server keeps the denial's time to
// the second, so the deletion comes up to a second sooner.
const contestGrace = 2 * time.Second

// runContestApprover runs kelp's CSR approver as the controller wires it,
// with a short ContestedGrace, until ctx ends, and returns its recorder.
func runContestApprover(ctx context.Context, t *testing.T, env *testenv.Env, provider *cloudtest.Provider) *record.FakeRecorder {
	t.Helper()
	factory := informers.NewSharedInformerFactory(env.Client, 0)
	nodes := factory.Core().V1().Nodes()
	csrs := newCSRInformers(env.Client)
	config := approver.Config{ClusterName: testenv.ClusterName}.WithDefaults()
	recorder := record.NewFakeRecorder(1000)
	c := &approver.Controller{
		Client: env.Client, Sources: approverSources(env.Client, nodes.Lister(), csrs.clientCSRs(), provider, config.JoinWindow),
		Recorder: recorder, Metrics: approver.NewMetrics(prometheus.NewRegistry()), Clock: clock.RealClock{},
		Config: config, Mode: approver.ModeAuto, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		ContestedGrace: contestGrace,
	}
	synced := nodes.Informer().HasSynced
	factory.Start(ctx.Done())
	for _, f := range csrs.factories {
		f.Start(ctx.Done())
	}
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, csrs.cache, 4, synced) }()
	t.Cleanup(func() {
		if err := <-done; err != nil {
			t.Errorf("approver Run: %v", err)
		}
		factory.Shutdown()
		for _, f := range csrs.factories {
			f.Shutdown()
		}
	})
	return recorder
}

// watchContest follows w until every CSR of uids is deleted, and returns
// which were seen denied with ReasonContestedJoin before their deletion.
// Any other decision fails the test.
func watchContest(t *testing.T, w watch.Interface, uids map[string]types.UID) map[string]bool {
	t.Helper()
	contested, deleted := map[string]bool{}, map[string]bool{}
	deadline := time.After(2 * time.Minute)
	for len(deleted) < len(uids) {
		var ev watch.Event
		open := true
		select {
		case ev, open = <-w.ResultChan():
			if !open {
				t.Fatalf("the watch of CSRs closed: contested %v, deleted %v", contested, deleted)
			}
		case <-deadline:
			t.Fatalf("after 2m: contested %v, deleted %v; want both denied ContestedJoin, then deleted", contested, deleted)
		}
		csr, ok := ev.Object.(*certificatesv1.CertificateSigningRequest)
		if !ok || uids[csr.Name] != csr.UID || csr.UID == "" {
			continue
		}
		switch c := approver.ConditionOf(csr); {
		case ev.Type == watch.Deleted:
			deleted[csr.Name] = true
		case c == approver.Denied && csr.Status.Conditions[0].Reason == approver.ReasonContestedJoin:
			contested[csr.Name] = true
		case c != approver.Pending:
			t.Fatalf("%s: %s %+v, want Denied %s", csr.Name, c, csr.Status.Conditions, approver.ReasonContestedJoin)
		}
	}
	return contested
}

// contestInstance is a fresh running instance of pool "contest", its
// node name unique to the test run.
func contestInstance() cloud.Instance {
	var id [8]byte
	_, _ = rand.Read(id[:])
	return cloud.Instance{
		ID: "i-0" + hex.EncodeToString(id[:]), ProviderID: "aws:///us-east-1a/i-0" + hex.EncodeToString(id[:]),
		State: cloud.InstanceStateRunning, GroupName: "kelp-test-contest", Pool: "contest",
		PrivateDNSName: fmt.Sprintf("ip-10-99-%d-%d-%s.ec2.internal", id[0], id[1], hex.EncodeToString(id[2:5])),
		PrivateIPs:     []string{fmt.Sprintf("10.99.%d.%d", id[0], id[1])}, LaunchTime: time.Now().Add(-time.Minute),
	}
}
