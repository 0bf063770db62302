package webview

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestStreamsAreBounded: a replica serving maxStreams live streams
// refuses the next one with 503 and Retry-After instead of holding
// another connection.
func TestStreamsAreBounded(t *testing.T) {
	s := &Server{clients: map[chan []byte]struct{}{}, metrics: newMetrics(prometheus.NewRegistry())}
	for range maxStreams {
		s.clients[make(chan []byte, 1)] = struct{}{}
	}
	rec := httptest.NewRecorder()
	s.serveStream(rec, httptest.NewRequest(http.MethodGet, "/api/stream", nil))
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("stream %d over the bound: got %d, Retry-After %q; want 503 with Retry-After", maxStreams+1, rec.Code, rec.Header().Get("Retry-After"))
	}
	if len(s.clients) != maxStreams {
		t.Fatalf("%d streams registered, want %d", len(s.clients), maxStreams)
	}
}
