package cli

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/record"

	"github.com/kelp-dev/kelp/internal/autoscaler"
	"github.com/kelp-dev/kelp/internal/autoscaler/loop"
	"github.com/kelp-dev/kelp/internal/autoscaler/whatif"
	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/testenv"
)

// readOnlyTransport fails every request but get, list and watch (GET), and
// records it.
type readOnlyTransport struct {
	next    http.RoundTripper
	mu      sync.Mutex
	refused []string
}

func (r *readOnlyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodGet {
		r.mu.Lock()
		r.refused = append(r.refused, req.Method+" "+req.URL.Path)
		r.mu.Unlock()
		return nil, fmt.Errorf("read-only client: %s %s refused", req.Method, req.URL.Path)
	}
	return r.next.RoundTrip(req)
}

// recordingScaler is the controller's cloud in the comparison: it accepts
// every size change.
type recordingScaler struct{ sets []string }

func (s *recordingScaler) SetTargetSize(_ context.Context, group string, n int) error {
	s.sets = append(s.sets, fmt.Sprintf("%s=%d", group, n))
	return nil
}

func (s *recordingScaler) DeleteInstances(context.Context, string, []string) error { return nil }

// TestSimulateLive runs kelp simulate and explain pod against the test
// control plane with a client that refuses every write, and compares the
// plan with the first cycle of a controller on the same cluster and pools.
func TestSimulateLive(t *testing.T) {
	env := testenv.Get(t)
	ns := env.Namespace(t)
	ctx := context.Background()
	for name, mem := range map[string]string{"big": "30Gi", "huge": "900Gi"} {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "c", Image: "registry.example/app:1",
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse(mem)}},
		}}}}
		if _, err := env.Client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	testenv.Eventually(t, time.Minute, "the scheduler marks both pods unschedulable", func(ctx context.Context) (bool, error) {
		pods, err := env.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		return len(pods.Items) == 2 && loop.Unschedulable(&pods.Items[0]) && loop.Unschedulable(&pods.Items[1]), nil
	})
	pools := filepath.Join(t.TempDir(), "pools.yaml")
	if err := os.WriteFile(pools, []byte("pools:\n- {name: general, instanceTypes: [m5.large], minSize: 0, maxSize: 5}\n"+
		"- {name: memory, instanceTypes: [r5.2xlarge], minSize: 0, maxSize: 5}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sf := snapshotFlags{pools: pools, live: true}
	sf.af.cluster = testenv.ClusterName
	o, err := simulateOptions(&autoscalerFlagsWithDefaults)
	if err != nil {
		t.Fatal(err)
	}

	cfg := rest.CopyConfig(env.Config)
	ro := &readOnlyTransport{}
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { ro.next = rt; return ro })
	client := kubernetes.NewForConfigOrDie(cfg)
	s, err := sf.simulate(ctx, func() (kubernetes.Interface, error) { return client, nil }, o)
	if err != nil {
		t.Fatal(err)
	}
	plan := whatif.Build(ctx, s.sim, o, s.objs.Nodes, s.src)
	pod, err := whatif.Find(s.objs, ns+"/big", s.src)
	if err != nil {
		t.Fatal(err)
	}
	c := whatif.ExplainPod(ctx, s.sim, o, s.objs, pod)
	if c.History, err = whatif.PodHistory(ctx, client, ns, "big"); err != nil {
		t.Fatal(err)
	}
	if len(ro.refused) > 0 {
		t.Errorf("the simulation tried to write: %v", ro.refused)
	}
	memory := "kelp-" + testenv.ClusterName + "-memory"
	if i := slices.IndexFunc(plan.ScaleUp, func(s whatif.ScaleUp) bool { return slices.Contains(s.Pods, ns+"/big") }); i < 0 || plan.ScaleUp[i].Group != memory {
		t.Errorf("simulated scale-up = %+v, want %s for %s/big", plan.ScaleUp, memory, ns)
	}
	if !strings.Contains(c.Now, "scale up memory") {
		t.Errorf("explain pod: now %q, want a scale-up of pool memory", c.Now)
	}

	first := controllerFirstCycle(t, env, s.sim.Groups, o)
	if got, want := podPlans(s.sim.Cycle.Plan, ns), podPlans(first.Plan, ns); !slices.Equal(got, want) {
		t.Errorf("simulated plan for %s:\n%s\nthe controller's first cycle:\n%s", ns, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// The command itself, live (the test cluster's admin kubeconfig).
	out, _, err := kelp(t, "simulate", "--live", "--pools", pools, "--cluster-name", testenv.ClusterName)
	if err != nil {
		t.Fatal(err)
	}
	testenv.Contains(t, "simulate --live", out, "memory +1 r5.2xlarge", "Auto Scaling group: "+memory, ns+"/big", ns+"/huge", "Insufficient memory")
	out, _, err = kelp(t, "explain", "pod", ns+"/huge", "--pools", pools, "--cluster-name", testenv.ClusterName)
	if err != nil {
		t.Fatal(err)
	}
	testenv.Contains(t, "explain pod --live", out, "pending: the scheduler found no node", "no pool helps it", "Insufficient memory")
}

// autoscalerFlagsWithDefaults are the autoscaler's flags as parsed with
// none given.
var autoscalerFlagsWithDefaults = func() autoscalerFlags {
	var f autoscalerFlags
	f.add(pflag.NewFlagSet("defaults", pflag.ContinueOnError)) // sets every default
	return f
}()

// controllerFirstCycle runs the first cycle of a controller (loop.New)
// over the test cluster with groups, and returns it.
func controllerFirstCycle(t *testing.T, env *testenv.Env, groups []cloud.NodeGroup, o loop.Options) loop.Cycle {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := informers.NewSharedInformerFactory(env.Client, 0)
	a, err := loop.New(o, loop.Deps{Client: env.Client, Informers: f, Groups: whatif.Groups(groups), Scaler: &recordingScaler{},
		Recorder: record.NewFakeRecorder(1000), Metrics: loop.NewMetrics(prometheus.NewRegistry())})
	if err != nil {
		t.Fatal(err)
	}
	f.Start(ctx.Done())
	for typ, ok := range f.WaitForCacheSync(ctx.Done()) {
		if !ok {
			t.Fatalf("informer of %v did not sync", typ)
		}
	}
	cyc, err := a.RunOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	a.Wait()
	return cyc
}

// podPlans renders what plan does for the pods of namespace ns, sorted.
func podPlans(plan autoscaler.Plan, ns string) []string {
	var out []string
	for _, inc := range plan.Increases {
		for _, p := range inc.Pods {
			if strings.HasPrefix(p, ns+"/") {
				out = append(out, fmt.Sprintf("%s: %s +%s", p, inc.Group, inc.InstanceType))
			}
		}
	}
	for p, why := range plan.Unschedulable {
		if strings.HasPrefix(p, ns+"/") {
			out = append(out, p+": "+autoscaler.GroupReasons(why))
		}
	}
	slices.Sort(out)
	return out
}
