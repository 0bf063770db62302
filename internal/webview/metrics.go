package webview

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	requests *prometheus.CounterVec
	streams  prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kelp_web_requests_total",
			Help: "Requests to the web view, by path (the page's assets as \"asset\") and status code.",
		}, []string{"path", "code"}),
		streams: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "kelp_web_stream_clients",
			Help: "Clients connected to the web view's live stream (server-sent events).",
		}),
	}
	reg.MustRegister(m.requests, m.streams)
	return m
}

type recorder struct {
	http.ResponseWriter
	code int
}

func (r *recorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// Flush lets the stream through the recorder.
func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (m *metrics) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &recorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		path := "asset"
		if strings.HasPrefix(r.URL.Path, "/api/") {
			path = r.URL.Path
			if path != "/api/view" && path != "/api/stream" {
				path = "/api/other"
			}
		}
		m.requests.WithLabelValues(path, strconv.Itoa(max(rec.code, http.StatusOK))).Inc()
	})
}
