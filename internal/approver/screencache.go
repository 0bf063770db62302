package approver

import (
	"sync"

	certificatesv1 "k8s.io/api/certificates/v1"
	"k8s.io/apimachinery/pkg/types"
)

// ScreenCache remembers, per CSR UID, whether a new-node CSR passed the
// scope, size, request and requestor checks and which node it asks for.
// A CSR's spec is immutable, so the answer never changes for a UID; the
// owner calls Forget when the CSR is deleted. One cache serves one Config
// (the expiration cap is a request check). Safe for concurrent use; the
// zero value is ready, and a nil *ScreenCache caches nothing.
type ScreenCache struct {
	mu      sync.Mutex
	entries map[types.UID]screened
}

// screened is one CSR's screening: the node it asks for and whether it
// passed.
type screened struct {
	node string
	ok   bool
}

// NewScreenCache returns an empty cache.
func NewScreenCache() *ScreenCache { return &ScreenCache{} }

// Forget drops the screening of the CSR with uid.
func (c *ScreenCache) Forget(uid types.UID) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, uid)
}

// Len returns the number of CSRs remembered.
func (c *ScreenCache) Len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// screen returns the node a new-node csr asks for and whether it passed the
// scope, size, request and requestor checks, from the cache when it holds
// csr's UID.
func (c *ScreenCache) screen(csr *certificatesv1.CertificateSigningRequest, cfg Config) (string, bool) {
	if c == nil || csr.UID == "" {
		s := screenNewNode(csr, cfg)
		return s.node, s.ok
	}
	c.mu.Lock()
	s, hit := c.entries[csr.UID]
	c.mu.Unlock()
	if hit {
		return s.node, s.ok
	}
	s = screenNewNode(csr, cfg) // outside the lock: parsing is the slow part
	c.mu.Lock()
	if c.entries == nil {
		c.entries = map[types.UID]screened{}
	}
	c.entries[csr.UID] = s
	c.mu.Unlock()
	return s.node, s.ok
}

// screenNewNode runs the checks of a new-node CSR that depend on nothing
// but the CSR.
func screenNewNode(csr *certificatesv1.CertificateSigningRequest, cfg Config) screened {
	if Classify(csr) != KindNewNode || !requestorInScope(csr, KindNewNode) || len(csr.Spec.Request) > MaxRequestBytes {
		return screened{}
	}
	e := &eval{f: Facts{CSR: csr, Config: cfg}, cfg: cfg.WithDefaults(), kind: KindNewNode}
	e.requestChecks()
	e.requestorChecks()
	return screened{node: e.name, ok: !e.failed() && e.name != ""}
}
