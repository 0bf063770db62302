package aws

import (
	"slices"
	"sync"
	"time"

	"k8s.io/utils/clock"

	"github.com/kelp-dev/kelp/internal/cloud"
)

// instanceCache holds instance lookups for a TTL: instances by ID and the
// IDs answering a private DNS name. Entries are copies; reads return
// copies. It never caches "not found": a new instance may appear any time.
type instanceCache struct {
	ttl   time.Duration
	clock clock.PassiveClock

	mu   sync.Mutex
	ids  map[string]cachedInstance
	dnss map[string]cachedDNS
}

type cachedInstance struct {
	inst cloud.Instance
	at   time.Time
}

type cachedDNS struct {
	ids []string
	at  time.Time
}

func newInstanceCache(ttl time.Duration, c clock.PassiveClock) instanceCache {
	return instanceCache{ttl: ttl, clock: c, ids: map[string]cachedInstance{}, dnss: map[string]cachedDNS{}}
}

func (c *instanceCache) fresh(at time.Time) bool { return c.clock.Since(at) < c.ttl }

// byID returns a fresh cached instance.
func (c *instanceCache) byID(id string) (cloud.Instance, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.ids[id]
	if !ok || !c.fresh(e.at) {
		return cloud.Instance{}, false
	}
	return e.inst.Clone(), true
}

// byDNS returns the cached answer for a DNS name when it and every
// instance in it are fresh.
func (c *instanceCache) byDNS(name string) ([]cloud.Instance, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.dnss[name]
	if !ok || !c.fresh(e.at) || len(e.ids) == 0 {
		return nil, false
	}
	out := make([]cloud.Instance, 0, len(e.ids))
	for _, id := range e.ids {
		ie, ok := c.ids[id]
		if !ok || !c.fresh(ie.at) {
			return nil, false
		}
		out = append(out, ie.inst.Clone())
	}
	return out, true
}

// putIDs caches instances by ID.
func (c *instanceCache) putIDs(insts []cloud.Instance) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.clock.Now()
	for _, inst := range insts {
		c.ids[inst.ID] = cachedInstance{inst: inst.Clone(), at: now}
	}
}

// putDNS caches the instances answering a DNS name (none is not cached).
func (c *instanceCache) putDNS(name string, insts []cloud.Instance) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(insts) == 0 {
		delete(c.dnss, name)
		return
	}
	ids := make([]string, len(insts))
	for i, inst := range insts {
		ids[i] = inst.ID
	}
	c.dnss[name] = cachedDNS{ids: ids, at: c.clock.Now()}
}

// invalidate forgets an instance and every DNS answer naming it.
func (c *instanceCache) invalidate(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.ids, id)
	for name, e := range c.dnss {
		if slices.Contains(e.ids, id) {
			delete(c.dnss, name)
		}
	}
}

// forgetDNS forgets every DNS answer.
func (c *instanceCache) forgetDNS() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.dnss)
}

func (c *instanceCache) invalidateAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.ids)
	clear(c.dnss)
}

// expire drops stale entries, so the cache does not grow without bound.
func (c *instanceCache) expire() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, e := range c.ids {
		if !c.fresh(e.at) {
			delete(c.ids, id)
		}
	}
	for name, e := range c.dnss {
		if !c.fresh(e.at) {
			delete(c.dnss, name)
		}
	}
}
