package e2e

import (
	"bytes"
	"io"
	"maps"
	"math"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// callCounter counts the requests a proxy forwarded, by kind.
type callCounter struct {
	mu     sync.Mutex
	counts map[string]int
}

func (c *callCounter) add(kind string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.counts[kind]++
}

// snapshot returns a copy of the counts so far.
func (c *callCounter) snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.counts)
}

// callsSince are the counts of now minus those of before, with their total.
func callsSince(before, now map[string]int) (map[string]int, int) {
	out, total := map[string]int{}, 0
	for k, v := range now {
		if d := v - before[k]; d > 0 {
			out[k] = d
			total += d
		}
	}
	return out, total
}

// topCalls formats the n most frequent kinds of calls.
func topCalls(calls map[string]int, n int) string {
	kinds := slices.SortedFunc(maps.Keys(calls), func(a, b string) int { return calls[b] - calls[a] })
	var parts []string
	for _, k := range kinds[:min(n, len(kinds))] {
		parts = append(parts, k+"="+strconv.Itoa(calls[k]))
	}
	return strings.Join(parts, " ")
}

// serveProxy serves p on a loopback port of its own until the test ends
// and returns its URL.
func serveProxy(t *testing.T, p http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String()
}

// kubeCallProxy is a plain-HTTP reverse proxy on loopback that forwards
// to the API server with admin's credentials, counting every request by
// verb and resource (WATCH and LIST told apart from GET). The controller
// under test is given a kubeconfig pointing at it: its own process stays
// unchanged, and what it asks of the API server is counted here.
func kubeCallProxy(t *testing.T, admin *rest.Config) (*callCounter, string) {
	t.Helper()
	target, err := url.Parse(admin.Host)
	if err != nil {
		t.Fatal(err)
	}
	transport, err := rest.TransportFor(admin)
	if err != nil {
		t.Fatal(err)
	}
	counter := &callCounter{counts: map[string]int{}}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			counter.add(kubeCallKind(r.In))
			r.SetURL(target)
		},
		Transport:     transport,
		FlushInterval: -1, // watches stream
	}
	return counter, serveProxy(t, proxy)
}

// kubeCallKind is "VERB resource" of a Kubernetes API request.
func kubeCallKind(r *http.Request) string {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	// /api/v1/... or /apis/group/version/...
	switch {
	case len(parts) >= 2 && parts[0] == "api":
		parts = parts[2:]
	case len(parts) >= 3 && parts[0] == "apis":
		parts = parts[3:]
	default:
		return r.Method + " " + r.URL.Path
	}
	if len(parts) >= 2 && parts[0] == "namespaces" && len(parts) > 2 {
		parts = parts[2:]
	}
	resource, named := "", false
	if len(parts) > 0 {
		resource, named = parts[0], len(parts) > 1
	}
	if len(parts) > 2 {
		resource += "/" + parts[2]
	}
	verb := r.Method
	switch {
	case r.Method == http.MethodGet && r.URL.Query().Get("watch") == "true":
		verb = "WATCH"
	case r.Method == http.MethodGet && !named:
		verb = "LIST"
	}
	return verb + " " + resource
}

// awsCallProxy is a reverse proxy to the local cloud counting every AWS
// call by action (the query protocol's Action, or the JSON protocol's
// X-Amz-Target). The Host header is kept, so SigV4 signatures still match.
func awsCallProxy(t *testing.T, cloudURL string) (*callCounter, string) {
	t.Helper()
	target, err := url.Parse(cloudURL)
	if err != nil {
		t.Fatal(err)
	}
	counter := &callCounter{counts: map[string]int{}}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			counter.add(awsAction(r.Out))
			r.SetURL(target)
			r.Out.Host = r.In.Host
		},
		FlushInterval: -1,
	}
	return counter, serveProxy(t, proxy)
}

// awsAction reads the action of an AWS request, leaving its body intact.
func awsAction(r *http.Request) string {
	if target := r.Header.Get("X-Amz-Target"); target != "" {
		_, op, _ := strings.Cut(target, ".")
		return op
	}
	if a := r.URL.Query().Get("Action"); a != "" {
		return a
	}
	if r.Body == nil {
		return "other"
	}
	body, err := io.ReadAll(r.Body)
	_ = r.Body.Close()
	r.Body = io.NopCloser(bytes.NewReader(body))
	if err != nil {
		return "other"
	}
	if form, err := url.ParseQuery(string(body)); err == nil && form.Get("Action") != "" {
		return form.Get("Action")
	}
	return "other"
}

// writeProxyKubeconfig writes a kubeconfig for the plain-HTTP proxy at
// server (the proxy holds the credentials) and returns its path.
func writeProxyKubeconfig(t *testing.T, server string) string {
	t.Helper()
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["proxy"] = &clientcmdapi.Cluster{Server: server}
	cfg.AuthInfos["proxy"] = &clientcmdapi.AuthInfo{}
	cfg.Contexts["proxy"] = &clientcmdapi.Context{Cluster: "proxy", AuthInfo: "proxy"}
	cfg.CurrentContext = "proxy"
	path := filepath.Join(t.TempDir(), "proxy.kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// procSample is what /proc says of a process at one moment.
type procSample struct {
	// RSS and HWM (peak RSS) in bytes; CPU is user + system time.
	RSS, HWM int64
	CPU      time.Duration
}

// readProc reads the resident memory and CPU time of process pid.
func readProc(pid int) (procSample, error) {
	var s procSample
	status, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return s, err
	}
	for line := range strings.Lines(string(status)) {
		for prefix, dst := range map[string]*int64{"VmRSS:": &s.RSS, "VmHWM:": &s.HWM} {
			if rest, ok := strings.CutPrefix(line, prefix); ok {
				kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
				*dst = kb * 1024
			}
		}
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return s, err
	}
	// Fields after the command (which may hold spaces) in parentheses:
	// utime and stime are the 14th and 15th of the line.
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	if len(fields) < 13 {
		return s, io.ErrUnexpectedEOF
	}
	ut, _ := strconv.ParseInt(fields[11], 10, 64)
	st, _ := strconv.ParseInt(fields[12], 10, 64)
	const clkTck = 100 // USER_HZ on Linux
	s.CPU = time.Duration(ut+st) * time.Second / clkTck
	return s, nil
}

// histogram is a Prometheus histogram read from the text format: its
// cumulative bucket counts by upper bound, its sum and its count.
type histogram struct {
	bounds     []float64
	cumulative []float64
	sum, count float64
}

// parseHistogram sums, over the series of name whose labels contain
// every one of match, the buckets, sums and counts.
func parseHistogram(text, name string, match ...string) histogram {
	byBound := map[float64]float64{}
	var h histogram
	for line := range strings.Lines(text) {
		line = strings.TrimSpace(line)
		series, value, ok := strings.Cut(line, " ")
		if !ok || !strings.HasPrefix(series, name) || !containsAll(series, match) {
			continue
		}
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			continue
		}
		switch {
		case strings.HasPrefix(series, name+"_bucket{"):
			le := series[strings.Index(series, `le="`)+4:]
			le = le[:strings.IndexByte(le, '"')]
			b, err := strconv.ParseFloat(le, 64)
			if err == nil {
				byBound[b] += v
			}
		case strings.HasPrefix(series, name+"_sum"):
			h.sum += v
		case strings.HasPrefix(series, name+"_count"):
			h.count += v
		}
	}
	h.bounds = slices.Sorted(maps.Keys(byBound))
	for _, b := range h.bounds {
		h.cumulative = append(h.cumulative, byBound[b])
	}
	return h
}

func containsAll(s string, subs []string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

// minus is h less an earlier reading of the same histogram.
func (h histogram) minus(before histogram) histogram {
	out := histogram{bounds: h.bounds, sum: h.sum - before.sum, count: h.count - before.count}
	for i, c := range h.cumulative {
		if i < len(before.cumulative) {
			c -= before.cumulative[i]
		}
		out.cumulative = append(out.cumulative, c)
	}
	return out
}

// quantile is the upper bound of the bucket holding quantile q: the
// figure is "at most this" (+Inf when past the last finite bucket).
func (h histogram) quantile(q float64) float64 {
	if h.count == 0 {
		return math.NaN()
	}
	for i, c := range h.cumulative {
		if c >= q*h.count {
			return h.bounds[i]
		}
	}
	return math.Inf(1)
}
