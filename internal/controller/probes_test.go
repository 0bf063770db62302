package controller

import (
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestProfilingServesProfiles: --profiling adds Go's profiles to the probe
// address; without it they are not served.
func TestProfilingServesProfiles(t *testing.T) {
	for _, profiling := range []bool{true, false} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		var leading atomic.Bool
		stop, err := serveProbes(addr, prometheus.NewRegistry(), &leading, false, profiling)
		if err != nil {
			t.Fatal(err)
		}
		for path, want := range map[string]int{"/debug/pprof/heap": map[bool]int{true: 200, false: 404}[profiling], "/healthz": 200} {
			resp, err := http.Get(fmt.Sprintf("http://%s%s", addr, path))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != want {
				t.Errorf("profiling %v: GET %s = %d, want %d", profiling, path, resp.StatusCode, want)
			}
		}
		stop()
	}
}
