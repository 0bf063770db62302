package nodeagent

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/kelp-dev/kelp/internal/bootstrap"
	"github.com/kelp-dev/kelp/internal/testenv"
	"github.com/kelp-dev/kelp/internal/userdata"
)

// identityNode turns n into an identity-mode instance: its root holds a
// join config instead of the bootstrap kubeconfig.
func identityNode(t *testing.T, n *testNode) userdata.IdentityJoin {
	t.Helper()
	if err := os.Remove(filepath.Join(n.root, userdata.LocalBootstrapKubeconfigPath)); err != nil {
		t.Fatal(err)
	}
	j := userdata.IdentityJoin{Endpoint: "https://join.example.test:8443", EndpointCA: n.env.Cluster.CACertPEM(),
		Server: n.env.Cluster.APIServerURL(), ServerCA: n.env.Cluster.CACertPEM()}
	data, err := yaml.Marshal(userdata.JoinConfig{APIVersion: userdata.NodeConfigAPIVersion, Kind: userdata.JoinConfigKind, IdentityJoin: j})
	if err != nil {
		t.Fatal(err)
	}
	writeTestFile(t, filepath.Join(n.root, userdata.LocalJoinConfigPath), data)
	return j
}

// recordingJoiner writes a bootstrap kubeconfig with token, as a join
// kelp accepted would, or fails with refuse; it records each request.
type recordingJoiner struct {
	mu     sync.Mutex
	reqs   []JoinRequest
	token  bootstrap.Token
	refuse error
}

func (r *recordingJoiner) join(_ context.Context, req JoinRequest) error {
	r.mu.Lock()
	r.reqs = append(r.reqs, req)
	r.mu.Unlock()
	if r.refuse != nil {
		return r.refuse
	}
	kc, err := bootstrap.BootstrapKubeconfig(req.Join.Server, req.Join.ServerCA, r.token)
	if err != nil {
		return err
	}
	return writeFileAtomic(req.BootstrapKubeconfig, kc, 0o600)
}

func (r *recordingJoiner) requests() []JoinRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]JoinRequest(nil), r.reqs...)
}

func TestIdentityJoinThenTLSBootstrap(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	n := newTestNode(t, env, nodeOpts{})
	want := identityNode(t, n)
	j := &recordingJoiner{token: n.token}
	a, err := New(Config{Root: n.root, Logger: testLogger(t), Join: j.join})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	n.agent = a
	joinNode(t, n)

	reqs := j.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d joins, want 1", len(reqs))
	}
	r := reqs[0]
	if r.NodeName != n.id.PrivateDNSName || r.LocalAddr.String() != n.id.PrivateIP || r.Join.Endpoint != want.Endpoint ||
		r.BootstrapKubeconfig != filepath.Join(n.root, userdata.LocalBootstrapKubeconfigPath) {
		t.Errorf("join request %+v, want node %s from %s to %s", r, n.id.PrivateDNSName, n.id.PrivateIP, want.Endpoint)
	}
	// A restart finds its client certificate: no second join.
	if err := n.halt(t); err != nil {
		t.Fatal(err)
	}
	n.agent, err = New(Config{Root: n.root, Logger: testLogger(t), Join: j.join})
	if err != nil {
		t.Fatalf("New after the join: %v", err)
	}
	n.start(t)
	waitReady(t, n.agent)
	if got := len(j.requests()); got != 1 {
		t.Errorf("%d joins after a restart, want still 1", got)
	}
}

func TestIdentityJoinRefusedStopsTheAgent(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	n := newTestNode(t, env, nodeOpts{})
	identityNode(t, n)
	refusal := errors.New("identity join: AlreadyJoined: instance joined before")
	j := &recordingJoiner{refuse: refusal}
	a, err := New(Config{Root: n.root, Logger: testLogger(t), Join: j.join})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := a.Run(ctx); !errors.Is(err, refusal) {
		t.Fatalf("Run: %v, want the refusal", err)
	}
	if len(j.requests()) != 1 {
		t.Errorf("%d joins, want 1 (the agent does not retry a refusal)", len(j.requests()))
	}

	// Without a Joiner, the agent says what is missing.
	b, err := New(Config{Root: n.root, Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := b.Run(ctx); err == nil || !strings.Contains(err.Error(), "Config.Join") {
		t.Errorf("Run without a Joiner: %v, want it to name Config.Join", err)
	}
}
