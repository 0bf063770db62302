package localup

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/kelp-dev/kelp/internal/controller"
	"github.com/kelp-dev/kelp/internal/testenv"
)

// taken listens on a free loopback port for the test's life and returns it.
func taken(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return port(l)
}

// TestStartRefusesTakenAddresses: a web view, probe or saved identity
// join port that another process holds fails Start at once, before the
// control plane starts, naming the address and the way out; with no
// controller, its addresses are not the cluster's concern.
func TestStartRefusesTakenAddresses(t *testing.T) {
	busy := taken(t)
	busyAddr := "127.0.0.1:" + strconv.Itoa(busy)
	free := "127.0.0.1:0"
	withPorts := func(p identityPorts) string {
		dir := t.TempDir()
		if err := os.MkdirAll(filepath.Join(dir, "cloud"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := saveJSON(filepath.Join(dir, "cloud", "identity-ports.json"), p); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	tests := []struct {
		name string
		cfg  Config
		want []string // nil: no error
	}{
		{"web view taken", Config{Dir: t.TempDir(), Controller: controller.Options{WebAddr: busyAddr}},
			[]string{"the web view cannot listen on " + busyAddr, "--web-addr (empty turns it off)"}},
		{"probes taken", Config{Dir: t.TempDir(), Controller: controller.Options{WebAddr: free, ProbeAddr: busyAddr}},
			[]string{"the controller's probes cannot listen on " + busyAddr, "--probe-addr"}},
		{"saved join port taken", Config{Dir: withPorts(identityPorts{Join: busy})},
			[]string{"identity join endpoint's port " + busyAddr, "identity-ports.json", "delete the cluster directory"}},
		{"saved metadata port taken", Config{Dir: withPorts(identityPorts{Metadata: busy}), NoController: true},
			[]string{"instance metadata service's port " + busyAddr}},
		{"no controller: its addresses are not checked", Config{Dir: withPorts(identityPorts{Join: busy}), NoController: true,
			Controller: controller.Options{WebAddr: busyAddr}}, nil},
		{"all free", Config{Dir: t.TempDir(), Controller: controller.Options{WebAddr: free}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkListenAddrs(tt.cfg)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("checkListenAddrs: %v", err)
				}
				return
			}
			testenv.ErrorContains(t, err, tt.want...)
		})
	}
	// Start refuses before anything starts: no control plane directory.
	dir := t.TempDir()
	_, err := Start(context.Background(), Config{Dir: dir, Name: "local", BinDir: t.TempDir(), Controller: controller.Options{WebAddr: busyAddr},
		Logger: slog.New(slog.DiscardHandler)})
	testenv.ErrorContains(t, err, "the web view cannot listen on "+busyAddr)
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("Start refused but left %v in the cluster directory", entries)
	}
}

// TestControllerStoppingBySelf: a controller that ends by itself, with an
// error or none, closes ControllerDone with a reason; one stopped by Stop
// has none.
func TestControllerStoppingBySelf(t *testing.T) {
	boom := errors.New("listen for the web view on 127.0.0.1:8081: address already in use")
	for _, tt := range []struct {
		name string
		run  func(context.Context) error
		want string
	}{
		{"error", func(context.Context) error { return boom }, boom.Error()},
		{"returns nil unasked", func(context.Context) error { return nil }, "returned without being stopped"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := &Cluster{cfg: Config{Logger: slog.New(slog.DiscardHandler)}}
			c.runController(context.Background(), tt.run)
			<-c.ControllerDone()
			testenv.ErrorContains(t, c.ControllerErr(), tt.want)
		})
	}
	c := &Cluster{cfg: Config{Logger: slog.New(slog.DiscardHandler)}}
	c.runController(context.Background(), func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() })
	if c.ControllerErr() != nil {
		t.Fatalf("a running controller has an error: %v", c.ControllerErr())
	}
	select {
	case <-c.ControllerDone():
		t.Fatal("ControllerDone closed while the controller runs")
	default:
	}
	if err := c.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := c.ControllerErr(); err != nil {
		t.Fatalf("a controller stopped by Stop has an error: %v", err)
	}
	if (&Cluster{}).ControllerDone() != nil {
		t.Error("a cluster without a controller has a ControllerDone channel")
	}
}

// TestReadJoinEndpoints: the saved ports become the endpoints identity
// user-data names; a directory without them is an error saying so.
func TestReadJoinEndpoints(t *testing.T) {
	dir := t.TempDir()
	_, err := ReadJoinEndpoints(dir)
	testenv.ErrorContains(t, err, "no identity join endpoints saved", "has `kelp up` started the cluster in "+dir)
	if err := os.MkdirAll(filepath.Join(dir, "cloud"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := saveJSON(filepath.Join(dir, "cloud", "identity-ports.json"), identityPorts{Metadata: 1001, STS: 1002, Join: 1003}); err != nil {
		t.Fatal(err)
	}
	got, err := ReadJoinEndpoints(dir)
	want := JoinEndpoints{Endpoint: "https://127.0.0.1:1003", STSEndpoint: "https://127.0.0.1:1002", MetadataEndpoint: "http://127.0.0.1:1001", InstanceProfile: "kelp-node"}
	if err != nil || got != want {
		t.Fatalf("ReadJoinEndpoints = %+v, %v; want %+v", got, err, want)
	}
}
