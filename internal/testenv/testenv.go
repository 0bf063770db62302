// Package testenv runs one real local control plane per test binary and
// hands tests an admin client and a fresh namespace each.
//
// An integration test package calls Main from its TestMain:
//
//	func TestMain(m *testing.M) { testenv.Main(m) }
//
// and each test calls Get(t) and t.Namespace(). When the control-plane
// binaries are missing the whole package fails with a message saying to
// run `make controlplane`; it never skips.
//
// Control planes are heavy on a 2-core machine, so test binaries that run
// at the same time (go test runs packages in parallel) take turns through
// a file lock: at most KELP_TEST_CONTROLPLANES (default 1) run at once.
package testenv

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/kelp-dev/kelp/internal/controlplane"
)

// Env is the shared control plane of a test binary.
type Env struct {
	Cluster *controlplane.Cluster
	Config  *rest.Config
	Client  kubernetes.Interface
}

// ClusterName is the cluster name of test control planes.
const ClusterName = "kelp-test"

var shared *Env

// Main starts the control plane, runs the tests and stops it. It exits the
// process with the tests' status, or 1 when the control plane cannot start.
func Main(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	binDir, err := controlplane.DefaultBinDir()
	if err == nil {
		err = controlplane.CheckBinaries(binDir)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: integration tests need the control plane: %v\n", err)
		return 1
	}
	release, err := AcquireSlot()
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: %v\n", err)
		return 1
	}
	defer release()

	dir, err := os.MkdirTemp("", "kelp-testenv-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: create cluster directory: %v\n", err)
		return 1
	}
	ctx := context.Background()
	cluster, err := controlplane.Start(ctx, controlplane.Config{
		Dir: dir, Name: ClusterName, UnsafeNoFsync: true, StartTimeout: 3 * time.Minute,
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: start control plane: %v\n", err)
		return 1
	}
	code := func() int {
		defer func() {
			stopCtx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			if err := cluster.Stop(stopCtx); err != nil {
				fmt.Fprintf(os.Stderr, "stop control plane: %v\n", err)
			}
		}()
		cfg, err := cluster.AdminRESTConfig()
		if err != nil {
			fmt.Fprintf(os.Stderr, "FAIL: %v\n", err)
			return 1
		}
		cfg.QPS, cfg.Burst = 200, 400
		shared = &Env{Cluster: cluster, Config: cfg, Client: kubernetes.NewForConfigOrDie(cfg)}
		return m.Run()
	}()
	if code == 0 {
		os.RemoveAll(dir)
	} else {
		fmt.Fprintf(os.Stderr, "control plane logs kept in %s/logs\n", dir)
	}
	return code
}

// Get returns the shared environment; it fails the test when the package
// has no TestMain calling Main.
func Get(t testing.TB) *Env {
	t.Helper()
	if shared == nil {
		t.Fatal("testenv: no control plane; call testenv.Main from TestMain")
	}
	return shared
}

// Namespace creates a namespace for this test and deletes it when the
// test ends.
func (e *Env) Namespace(t testing.TB) string {
	t.Helper()
	name := strings.ToLower(fmt.Sprintf("t-%.40s-%s", sanitize(t.Name()), rand.String(5)))
	ctx := context.Background()
	_, err := e.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create namespace %s: %v", name, err)
	}
	t.Cleanup(func() {
		_ = e.Client.CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
	// The API server refuses pods until the namespace's default
	// ServiceAccount exists; wait for it so tests can create pods at once.
	err = wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		_, err := e.Client.CoreV1().ServiceAccounts(name).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	})
	if err != nil {
		t.Fatalf("namespace %s: default service account never appeared: %v", name, err)
	}
	return name
}

func sanitize(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	return strings.Trim(b.String(), "-")
}

// AcquireSlot blocks until this process may run a control plane, and
// returns the function that gives the slot back. Slots are file locks in
// the temp directory, so they are released even if the process dies.
func AcquireSlot() (release func(), err error) {
	slots := 1
	if v := os.Getenv("KELP_TEST_CONTROLPLANES"); v != "" {
		if slots, err = strconv.Atoi(v); err != nil || slots < 1 {
			return nil, fmt.Errorf("KELP_TEST_CONTROLPLANES=%q: want a positive integer", v)
		}
	}
	// Poll until a slot is free; go test -timeout bounds the wait.
	err = wait.PollUntilContextCancel(context.Background(), 500*time.Millisecond, true, func(context.Context) (bool, error) {
		for i := range slots {
			path := filepath.Join(os.TempDir(), fmt.Sprintf("kelp-testenv-slot-%d.lock", i))
			f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
			if err != nil {
				return false, fmt.Errorf("open control-plane slot %s: %w", path, err)
			}
			if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil {
				release = func() { f.Close() }
				return true, nil
			}
			f.Close()
		}
		return false, nil
	})
	if err != nil {
		return nil, err
	}
	return release, nil
}
