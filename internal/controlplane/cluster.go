package controlplane

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Config says where a local cluster lives and how to run it.
type Config struct {
	// Dir is the cluster directory (`kelp up` uses <dir>/<name>).
	Dir string
	// Name is the cluster name: kube-controller-manager's --cluster-name
	// and the name kelp uses in tags and token groups.
	Name string
	// BinDir holds the control-plane binaries; DefaultBinDir when empty.
	BinDir string
	// StartTimeout bounds the wait for every component to be ready.
	// Default 2 minutes.
	StartTimeout time.Duration
	// StopGrace is how long a component gets after SIGTERM before SIGKILL.
	// Default 10 seconds.
	StopGrace time.Duration
	// NodeMonitorGracePeriod is how long a node may miss heartbeats before
	// kube-controller-manager marks it NotReady. Default 20 seconds.
	NodeMonitorGracePeriod time.Duration
	// UnsafeNoFsync runs etcd without fsync: faster for throwaway test
	// clusters, loses data on a machine crash. Never for `kelp up`.
	UnsafeNoFsync bool
	// Logger receives supervision logs; slog.Default() when nil.
	Logger *slog.Logger
}

// Validate reports every problem with the config at once.
func (c Config) Validate() error {
	var errs []error
	if c.Dir == "" {
		errs = append(errs, errors.New("cluster directory is empty"))
	}
	if c.Name == "" {
		errs = append(errs, errors.New("cluster name is empty"))
	} else if msgs := validation.IsDNS1123Label(c.Name); len(msgs) > 0 {
		errs = append(errs, fmt.Errorf("cluster name %q is not a DNS label: %s", c.Name, strings.Join(msgs, "; ")))
	}
	if c.StartTimeout < 0 || c.StopGrace < 0 || c.NodeMonitorGracePeriod < 0 {
		errs = append(errs, errors.New("timeouts must not be negative"))
	}
	return errors.Join(errs...)
}

func (c *Config) setDefaults() error {
	if c.BinDir == "" {
		d, err := DefaultBinDir()
		if err != nil {
			return err
		}
		c.BinDir = d
	}
	if c.StartTimeout == 0 {
		c.StartTimeout = 2 * time.Minute
	}
	if c.StopGrace == 0 {
		c.StopGrace = 10 * time.Second
	}
	if c.NodeMonitorGracePeriod == 0 {
		c.NodeMonitorGracePeriod = 20 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// Cluster is a running local control plane.
type Cluster struct {
	cfg   Config
	ports Ports
	pki   *PKI
	lock  *os.File
	procs []*process // in start order; stopped in reverse
}

// Start brings up etcd, kube-apiserver, kube-controller-manager and
// kube-scheduler in cfg.Dir and returns once each reports healthy. On any
// failure everything started so far is stopped again.
func Start(ctx context.Context, cfg Config) (*Cluster, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid cluster config: %w", err)
	}
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	if err := CheckBinaries(cfg.BinDir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(cfg.Dir, "logs"), 0o700); err != nil {
		return nil, fmt.Errorf("create cluster directory: %w", err)
	}
	c := &Cluster{cfg: cfg}
	var err error
	if c.lock, err = lockDir(cfg.Dir); err != nil {
		return nil, err
	}
	if err := c.prepare(); err != nil {
		c.unlock()
		return nil, err
	}
	if err := c.startComponents(ctx); err != nil {
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.StopGrace+15*time.Second)
		defer cancel()
		_ = c.Stop(stopCtx)
		return nil, err
	}
	return c, nil
}

// prepare loads or creates the PKI, ports and kubeconfigs, and writes
// kube-scheduler's config file.
func (c *Cluster) prepare() error {
	var err error
	if c.pki, err = LoadOrCreatePKI(filepath.Join(c.cfg.Dir, "pki"), time.Now()); err != nil {
		return err
	}
	if c.ports, err = loadOrChoosePorts(filepath.Join(c.cfg.Dir, "ports.json")); err != nil {
		return err
	}
	for _, kc := range []struct{ file, user, leaf string }{
		{"admin.kubeconfig", "kubernetes-admin", "admin"},
		{"controller-manager.kubeconfig", "system:kube-controller-manager", "controller-manager"},
		{"scheduler.kubeconfig", "system:kube-scheduler", "scheduler"},
	} {
		path := filepath.Join(c.cfg.Dir, kc.file)
		if err := writeClientKubeconfig(path, c.APIServerURL(), c.cfg.Name, kc.user, c.pki.CA, c.pki.Leaves[kc.leaf]); err != nil {
			return err
		}
	}
	path := filepath.Join(c.cfg.Dir, "scheduler.yaml")
	if err := os.WriteFile(path, []byte(schedulerConfig(filepath.Join(c.cfg.Dir, "scheduler.kubeconfig"))), 0o600); err != nil {
		return fmt.Errorf("write kube-scheduler config: %w", err)
	}
	return nil
}

func (c *Cluster) startComponents(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.StartTimeout)
	defer cancel()
	steps := []struct {
		name  string
		args  []string
		ready func(context.Context) error
	}{
		{"etcd", c.etcdArgs(), c.etcdReady},
		{"kube-apiserver", c.apiServerArgs(), c.apiServerReady},
		{"kube-controller-manager", c.controllerManagerArgs(), c.healthzReady(c.ports.ControllerManager)},
		{"kube-scheduler", c.schedulerArgs(), c.healthzReady(c.ports.Scheduler)},
	}
	for _, s := range steps {
		p := newProcess(s.name, filepath.Join(c.cfg.BinDir, s.name), filepath.Join(c.cfg.Dir, "logs", s.name+".log"), s.args, c.cfg.Logger)
		if err := p.start(); err != nil {
			return err
		}
		c.procs = append(c.procs, p)
		if err := waitReady(ctx, p, s.ready); err != nil {
			return err
		}
	}
	return nil
}

// Stop stops the components in reverse order (SIGTERM, then SIGKILL after
// the grace period) and releases the directory lock. It returns once no
// process is left.
func (c *Cluster) Stop(ctx context.Context) error {
	var errs []error
	for i := len(c.procs) - 1; i >= 0; i-- {
		if err := c.procs[i].stop(ctx, c.cfg.StopGrace); err != nil {
			errs = append(errs, err)
		}
	}
	c.procs = nil
	c.unlock()
	return errors.Join(errs...)
}

// Dir returns the cluster directory.
func (c *Cluster) Dir() string { return c.cfg.Dir }

// Name returns the cluster name.
func (c *Cluster) Name() string { return c.cfg.Name }

// Ports returns the ports the components listen on.
func (c *Cluster) Ports() Ports { return c.ports }

// APIServerURL returns the API server's https URL on loopback.
func (c *Cluster) APIServerURL() string {
	return "https://127.0.0.1:" + strconv.Itoa(c.ports.APIServer)
}

// CACertPEM returns the cluster CA certificate: what nodes trust.
func (c *Cluster) CACertPEM() []byte { return EncodeCertificatePEM(c.pki.CA.Cert) }

// AdminKubeconfigPath returns the path of the system:masters kubeconfig.
func (c *Cluster) AdminKubeconfigPath() string {
	return filepath.Join(c.cfg.Dir, "admin.kubeconfig")
}

// KubectlPath returns the pinned kubectl binary.
func (c *Cluster) KubectlPath() string { return filepath.Join(c.cfg.BinDir, "kubectl") }

// BinDir returns the directory of the control-plane binaries.
func (c *Cluster) BinDir() string { return c.cfg.BinDir }

// AdminRESTConfig returns a client config with system:masters rights.
func (c *Cluster) AdminRESTConfig() (*rest.Config, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", c.AdminKubeconfigPath())
	if err != nil {
		return nil, fmt.Errorf("load admin kubeconfig: %w", err)
	}
	return cfg, nil
}

// Running reports the components whose process is not alive right now
// (a supervised component being restarted shows up here).
func (c *Cluster) NotRunning() []string {
	var down []string
	for _, p := range c.procs {
		if !p.running() {
			down = append(down, p.name)
		}
	}
	return down
}

// lockDir takes an exclusive, non-blocking flock on <dir>/lock so that two
// processes never run the same cluster directory. The kernel drops the
// lock when the process dies, so a crash never leaves it stale.
func lockDir(dir string) (*os.File, error) {
	path := filepath.Join(dir, "lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open cluster lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("cluster directory %s is in use by another kelp process (pid %s); stop it first", dir, strings.TrimSpace(string(holder)))
		}
		return nil, fmt.Errorf("lock cluster directory %s: %w", dir, err)
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return f, nil
}

func (c *Cluster) unlock() {
	if c.lock != nil {
		_ = syscall.Flock(int(c.lock.Fd()), syscall.LOCK_UN)
		c.lock.Close()
		c.lock = nil
	}
}
