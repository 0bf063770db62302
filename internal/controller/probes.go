package controller

import (
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// serveProbes serves /metrics, /healthz and /readyz on addr until stop is
// called, and Go's profiles under /debug/pprof/ when profiling is on (as
// cluster-autoscaler's --profiling). /healthz answers 500, naming the
// reasons, when DecideHealth finds the leader's loops stuck; /readyz
// answers 503 until the leader's informers have synced. A standby is
// healthy and ready ("ok: standby"): leadership is the kelp_leader metric,
// not readiness, so every replica can serve.
func serveProbes(addr string, reg *prometheus.Registry, replica *replicaState, profiling bool) (stop func(), err error) {
	mux := http.NewServeMux()
	if profiling {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		h, leading := replica.health()
		switch {
		case !h.Healthy():
			http.Error(w, "unhealthy: "+strings.Join(h.Problems, "; "), http.StatusInternalServerError)
		case !leading:
			_, _ = w.Write([]byte("ok: standby"))
		default:
			_, _ = w.Write([]byte("ok"))
		}
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		unsynced, leading := replica.unsynced()
		switch {
		case len(unsynced) > 0:
			http.Error(w, "not ready: informers not synced: "+strings.Join(unsynced, ", "), http.StatusServiceUnavailable)
		case !leading:
			_, _ = w.Write([]byte("ok: standby"))
		default:
			_, _ = w.Write([]byte("ok"))
		}
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen for metrics and health on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return func() { _ = srv.Close() }, nil
}
