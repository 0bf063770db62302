package webview

import "testing"

func TestLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:8081": true, "[::1]:8081": true, "localhost:8081": true, "127.0.0.2:0": true,
		":8081": false, "0.0.0.0:8081": false, "10.0.0.1:8081": false, "[::]:8081": false, "example.com:80": false, "8081": false,
	} {
		if got := Loopback(addr); got != want {
			t.Errorf("Loopback(%q) = %t, want %t", addr, got, want)
		}
	}
}

func TestOptionsValidate(t *testing.T) {
	if err := (Options{Addr: "8081"}).Validate(); err == nil {
		t.Fatal("address without a port accepted")
	}
	if err := (Options{Addr: ":8081", Span: -1}).Validate(); err == nil {
		t.Fatal("negative span accepted")
	}
}
