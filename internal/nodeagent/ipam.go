package nodeagent

import (
	"errors"
	"fmt"
	"hash/fnv"
	"net/netip"
)

// nodePodPrefixBits is the size of each node's pod range: a /24.
const nodePodPrefixBits = 24

// errPodIPsExhausted is returned when a node's pod range has no free IP.
var errPodIPsExhausted = errors.New("no free pod IP")

// nodePodCIDR returns the node's /24 within the cluster pod network base
// (IPv4, /24 or wider), chosen by an FNV-1a hash of the node's IP. It is
// deterministic, so a restarted agent gets the same range; two nodes can
// draw the same /24 (a /16 has 256), which is harmless because pod IPs are
// only recorded, never routed.
func nodePodCIDR(base netip.Prefix, nodeIP netip.Addr) (netip.Prefix, error) {
	if !base.Addr().Is4() || base.Bits() > nodePodPrefixBits || base.Bits() < 0 {
		return netip.Prefix{}, fmt.Errorf("pod network %s: must be an IPv4 prefix of /%d or wider", base, nodePodPrefixBits)
	}
	h := fnv.New32a()
	b := nodeIP.As16()
	h.Write(b[:])
	subnets := uint32(1) << (nodePodPrefixBits - base.Bits())
	a := base.Masked().Addr().As4()
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	v += (h.Sum32() % subnets) << (32 - nodePodPrefixBits)
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), 0}), nodePodPrefixBits), nil
}

// podIPs hands out the IPs of one node's /24 to pods, sequentially and
// wrapping around, skipping the network address, the gateway (.1) and the
// broadcast address. It is not safe for concurrent use.
type podIPs struct {
	prefix netip.Prefix
	first  netip.Addr // .2
	last   netip.Addr // .254
	next   netip.Addr
	owner  map[netip.Addr]string // IP → pod key
	byPod  map[string]netip.Addr
}

func newPodIPs(prefix netip.Prefix) *podIPs {
	network := prefix.Masked().Addr()
	first := network.Next().Next()
	last := first
	for i := 0; i < 252; i++ {
		last = last.Next()
	}
	return &podIPs{
		prefix: prefix.Masked(),
		first:  first,
		last:   last,
		next:   first,
		owner:  map[netip.Addr]string{},
		byPod:  map[string]netip.Addr{},
	}
}

// assigned returns the pod's IP, if it has one.
func (p *podIPs) assigned(key string) (netip.Addr, bool) {
	ip, ok := p.byPod[key]
	return ip, ok
}

// reserve records ip as the pod's when it is in range and free (or
// already the pod's), and reports whether it did. Adopted pods keep their
// IP this way.
func (p *podIPs) reserve(key string, ip netip.Addr) bool {
	if !p.usable(ip) {
		return false
	}
	if o, taken := p.owner[ip]; taken {
		return o == key
	}
	p.release(key)
	p.owner[ip] = key
	p.byPod[key] = ip
	return true
}

// allocate returns the pod's IP, assigning the next free one when it has
// none. It wraps errPodIPsExhausted when the range is full.
func (p *podIPs) allocate(key string) (netip.Addr, error) {
	if ip, ok := p.byPod[key]; ok {
		return ip, nil
	}
	ip := p.next
	for range p.size() {
		cand := ip
		ip = ip.Next()
		if ip.Compare(p.last) > 0 {
			ip = p.first
		}
		if _, taken := p.owner[cand]; !taken {
			p.owner[cand] = key
			p.byPod[key] = cand
			p.next = ip
			return cand, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("allocate pod IP in %s: %w", p.prefix, errPodIPsExhausted)
}

// release frees the pod's IP, if any.
func (p *podIPs) release(key string) {
	if ip, ok := p.byPod[key]; ok {
		delete(p.owner, ip)
		delete(p.byPod, key)
	}
}

func (p *podIPs) size() int { return 253 }

func (p *podIPs) usable(ip netip.Addr) bool {
	return ip.Is4() && p.prefix.Contains(ip) && ip.Compare(p.first) >= 0 && ip.Compare(p.last) <= 0
}
