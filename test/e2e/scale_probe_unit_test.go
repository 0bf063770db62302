package e2e

import (
	"context"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

func TestKubeCallKind(t *testing.T) {
	tests := []struct{ method, url, want string }{
		{"GET", "/api/v1/nodes", "LIST nodes"},
		{"GET", "/api/v1/nodes?watch=true&resourceVersion=5", "WATCH nodes"},
		{"GET", "/api/v1/nodes/n1", "GET nodes"},
		{"PATCH", "/api/v1/nodes/n1", "PATCH nodes"},
		{"GET", "/api/v1/namespaces/default/pods?labelSelector=a", "LIST pods"},
		{"POST", "/api/v1/namespaces/default/pods/p/eviction", "POST pods/eviction"},
		{"PUT", "/apis/certificates.k8s.io/v1/certificatesigningrequests/c/approval", "PUT certificatesigningrequests/approval"},
		{"GET", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/l", "GET leases"},
		{"GET", "/api/v1/namespaces", "LIST namespaces"},
		{"GET", "/version", "GET /version"},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(tt.method, tt.url, nil)
		if got := kubeCallKind(r); got != tt.want {
			t.Errorf("%s %s: %q, want %q", tt.method, tt.url, got, tt.want)
		}
	}
}

func TestAWSAction(t *testing.T) {
	form := url.Values{"Action": {"DescribeAutoScalingGroups"}, "Version": {"2011-01-01"}}.Encode()
	query := httptest.NewRequest("POST", "/", strings.NewReader(form))
	if got := awsAction(query); got != "DescribeAutoScalingGroups" {
		t.Errorf("query protocol: %q", got)
	}
	if body := readAll(t, query); body != form {
		t.Errorf("body after reading the action: %q, want %q", body, form)
	}
	json := httptest.NewRequest("POST", "/", strings.NewReader("{}"))
	json.Header.Set("X-Amz-Target", "AmazonSQS.ReceiveMessage")
	if got := awsAction(json); got != "ReceiveMessage" {
		t.Errorf("JSON protocol: %q", got)
	}
	if got := awsAction(httptest.NewRequest("POST", "/", strings.NewReader("junk=%zz"))); got != "other" {
		t.Errorf("no action: %q", got)
	}
}

func readAll(t *testing.T, r *http.Request) string {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestCallsSince(t *testing.T) {
	got, total := callsSince(map[string]int{"a": 2, "b": 1}, map[string]int{"a": 5, "b": 1, "c": 4})
	if total != 7 || got["a"] != 3 || got["c"] != 4 || len(got) != 2 {
		t.Errorf("callsSince = %v, %d", got, total)
	}
	if s := topCalls(got, 1); s != "c=4" {
		t.Errorf("topCalls = %q", s)
	}
}

const histogramText = `# TYPE h histogram
h_bucket{decision="approve",le="0.1"} 1
h_bucket{decision="approve",le="1"} 8
h_bucket{decision="approve",le="+Inf"} 10
h_sum{decision="approve"} 9.5
h_count{decision="approve"} 10
h_bucket{decision="deny",le="0.1"} 100
h_bucket{decision="deny",le="1"} 100
h_bucket{decision="deny",le="+Inf"} 100
h_sum{decision="deny"} 1
h_count{decision="deny"} 100
`

func TestHistogram(t *testing.T) {
	h := parseHistogram(histogramText, "h", `decision="approve"`)
	if h.count != 10 || h.sum != 9.5 {
		t.Fatalf("parsed %+v", h)
	}
	for _, tt := range []struct{ q, want float64 }{{0.1, 0.1}, {0.5, 1}, {0.8, 1}, {0.99, math.Inf(1)}} {
		if got := h.quantile(tt.q); got != tt.want {
			t.Errorf("quantile(%g) = %g, want %g", tt.q, got, tt.want)
		}
	}
	before := parseHistogram(`h_bucket{decision="approve",le="0.1"} 1
h_bucket{decision="approve",le="1"} 1
h_bucket{decision="approve",le="+Inf"} 3
h_count{decision="approve"} 3
`, "h", `decision="approve"`)
	if d := h.minus(before); d.quantile(0.5) != 1 || d.quantile(0.01) != 1 || d.count != 7 {
		t.Errorf("difference %+v", d)
	}
	if all := parseHistogram(histogramText, "h"); all.count != 110 || all.quantile(0.5) != 0.1 {
		t.Errorf("both series %+v", all)
	}
	if !math.IsNaN(parseHistogram("", "h").quantile(0.5)) {
		t.Error("an empty histogram has a quantile")
	}
}

func TestReadProc(t *testing.T) {
	s, err := readProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if s.RSS <= 0 || s.HWM < s.RSS || s.CPU <= 0 {
		t.Errorf("this process: %+v", s)
	}
}

// TestKubeCallProxy sends a client's requests through the counting proxy
// to a stand-in server that checks the credentials the proxy adds.
func TestKubeCallProxy(t *testing.T) {
	server := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer admin" {
			http.Error(w, "no credentials", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"kind":"NodeList","apiVersion":"v1","items":[]}`))
	}))
	defer server.Close()
	counter, proxyURL := kubeCallProxy(t, &rest.Config{Host: server.URL, BearerToken: "admin", TLSClientConfig: rest.TLSClientConfig{Insecure: true}})
	cfg, err := clientcmd.BuildConfigFromFlags("", writeProxyKubeconfig(t, proxyURL))
	if err != nil {
		t.Fatal(err)
	}
	client := kubernetes.NewForConfigOrDie(cfg)
	for range 3 {
		if _, err := client.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if got := counter.snapshot(); got["LIST nodes"] != 3 || len(got) != 1 {
		t.Errorf("counted %v, want 3 LIST nodes", got)
	}
}

// TestAWSCallProxy counts calls by action and keeps the Host header the
// client signed.
func TestAWSCallProxy(t *testing.T) {
	hosts := make(chan string, 10)
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hosts <- r.Host
		body, _ := io.ReadAll(r.Body)
		_, _ = w.Write(body)
	}))
	defer server.Close()
	counter, proxyURL := awsCallProxy(t, server.URL)
	form := url.Values{"Action": {"SetDesiredCapacity"}}.Encode()
	resp, err := http.Post(proxyURL, "application/x-www-form-urlencoded", strings.NewReader(form))
	if err != nil {
		t.Fatal(err)
	}
	echoed, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if string(echoed) != form {
		t.Errorf("the cloud got %q, want %q", echoed, form)
	}
	if got := counter.snapshot(); got["SetDesiredCapacity"] != 1 || len(got) != 1 {
		t.Errorf("counted %v", got)
	}
	if got, want := <-hosts, strings.TrimPrefix(proxyURL, "http://"); got != want || len(hosts) != 0 {
		t.Errorf("Host %s, want the signed %s", got, want)
	}
}
