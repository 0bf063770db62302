package webview

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"

	"github.com/kelp-dev/kelp/internal/clusterview"
	"github.com/kelp-dev/kelp/internal/testenv"
)

// startServer runs a web view on addr against the test control plane and
// returns its base URL and registry.
func startServer(t *testing.T, addr, statusName string) (string, *prometheus.Registry) {
	t.Helper()
	env := testenv.Get(t)
	reg := prometheus.NewRegistry()
	s, err := New(Options{Addr: addr, StatusConfigMap: statusName, SampleInterval: time.Second}, Deps{Client: env.Client, Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	got, err := s.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := strings.Cut(got.String(), "]:")
	if port == "" {
		_, port, _ = strings.Cut(got.String(), ":")
	}
	return "http://127.0.0.1:" + port, reg
}

func getView(ctx context.Context, base, token string) (Payload, int, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/view", nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return Payload{}, 0, err
	}
	defer resp.Body.Close()
	var p Payload
	if resp.StatusCode == http.StatusOK {
		err = json.NewDecoder(resp.Body).Decode(&p)
	}
	return p, resp.StatusCode, err
}

// TestViewFromWatches: the view shows a pool's node, a pending pod with
// kelp's decision on it and the leader's status, from its own watches, and
// the stream pushes a new decision.
func TestViewFromWatches(t *testing.T) {
	env := testenv.Get(t)
	ns := env.Namespace(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pool, statusName := "pool-"+rand.String(5), "kelp-status-"+rand.String(5)
	_, err := env.Client.CoreV1().ConfigMaps("kube-system").Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: statusName},
		Data: map[string]string{"status": fmt.Sprintf("time: %q\nautoscaler: {expanders: least-waste}\npools:\n- {group: g-%s, pool: %s, minSize: 0, maxSize: 5, targetSize: 2, ready: 1, upcoming: 1}\n",
			time.Now().UTC().Format(time.RFC3339), pool, pool)},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
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
	event := func(reason, msg string) {
		t.Helper()
		now := metav1.Now()
		_, err := env.Client.CoreV1().Events(ns).Create(ctx, &corev1.Event{ObjectMeta: metav1.ObjectMeta{GenerateName: "waiting."},
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: pod.Name, UID: pod.UID},
			Reason:         reason, Message: msg, Type: corev1.EventTypeNormal, Source: corev1.EventSource{Component: EventSource},
			FirstTimestamp: now, LastTimestamp: now, Count: 1}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
	}
	event("NotTriggerScaleUp", "pod didn't trigger scale-up: "+pool+": Insufficient cpu")
	base, reg := startServer(t, "127.0.0.1:0", statusName)

	testenv.Eventually(t, time.Minute, "the view shows the pool, its node and the pending pod", func(ctx context.Context) (bool, error) {
		p, code, err := getView(ctx, base, "")
		if err != nil || code != http.StatusOK {
			return false, nil
		}
		return hasPool(p.View, pool, 2) && hasPending(p.View, ns+"/waiting", "NotTriggerScaleUp"), nil
	})

	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/stream", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("stream content type %q", ct)
	}
	events := make(chan Payload, 16)
	go readStream(resp.Body, events)
	event("TriggeredScaleUp", "pod triggered scale-up: [{g-"+pool+" 1->2 (max: 5)}]")
	testenv.EventuallyTrue(t, time.Minute, "the stream pushes the scale-up", func() bool {
		for {
			select {
			case p := <-events:
				for _, d := range p.View.Timeline {
					if d.Kind == clusterview.KindScaleUp && strings.Contains(d.Message, "g-"+pool) {
						return true
					}
				}
			default:
				return false
			}
		}
	})
	if got := gaugeValue(t, reg, "kelp_web_stream_clients"); got != 1 {
		t.Fatalf("kelp_web_stream_clients %v, want 1", got)
	}
}

func hasPool(v clusterview.View, name string, desired int) bool {
	for _, p := range v.Pools {
		if p.Name == name {
			return p.Desired == desired && p.Phases[clusterview.PhaseJoining] == 1 && p.Phases[clusterview.PhaseLaunching] == 1
		}
	}
	return false
}

func hasPending(v clusterview.View, name, decision string) bool {
	for _, p := range v.Pending {
		if p.Name == name {
			return strings.HasPrefix(p.Decision, decision)
		}
	}
	return false
}

func readStream(r io.Reader, out chan<- Payload) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		var p Payload
		if json.Unmarshal([]byte(data), &p) == nil {
			out <- p
		}
	}
	close(out)
}

func gaugeValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}
