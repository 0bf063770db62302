package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"sigs.k8s.io/yaml"

	"github.com/kelp-dev/kelp/internal/autoscaler/loop"
	"github.com/kelp-dev/kelp/internal/clusterview"
	"github.com/kelp-dev/kelp/internal/testenv"
	"github.com/kelp-dev/kelp/internal/webview"
)

// TestStatusCommand: kelp status shows the leader's pools, a node that is
// joining, a pending pod with kelp's decision and the last decisions, as
// tables and as JSON and YAML, with no token id.
func TestStatusCommand(t *testing.T) {
	env := testenv.Get(t)
	ns := env.Namespace(t)
	ctx := context.Background()
	pool := "st-" + rand.String(5)
	cms := env.Client.CoreV1().ConfigMaps("kube-system")
	// Another test's controller cycle may have written the status first.
	if err := cms.Delete(ctx, loop.StatusConfigMap, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	_, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: loop.StatusConfigMap}, Data: map[string]string{"status": fmt.Sprintf(
		"time: %q\nautoscaler: {expanders: least-waste}\nunschedulablePods: 1\npools:\n- {group: g-%s, pool: %s, minSize: 1, maxSize: 7, targetSize: 3, ready: 0, upcoming: 3}\n",
		time.Now().UTC().Format(time.RFC3339), pool, pool)}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cms.Delete(context.Background(), loop.StatusConfigMap, metav1.DeleteOptions{}) })
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n-" + pool, Labels: map[string]string{clusterview.PoolLabel: pool}}}
	if _, err := env.Client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = env.Client.CoreV1().Nodes().Delete(context.Background(), node.Name, metav1.DeleteOptions{})
	})
	pod, err := env.Client.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "waiting"},
		Spec: corev1.PodSpec{SchedulerName: "none", Containers: []corev1.Container{{Name: "c", Image: "pause"}}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	now := metav1.Now()
	_, err = env.Client.CoreV1().Events(ns).Create(ctx, &corev1.Event{ObjectMeta: metav1.ObjectMeta{GenerateName: "waiting."},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: pod.Name, UID: pod.UID},
		Reason:         "TriggeredScaleUp", Message: "pod triggered scale-up: [{g-" + pool + " 0->3 (max: 7)}] (token system:bootstrap:abc123)",
		Source: corev1.EventSource{Component: webview.EventSource}, FirstTimestamp: now, LastTimestamp: now, Count: 1, Type: corev1.EventTypeNormal,
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}

	table, _, err := kelp(t, "status")
	if err != nil {
		t.Fatal(err)
	}
	testenv.Contains(t, "kelp status", table, "Autoscaler: expanders least-waste, 1 unschedulable pod(s)",
		"g-"+pool, "n-"+pool, "joining", ns+"/waiting", "TriggeredScaleUp: pod triggered scale-up: [{g-"+pool+" 0->3 (max: 7)}]",
		"scale-up", "system:bootstrap:******")
	if strings.Contains(table, "abc123") {
		t.Fatalf("kelp status shows a token id:\n%s", table)
	}
	var fromJSON, fromYAML clusterview.View
	out, _, err := kelp(t, "status", "-o", "json")
	if err != nil || json.Unmarshal([]byte(out), &fromJSON) != nil {
		t.Fatalf("status -o json: %v\n%s", err, out)
	}
	if strings.Contains(out, `"leading"`) {
		t.Fatalf("status -o json claims whether the CLI leads:\n%s", out)
	}
	out, _, err = kelp(t, "status", "-o", "yaml")
	if err != nil || yaml.Unmarshal([]byte(out), &fromYAML) != nil {
		t.Fatalf("status -o yaml: %v\n%s", err, out)
	}
	for _, v := range []clusterview.View{fromJSON, fromYAML} {
		i := slicesIndex(v.Pools, pool)
		if i < 0 || v.Pools[i].Desired != 3 || v.Pools[i].Max != 7 || v.Pools[i].Phases[clusterview.PhaseJoining] != 1 {
			t.Fatalf("structured status lacks pool %s: %+v", pool, v.Pools)
		}
	}
	_, _, err = kelp(t, "status", "-o", "xml")
	testenv.ErrorContains(t, err, `--output "xml": want json or yaml`)
}

func slicesIndex(pools []clusterview.Pool, name string) int {
	for i, p := range pools {
		if p.Name == name {
			return i
		}
	}
	return -1
}

func TestPrintStatusEmpty(t *testing.T) {
	var b strings.Builder
	if err := printStatus(&b, clusterview.Build(clusterview.Input{Now: time.Now()}), 10); err != nil {
		t.Fatal(err)
	}
	testenv.Contains(t, "status of an empty cluster", b.String(), "Autoscaler: no status (kube-system/kelp-status)",
		"Nodes: 0 (0 Ready)\n", "Pending pods: 0", "Last scale-up: none known", "Last decisions, newest first: 0 of 0")
}

// TestPrintStatus: nodes whose CSR waits are no Nodes yet; the decisions
// read newest first, as on the web view; the last scale-up stays shown
// when approvals came after it.
func TestPrintStatus(t *testing.T) {
	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	v := clusterview.View{
		Nodes: []clusterview.Node{{Name: "ip-1", Pool: "general", Phase: clusterview.PhaseCSRPending},
			{Name: "ip-2", Pool: "general", Phase: clusterview.PhaseCSRPending}, {Name: "ip-3", Phase: clusterview.PhaseCSRPending}},
		LastScaleUp: &clusterview.Decision{Time: at, Reason: "LastScaleUp", Object: "status", Message: "expanders least-waste chose g +3"},
	}
	for i := range 12 {
		v.Timeline = append(v.Timeline, clusterview.Decision{Time: at.Add(time.Duration(12-i) * time.Second), Kind: clusterview.KindCSR,
			Reason: "AutoApproved", Object: fmt.Sprintf("certificatesigningrequest/csr-%02d", 12-i), Count: 1, Message: "approved"})
	}
	var b strings.Builder
	if err := printStatus(&b, v, 10); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	testenv.Contains(t, "kelp status", out, "Nodes: 0 (0 Ready), 3 joining (CSR pending, no Node yet)",
		"Last scale-up: "+at.Local().Format(time.DateTime)+" LastScaleUp status: expanders least-waste chose g +3",
		"Last scale-down: none known", "Last decisions, newest first: 10 of 12")
	if first, last := strings.Index(out, "csr-12"), strings.Index(out, "csr-03"); first < 0 || last < first || strings.Contains(out, "csr-02") {
		t.Fatalf("decisions not the newest 10, newest first:\n%s", out)
	}
}
