package drain

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/kelp-dev/kelp/internal/testenv"
)

// Calls a removal makes, as the fault transport names them: each step of
// Remove begins with one (Taint: updateNode, Evict: listPods then evict,
// WaitForPods: listPods until the evicted pods are gone, Terminate:
// listPods, DeleteNode: deleteNode).
const (
	callUpdateNode = "updateNode"
	callEvict      = "evict"
	callListPods   = "listPods"
	callDeleteNode = "deleteNode"
)

// call is one API call of a removal, seen by a fault before it is sent.
type call struct {
	kind string
	// node is the node the call is about, "" for an eviction.
	node string
	// n counts the calls of this kind and node so far, this one included.
	n int
	// drained: an earlier listPods of the node came back empty, so
	// WaitForPods is over and the next listPods is Terminate's.
	drained bool
}

// fault runs before each call of a removal; an error fails the call as
// the API server would. It may also block, or change the cluster.
type fault func(call) error

// errInjected is the failure a fault injects.
var errInjected = errors.New("injected by the test")

// faultyClient returns a client of the test control plane whose calls go
// through f. Tests use it to stop a removal at a step without a hook in the
// drain package: the steps' calls are the package's own.
func faultyClient(t *testing.T, env *testenv.Env, f fault) kubernetes.Interface {
	t.Helper()
	cfg := rest.CopyConfig(env.Config)
	cfg.ContentType, cfg.AcceptContentTypes = "application/json", "application/json" // listPods' responses are read
	ft := &faultTransport{fault: f, counts: map[string]int{}, drained: map[string]bool{}}
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { ft.next = rt; return ft })
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

type faultTransport struct {
	next  http.RoundTripper
	fault fault

	mu      sync.Mutex
	counts  map[string]int  // by kind/node
	drained map[string]bool // by node
}

func (ft *faultTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	kind, node := classify(req)
	if kind == "" || ft.fault == nil {
		return ft.next.RoundTrip(req)
	}
	ft.mu.Lock()
	ft.counts[kind+"/"+node]++
	c := call{kind: kind, node: node, n: ft.counts[kind+"/"+node], drained: ft.drained[node]}
	ft.mu.Unlock()
	if err := ft.fault(c); err != nil {
		return nil, err
	}
	resp, err := ft.next.RoundTrip(req)
	if err != nil || kind != callListPods || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	var list struct {
		Items []json.RawMessage `json:"items"`
	}
	if json.Unmarshal(body, &list) == nil && len(list.Items) == 0 {
		ft.mu.Lock()
		ft.drained[node] = true
		ft.mu.Unlock()
	}
	return resp, nil
}

// classify names a removal's call and its node; "" for other calls.
func classify(req *http.Request) (kind, node string) {
	path := strings.TrimPrefix(req.URL.Path, "/api/v1/")
	switch {
	case req.Method == http.MethodPut && strings.HasPrefix(path, "nodes/") && !strings.Contains(strings.TrimPrefix(path, "nodes/"), "/"):
		return callUpdateNode, strings.TrimPrefix(path, "nodes/")
	case req.Method == http.MethodDelete && strings.HasPrefix(path, "nodes/"):
		return callDeleteNode, strings.TrimPrefix(path, "nodes/")
	case req.Method == http.MethodPost && strings.HasSuffix(path, "/eviction"):
		return callEvict, ""
	case req.Method == http.MethodGet && path == "pods":
		if n, ok := strings.CutPrefix(req.URL.Query().Get("fieldSelector"), "spec.nodeName="); ok {
			return callListPods, n
		}
	}
	return "", ""
}
