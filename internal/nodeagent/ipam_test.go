package nodeagent

import (
	"errors"
	"fmt"
	"net/netip"
	"testing"
)

func TestNodePodCIDR(t *testing.T) {
	tests := []struct {
		base    string
		node    string
		wantErr bool
	}{
		{"10.244.0.0/16", "127.0.1.5", false},
		{"10.244.0.0/16", "10.0.7.200", false},
		{"10.0.0.0/8", "127.0.1.5", false},
		{"192.168.7.0/24", "127.0.1.5", false}, // a single /24: every node shares it
		{"10.244.0.0/25", "127.0.1.5", true},
		{"fd00::/64", "127.0.1.5", true},
	}
	for _, tt := range tests {
		t.Run(tt.base+"/"+tt.node, func(t *testing.T) {
			base, node := netip.MustParsePrefix(tt.base), netip.MustParseAddr(tt.node)
			got, err := nodePodCIDR(base, node)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("nodePodCIDR = %s, want error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Bits() != 24 || !base.Contains(got.Addr()) || got.Addr() != got.Masked().Addr() {
				t.Errorf("nodePodCIDR = %s, want a /24 inside %s", got, base)
			}
			if again, _ := nodePodCIDR(base, node); again != got {
				t.Errorf("not deterministic: %s then %s", got, again)
			}
		})
	}
}

func TestNodePodCIDRSpreads(t *testing.T) {
	base := netip.MustParsePrefix("10.244.0.0/16")
	seen := map[netip.Prefix]bool{}
	for i := range 100 {
		p, err := nodePodCIDR(base, netip.MustParseAddr(fmt.Sprintf("127.0.%d.%d", i/50, i%50+2)))
		if err != nil {
			t.Fatal(err)
		}
		seen[p] = true
	}
	// 100 nodes over 256 slots: expect ~82 distinct; far fewer means a bad hash.
	if len(seen) < 60 {
		t.Errorf("100 nodes drew only %d distinct /24s", len(seen))
	}
}

func TestPodIPs(t *testing.T) {
	p := newPodIPs(netip.MustParsePrefix("10.244.7.0/24"))
	must := func(key string) netip.Addr {
		t.Helper()
		ip, err := p.allocate(key)
		if err != nil {
			t.Fatalf("allocate %s: %v", key, err)
		}
		return ip
	}
	steps := []struct {
		name string
		do   func() netip.Addr
		want string
	}{
		{"first skips network and gateway", func() netip.Addr { return must("a") }, "10.244.7.2"},
		{"sequential", func() netip.Addr { return must("b") }, "10.244.7.3"},
		{"same pod same ip", func() netip.Addr { return must("a") }, "10.244.7.2"},
		{"released ip not reused at once", func() netip.Addr { p.release("a"); return must("c") }, "10.244.7.4"},
		{"adopted ip kept", func() netip.Addr {
			if !p.reserve("d", netip.MustParseAddr("10.244.7.100")) {
				t.Error("reserve of a free IP failed")
			}
			ip, _ := p.assigned("d")
			return ip
		}, "10.244.7.100"},
		{"taken ip not adopted", func() netip.Addr {
			if p.reserve("e", netip.MustParseAddr("10.244.7.3")) {
				t.Error("reserve of b's IP succeeded")
			}
			return must("e")
		}, "10.244.7.5"},
	}
	for _, s := range steps {
		if got := s.do(); got.String() != s.want {
			t.Errorf("%s: got %s, want %s", s.name, got, s.want)
		}
	}
	for _, out := range []string{"10.244.8.2", "10.244.7.0", "10.244.7.1", "10.244.7.255"} {
		if p.reserve("x", netip.MustParseAddr(out)) {
			t.Errorf("reserve accepted %s outside the usable range", out)
		}
	}
}

func TestPodIPsWrapAndExhaust(t *testing.T) {
	p := newPodIPs(netip.MustParsePrefix("10.244.7.0/24"))
	for i := range 253 {
		ip, err := p.allocate(fmt.Sprint(i))
		if err != nil {
			t.Fatalf("allocation %d: %v", i, err)
		}
		if i == 252 && ip.String() != "10.244.7.254" {
			t.Errorf("last IP = %s, want 10.244.7.254", ip)
		}
	}
	if _, err := p.allocate("full"); !errors.Is(err, errPodIPsExhausted) {
		t.Fatalf("allocate on a full range: %v, want errPodIPsExhausted", err)
	}
	p.release("10") // 10.244.7.12
	if ip, err := p.allocate("wrapped"); err != nil || ip.String() != "10.244.7.12" {
		t.Errorf("allocate after wrap = %s, %v; want the freed 10.244.7.12", ip, err)
	}
}
