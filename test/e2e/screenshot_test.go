//go:build screenshots

package e2e

import (
	"os"
	"testing"
	"time"
)

// TestScreenshot saves the web view of a running cluster (`make up`) at
// KELP_WEB_URL (default http://127.0.0.1:8081/) as the PNG
// KELP_SCREENSHOT: `make screenshots` updates docs/images/web-view.png.
func TestScreenshot(t *testing.T) {
	url, out := os.Getenv("KELP_WEB_URL"), os.Getenv("KELP_SCREENSHOT")
	if url == "" {
		url = "http://127.0.0.1:8081/"
	}
	if out == "" {
		t.Fatal("KELP_SCREENSHOT: the PNG file to write is not set")
	}
	if !httpOK(url) {
		t.Fatalf("no web view at %s: start a local cluster first (make up, in another shell) or set KELP_WEB_URL", url)
	}
	b := openBrowser(t, url)
	waitPage(t, b, time.Minute, "the page shows a pool", `document.querySelector('.pool') !== null`)
	b.checkConsole(t)
	b.screenshot(t, out)
	t.Logf("saved %s", out)
}
