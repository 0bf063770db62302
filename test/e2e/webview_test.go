package e2e

import (
	"context"
	"log/slog"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"k8s.io/client-go/kubernetes"

	"github.com/kelp-dev/kelp/internal/autoscaler/loop"
	"github.com/kelp-dev/kelp/internal/controller"
	"github.com/kelp-dev/kelp/internal/localup"
	"github.com/kelp-dev/kelp/internal/pool"
	"github.com/kelp-dev/kelp/internal/testenv"
)

const webPool = "web"

// poolDesired is a page expression: the desired size the page shows for
// pool, or -1 while it shows no such pool.
func poolDesired(pool string) string {
	return `(() => { const e = document.querySelector('.pool[data-pool="` + pool + `"] [data-field="desired"]'); return e ? Number(e.textContent) : -1; })()`
}

// startWebCluster starts a local cluster with one pool of at most maxSize
// m5.large nodes, the autoscaler (2 s scans) and the web view, and returns
// it with the view's URL. A nil logger is slog's default.
func startWebCluster(t testing.TB, name string, maxSize int32, logger *slog.Logger) (*localup.Cluster, kubernetes.Interface, string) {
	t.Helper()
	addr := freeAddr(t)
	cluster, client := startLocal(t, localup.Config{
		Dir: filepath.Join(t.TempDir(), name), Name: name, Logger: logger,
		Pools:      &pool.Config{Pools: []pool.Spec{{Name: webPool, InstanceTypes: []string{"m5.large"}, MinSize: 0, MaxSize: maxSize}}},
		Controller: controller.Options{WebAddr: addr, Autoscaler: &loop.Options{ScanInterval: 2 * time.Second}},
	})
	return cluster, client, "http://" + addr + "/"
}

// httpOK reports whether GET url answers 200.
func httpOK(url string) bool {
	resp, err := http.Get(url)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// TestWebViewInBrowser opens the web view of a local cluster in headless
// Chromium: the page loads with no console error, shows the pool, then
// shows the scale-up that pending pods trigger, and the node they bring.
// The screenshot is saved under $KELP_ARTIFACTS (default
// $TMPDIR/kelp-artifacts) as web-view.png.
func TestWebViewInBrowser(t *testing.T) {
	chromiumPath(t) // fail before starting a cluster when there is no browser
	release, err := testenv.AcquireSlot()
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	cluster, client, url := startWebCluster(t, "webview", 3, nil)
	defer func() { _ = cluster.Stop(context.Background()) }()
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()

	testenv.EventuallyTrue(t, time.Minute, "the web view listening", func() bool { return httpOK(url) })
	b := openBrowser(t, url)
	waitPage(t, b, time.Minute, "the page shows pool "+webPool, poolDesired(webPool)+` === 0`)
	b.checkConsole(t)
	waitPage(t, b, 10*time.Second, "a pool's line keeps its colour when another pool comes", poolColourStable)

	start := time.Now()
	createDeployment(t, ctx, client, "app", 2, "500m", map[string]string{pool.PoolTag: webPool}, nil)
	waitPage(t, b, 2*time.Minute, "the page shows the scale-up",
		poolDesired(webPool)+` >= 1 && document.querySelector('#timeline li[data-kind="scale-up"]') !== null`)
	t.Logf("pods created -> scale-up on the page in %s", time.Since(start).Round(time.Millisecond))
	waitPage(t, b, 3*time.Minute, "the page shows a Ready node of the pool",
		`document.querySelector('.pool[data-pool="`+webPool+`"] [data-phase="ready"]') !== null`)
	waitPage(t, b, 2*time.Minute, "the page shows no pending pod", `document.querySelector('#pending-count').textContent === "0"`)
	b.checkConsole(t)
	path := artifactPath(t, "web-view.png")
	b.screenshot(t, path)
	t.Logf("screenshot of the web view: %s", path)
}

// poolColourStable is a page expression: true when the plot's legend
// gives pool "web" the same colour with and without a pool listed before
// it (the page's next update draws the real view again).
const poolColourStable = `(() => {
  const draw = (names) => renderPlots([], { time: new Date().toISOString(), pendingPods: [], decisionLatencySeconds: 0,
    pools: names.map((name) => ({ name, phases: {} })) });
  const colour = () => [...document.querySelectorAll("#legend > span")].find((s) => s.textContent === "web").firstChild.style.background;
  draw(["web"]);
  const alone = colour();
  draw(["aaa", "web"]);
  return alone !== "" && colour() === alone;
})()`

// waitPage waits until the page expression is true.
func waitPage(t testing.TB, b *browser, within time.Duration, what, expr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, within)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(within))); err != nil {
		t.Fatalf("%s: not within %s: %v", what, within, err)
	}
}
