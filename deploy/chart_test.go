package deploy

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/pflag"
	authenticationv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/klog/v2"
	"sigs.k8s.io/yaml"

	"github.com/kelp-dev/kelp/internal/cli"
	"github.com/kelp-dev/kelp/internal/testenv"
)

// chartAll is the chart rendered with ci/all-values.yaml (`make chart`).
const chartAll = "testdata/chart-all.yaml"

// decodeUnstructured reads every object of a multi-document YAML file.
func decodeUnstructured(t *testing.T, path string) []*unstructured.Unstructured {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var objs []*unstructured.Unstructured
	for _, doc := range strings.Split(string(data), "\n---\n") {
		var m map[string]any
		if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if len(m) != 0 {
			objs = append(objs, &unstructured.Unstructured{Object: m})
		}
	}
	return objs
}

// controllerArgs are the args of the rendered Deployment's container.
func controllerArgs(t *testing.T, objs []*unstructured.Unstructured) []string {
	t.Helper()
	for _, o := range objs {
		if o.GetKind() != "Deployment" {
			continue
		}
		containers, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
		if len(containers) != 1 {
			t.Fatalf("deployment has %d containers, want 1", len(containers))
		}
		args, _, err := unstructured.NestedStringSlice(containers[0].(map[string]any), "args")
		if err != nil {
			t.Fatal(err)
		}
		return args
	}
	t.Fatal("no Deployment in the render")
	return nil
}

// TestChartReachesEveryControllerFlag: ci/all-values.yaml sets every flag
// of `kelp controller` through the chart's values, and kelp parses the
// rendered args. A new flag fails here until all-values.yaml sets it (a
// first-class value or controller.extraArgs) and `make chart` re-renders.
func TestChartReachesEveryControllerFlag(t *testing.T) {
	args := controllerArgs(t, decodeUnstructured(t, chartAll))
	cmd, rest, err := cli.NewRoot("test").Find(args)
	if err != nil || cmd.Name() != "controller" || len(rest) == 0 {
		t.Fatalf("args %q do not name the controller command: %v", args, err)
	}
	if err := cmd.ParseFlags(args[1:]); err != nil {
		t.Fatalf("kelp controller refuses the chart's args %q: %v", args, err)
	}
	var flags []string
	visit := func(f *pflag.Flag) {
		if f.Name == "help" || f.Hidden { // other names, refused flags
			return
		}
		flags = append(flags, f.Name)
		if !f.Changed {
			t.Errorf("--%s: not set by deploy/chart/kelp/ci/all-values.yaml (add it there, as a value or in controller.extraArgs, and run `make chart`)", f.Name)
		}
	}
	cmd.Flags().VisitAll(visit)
	if len(flags) < 40 {
		t.Errorf("only %d flags found: %v", len(flags), flags)
	}
}

// applyAll server-side applies objs, resolving kinds through discovery.
func applyAll(t *testing.T, cfg *rest.Config, objs []*unstructured.Unstructured) {
	t.Helper()
	ctx := context.Background()
	dc := discovery.NewDiscoveryClientForConfigOrDie(cfg)
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))
	dyn := dynamic.NewForConfigOrDie(cfg)
	for _, o := range objs {
		gvk := o.GroupVersionKind()
		var m *meta.RESTMapping
		// A CRD applied just before takes a moment to be served.
		testenv.EventuallyTrue(t, 30*time.Second, gvk.String()+" served", func() bool {
			var err error
			if m, err = mapper.RESTMapping(gvk.GroupKind(), gvk.Version); err != nil {
				mapper.Reset()
				return false
			}
			return true
		})
		var ri dynamic.ResourceInterface = dyn.Resource(m.Resource)
		if m.Scope.Name() == meta.RESTScopeNameNamespace {
			ri = dyn.Resource(m.Resource).Namespace(o.GetNamespace())
		}
		data, err := o.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		force := true
		if _, err := ri.Patch(ctx, o.GetName(), types.ApplyPatchType, data, metav1.PatchOptions{FieldManager: "kelp-deploy-test", Force: &force}); err != nil {
			t.Fatalf("server-side apply %s %s/%s: %v", gvk.Kind, o.GetNamespace(), o.GetName(), err)
		}
		t.Cleanup(func() {
			err := ri.Delete(context.Background(), o.GetName(), metav1.DeleteOptions{})
			if err != nil && !apierrors.IsNotFound(err) {
				t.Errorf("delete %s %s: %v", gvk.Kind, o.GetName(), err)
			}
		})
	}
}

// tokenConfig is a client config authenticating as the ServiceAccount
// with a token from the TokenRequest API: no admin rights, no
// impersonation.
func tokenConfig(t *testing.T, admin *rest.Config, client kubernetes.Interface, namespace, sa string) *rest.Config {
	t.Helper()
	expiry := int64(3600)
	tr, err := client.CoreV1().ServiceAccounts(namespace).CreateToken(context.Background(), sa,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &expiry}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("token for %s/%s: %v", namespace, sa, err)
	}
	cfg := rest.AnonymousClientConfig(admin)
	cfg.BearerToken = tr.Status.Token
	cfg.QPS, cfg.Burst = 100, 200
	return cfg
}

// logBuffer collects log lines of the controller and of client-go (klog).
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// forbidden are the log lines that say the API server refused a request.
func (b *logBuffer) forbidden() []string {
	var lines []string
	for _, l := range strings.Split(b.String(), "\n") {
		if strings.Contains(strings.ToLower(l), "forbidden") {
			lines = append(lines, l)
		}
	}
	return lines
}

// capturedLogger logs to b at debug level, and routes klog there until the
// test ends.
func capturedLogger(t *testing.T, b *logBuffer) *slog.Logger {
	logger := slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
	klog.SetSlogLogger(logger)
	t.Cleanup(klog.ClearLogger)
	return logger
}

// counterSum is the sum of a counter family's samples in reg.
func counterSum(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}
