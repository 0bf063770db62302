package controller

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	clocktesting "k8s.io/utils/clock/testing"
)

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// get returns the status and body of GET http://addr/path.
func get(t *testing.T, addr, path string) (int, string) {
	t.Helper()
	code, body, err := tryGet(addr, path)
	if err != nil {
		t.Fatal(err)
	}
	return code, body
}

func tryGet(addr, path string) (int, string, error) {
	resp, err := http.Get(fmt.Sprintf("http://%s%s", addr, path))
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, "", err
	}
	return resp.StatusCode, strings.TrimSpace(string(body)), nil
}

// TestProfilingServesProfiles: --profiling adds Go's profiles to the probe
// address; without it they are not served.
func TestProfilingServesProfiles(t *testing.T) {
	for _, profiling := range []bool{true, false} {
		addr := freeAddr(t)
		reg := prometheus.NewRegistry()
		stop, err := serveProbes(addr, reg, newReplicaState(Options{}, clocktesting.NewFakeClock(time.Now()), reg), profiling)
		if err != nil {
			t.Fatal(err)
		}
		for path, want := range map[string]int{"/debug/pprof/heap": map[bool]int{true: 200, false: 404}[profiling], "/healthz": 200} {
			if code, _ := get(t, addr, path); code != want {
				t.Errorf("profiling %v: GET %s = %d, want %d", profiling, path, code, want)
			}
		}
		stop()
	}
}

type fakeCycles struct{ ran, succeeded time.Time }

func (f fakeCycles) LastCycles() (time.Time, time.Time) { return f.ran, f.succeeded }

type fakeQueue time.Time

func (f fakeQueue) OldestQueued() time.Time { return time.Time(f) }

// TestProbesFollowTheReplica: a standby is healthy and ready whatever its
// clock says; the leader is ready once its caches have synced, and
// unhealthy, with the reason, once its autoscaler has finished no cycle
// within --max-inactivity or a CSR has waited too long; kelp_leader says
// which replica leads.
func TestProbesFollowTheReplica(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := clocktesting.NewFakeClock(t0)
	reg := prometheus.NewRegistry()
	replica := newReplicaState(Options{Autoscaler: nil, Health: HealthOptions{MaxInactivity: time.Minute}}, clk, reg)
	replica.autoscaling = true
	addr := freeAddr(t)
	stop, err := serveProbes(addr, reg, replica, false)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	expect := func(what, path string, wantCode int, wantBody ...string) {
		t.Helper()
		code, body := get(t, addr, path)
		if code != wantCode {
			t.Errorf("%s: GET %s = %d %q, want %d", what, path, code, body, wantCode)
		}
		for _, w := range wantBody {
			if !strings.Contains(body, w) {
				t.Errorf("%s: GET %s body %q lacks %q", what, path, body, w)
			}
		}
		t.Helper()
	}
	clk.Step(time.Hour)
	expect("standby", "/healthz", 200, "ok: standby")
	expect("standby", "/readyz", 200, "ok: standby")
	expect("standby", "/metrics", 200, "kelp_leader 0")

	replica.startedLeading()
	synced := false
	replica.addSynced("shared informers", func() bool { return synced })
	expect("leader syncing", "/readyz", 503, "shared informers")
	synced = true
	expect("leader synced", "/readyz", 200, "ok")
	expect("leader", "/metrics", 200, "kelp_leader 1")
	expect("new leader", "/healthz", 200, "ok")
	clk.Step(2 * time.Minute)
	expect("leader with no cycle", "/healthz", 500, "no cycle finished for 2m0s (--max-inactivity 1m0s)")
	replica.setAutoscaler(fakeCycles{ran: clk.Now(), succeeded: clk.Now()})
	expect("leader cycling", "/healthz", 200, "ok")
	replica.setApprover(fakeQueue(clk.Now().Add(-time.Hour)))
	expect("leader with a stuck csr", "/healthz", 500, "a CSR has waited 1h0m0s")
	replica.stoppedLeading()
	expect("stopped", "/healthz", 200, "ok: standby")
}
