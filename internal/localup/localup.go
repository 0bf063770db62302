// Package localup runs a whole local elastic cluster on one machine: the
// control plane (package controlplane), the AWS-compatible local cloud
// whose instances boot node agents (packages localcloud and agentruntime)
// with its interruption queue (package interruption) and the identity
// join's metadata service and STS endpoint (identity.go), and the cluster's
// pools, created by the pool provisioner through the AWS
// adapter (internal/cloud/aws), the same path that runs against AWS. `kelp up` is a thin wrapper around Start.
package localup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"k8s.io/client-go/kubernetes"

	"github.com/kelp-dev/kelp/examples"
	"github.com/kelp-dev/kelp/internal/approver"
	awscloud "github.com/kelp-dev/kelp/internal/cloud/aws"
	"github.com/kelp-dev/kelp/internal/controller"
	"github.com/kelp-dev/kelp/internal/controlplane"
	"github.com/kelp-dev/kelp/internal/localcloud"
	"github.com/kelp-dev/kelp/internal/localcloud/agentruntime"
	"github.com/kelp-dev/kelp/internal/nodeagent"
	"github.com/kelp-dev/kelp/internal/pool"
)

// Config describes a local cluster.
type Config struct {
	// Dir is the cluster directory (<dir>/<name>); Name the cluster name.
	Dir, Name string
	// BinDir holds the control-plane binaries; the default cache when empty.
	BinDir string
	// StartTimeout bounds the control plane's start.
	StartTimeout time.Duration
	// Pools are reconciled at start: missing ones are created, existing
	// ones left alone. Nil means examples/cluster.yaml.
	Pools *pool.Config
	// Join is the join mode of the pools whose spec names none; empty is
	// pool.JoinModeToken (`kelp up --join` defaults to identity).
	Join pool.JoinMode
	// Faults the local cloud simulates.
	Faults localcloud.Faults
	// AgentTuning is passed to every node agent.
	AgentTuning nodeagent.Tuning
	// CloudPrincipals are callers of the local cloud beside the account's
	// static keys, each with its IAM policies (`kelp up --cloud-principals`).
	CloudPrincipals []localcloud.Principal
	// ControllerPrincipal names the one of CloudPrincipals whose keys the
	// in-process controller signs with, so it runs under that principal's
	// policies; "" uses the account's static keys. Pools at start and the
	// interruption queue's setup keep the static keys.
	ControllerPrincipal string
	// CloudReconcileInterval overrides the local cloud's reconcile period.
	CloudReconcileInterval time.Duration
	// Controller configures the kelp controller run in-process (its
	// ClusterName is set from Name). Approve defaults to auto.
	Controller controller.Options
	// NoController leaves the kelp controller out: run `kelp controller`
	// against the cluster in a process of its own (to measure it, or to
	// run another build). Nodes join only once some approver runs.
	NoController bool
	// NoInterruptionQueue leaves the interruption queue out: the
	// controller finds departing instances by polling the groups only.
	NoInterruptionQueue bool
	// AddressLockDir is where the local clusters of one machine claim their
	// instance addresses; default DefaultAddressLockDir.
	AddressLockDir string
	// UnsafeNoFsync runs etcd without fsync (tests only).
	UnsafeNoFsync bool
	Logger        *slog.Logger
}

// Cluster is a running local cluster.
type Cluster struct {
	cfg          Config
	ControlPlane *controlplane.Cluster
	Cloud        *localcloud.Cloud
	Runtime      *agentruntime.Runtime
	server       *localcloud.Server
	addresses    *addressLease
	identity     *identityEndpoints

	stopController context.CancelFunc
	controllerDone chan struct{}
	controllerErr  error // set before controllerDone closes
}

// Start brings up the control plane, then the local cloud (its instances
// resume) and its interruption queue, then reconciles the pools. On
// failure it stops what it started.
func Start(ctx context.Context, cfg Config) (*Cluster, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Pools == nil {
		pools, err := pool.ParseConfig(examples.ClusterYAML)
		if err != nil {
			return nil, fmt.Errorf("default pools: %w", err)
		}
		cfg.Pools = &pools
	}
	if err := checkListenAddrs(cfg); err != nil {
		return nil, err
	}
	cp, err := controlplane.Start(ctx, controlplane.Config{
		Dir: cfg.Dir, Name: cfg.Name, BinDir: cfg.BinDir, StartTimeout: cfg.StartTimeout,
		UnsafeNoFsync: cfg.UnsafeNoFsync, Logger: cfg.Logger,
	})
	if err != nil {
		return nil, err
	}
	c := &Cluster{cfg: cfg, ControlPlane: cp}
	if err := c.startCloud(ctx); err != nil {
		_ = c.Stop(context.WithoutCancel(ctx))
		return nil, err
	}
	if err := c.startIdentity(); err != nil {
		_ = c.Stop(context.WithoutCancel(ctx))
		return nil, err
	}
	if !cfg.NoInterruptionQueue {
		if err := c.ensureInterruptionQueue(ctx); err != nil {
			_ = c.Stop(context.WithoutCancel(ctx))
			return nil, err
		}
	}
	if err := c.reconcilePools(ctx); err != nil {
		_ = c.Stop(context.WithoutCancel(ctx))
		return nil, err
	}
	if !cfg.NoController {
		if err := c.startController(ctx); err != nil {
			_ = c.Stop(context.WithoutCancel(ctx))
			return nil, err
		}
	}
	return c, nil
}

// startController runs the kelp controller (approver, node lifecycle)
// against the control plane and, through the AWS provider, the local cloud.
func (c *Cluster) startController(ctx context.Context) error {
	opts := c.cfg.Controller
	opts.ClusterName = c.cfg.Name
	if opts.Approve == "" {
		opts.Approve = approver.ModeAuto
	}
	if err := opts.Validate(); err != nil {
		return fmt.Errorf("invalid controller options: %w", err)
	}
	rest, err := c.ControlPlane.AdminRESTConfig()
	if err != nil {
		return err
	}
	opts.KubeAPI.Apply(rest)
	client, err := kubernetes.NewForConfig(rest)
	if err != nil {
		return fmt.Errorf("controller client: %w", err)
	}
	creds, err := c.controllerCredentials()
	if err != nil {
		return err
	}
	provider, err := c.adapter(ctx, creds)
	if err != nil {
		return err
	}
	pools, err := c.provisioner(ctx, client, creds)
	if err != nil {
		return err
	}
	if opts.Join != nil {
		return fmt.Errorf("controller options: the join endpoint of a local cluster is its own (%s; identity-mode user-data names it): leave the --join-* flags to `kelp controller`", c.JoinEndpoint())
	}
	opts.Join = c.JoinOptions()
	deps := controller.Deps{Client: client, Cloud: provider, Scaler: provider, Pools: pools, Logger: c.cfg.Logger, JoinSTSClient: c.JoinSTSClient()}
	if opts.InterruptionQueue != "" {
		cfg, err := c.awsConfig(ctx, creds)
		if err != nil {
			return err
		}
		deps.InterruptionQueue = controller.SQSInterruptionQueue(cfg, c.cfg.Logger)
	}
	c.runController(context.WithoutCancel(ctx), func(ctx context.Context) error { return controller.Run(ctx, opts, deps) })
	return nil
}

func (c *Cluster) startCloud(ctx context.Context) error {
	dir := filepath.Join(c.cfg.Dir, "cloud")
	if err := os.MkdirAll(filepath.Join(dir, "instances"), 0o700); err != nil {
		return fmt.Errorf("create local cloud directory: %w", err)
	}
	lockDir := c.cfg.AddressLockDir
	if lockDir == "" {
		lockDir = DefaultAddressLockDir
	}
	lease, err := claimAddressBlock(dir, lockDir)
	if err != nil {
		return err
	}
	c.addresses = lease
	c.Runtime = &agentruntime.Runtime{Dir: filepath.Join(dir, "instances"), Logger: c.cfg.Logger, Tuning: c.cfg.AgentTuning, Join: c.joinInstance}
	roles, profiles := nodeRoles()
	cloud, err := localcloud.Open(localcloud.Options{Roles: roles, InstanceProfiles: profiles,
		Dir: dir, Runtime: c.Runtime, Faults: c.cfg.Faults, Logger: c.cfg.Logger, AddressBlock: lease.Block,
		ReconcileInterval: c.cfg.CloudReconcileInterval, Principals: c.cfg.CloudPrincipals,
	})
	if err != nil {
		return err
	}
	c.Cloud = cloud
	port, err := loadPort(filepath.Join(dir, "port.json"))
	if err != nil {
		return err
	}
	if c.server, err = localcloud.Listen(port, cloud, c.cfg.Logger); err != nil {
		if port != 0 {
			return fmt.Errorf("local cloud port %d (saved in %s) is taken by another process: %w", port, filepath.Join(dir, "port.json"), err)
		}
		return err
	}
	if err := savePort(filepath.Join(dir, "port.json"), c.server.Port()); err != nil {
		return err
	}
	return cloud.Start(context.WithoutCancel(ctx))
}

// Stop stops the local cloud (its agents stop abruptly; instances resume
// on the next Start) and then the control plane.
func (c *Cluster) Stop(ctx context.Context) error {
	var errs []error
	if c.stopController != nil {
		c.stopController()
		<-c.controllerDone
	}
	if c.server != nil {
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		errs = append(errs, c.server.Shutdown(sctx), c.identity.stop(sctx))
		cancel()
	}
	if c.Cloud != nil {
		errs = append(errs, c.Cloud.Close())
	}
	c.addresses.release()
	if c.ControlPlane != nil {
		errs = append(errs, c.ControlPlane.Stop(ctx))
	}
	return errors.Join(errs...)
}

// CloudURL is the local cloud's endpoint.
func (c *Cluster) CloudURL() string { return c.server.URL() }

// AWSConfig returns an SDK config pointed at the local cloud with its
// static credentials, from the AWS adapter's one loader: what every AWS
// client of kelp gets locally.
func (c *Cluster) AWSConfig(ctx context.Context) (aws.Config, error) {
	return c.awsConfig(ctx, localCredentials())
}

func (c *Cluster) awsConfig(ctx context.Context, creds aws.CredentialsProvider) (aws.Config, error) {
	cfg, err := awscloud.LoadSDKConfig(ctx, awscloud.SDKOptions{
		Region: c.Cloud.Region(), Endpoint: c.CloudURL(), Credentials: creds,
	})
	if err != nil {
		return aws.Config{}, fmt.Errorf("aws config for the local cloud: %w", err)
	}
	return cfg, nil
}

// Env returns the export lines a user sources to reach the cluster with
// kubectl and the cloud with the AWS SDKs and CLI.
func (c *Cluster) Env() string {
	lines := []string{
		"export KUBECONFIG=" + shellQuote(c.ControlPlane.AdminKubeconfigPath()),
		"export PATH=" + shellQuote(c.ControlPlane.BinDir()) + ":$PATH",
		"export AWS_ENDPOINT_URL=" + c.CloudURL(),
		"export AWS_REGION=" + c.Cloud.Region(),
		"export AWS_DEFAULT_REGION=" + c.Cloud.Region(),
		"export AWS_ACCESS_KEY_ID=" + localcloud.AccessKeyID,
		"export AWS_SECRET_ACCESS_KEY=" + shellQuote(localcloud.SecretAccessKey),
		"export AWS_PAGER=",
		"export KELP_CLUSTER_NAME=" + c.cfg.Name,
		"export " + DirEnv + "=" + shellQuote(c.cfg.Dir),
	}
	return strings.Join(lines, "\n") + "\n"
}

// ClusterAutoscalerCloudConfig returns a cloud-config for the upstream
// cluster-autoscaler's AWS provider (--cloud-config) that points its Auto
// Scaling and EC2 clients at the local cloud, so it can drive the same
// pools when kelp runs with --autoscaler=none.
func (c *Cluster) ClusterAutoscalerCloudConfig() string {
	var b strings.Builder
	b.WriteString("[Global]\n")
	for i, svc := range []string{"autoscaling", "ec2"} {
		fmt.Fprintf(&b, "\n[ServiceOverride %q]\nService = %s\nRegion = %s\nURL = %s\nSigningRegion = %s\n",
			strconv.Itoa(i+1), svc, c.Cloud.Region(), c.CloudURL(), c.Cloud.Region())
	}
	return b.String()
}

func shellQuote(s string) string {
	if !strings.ContainsAny(s, " \t\n'\"$`\\!*?[]{}()<>|&;#~") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

type savedPort struct {
	Port int `json:"port"`
}

func loadPort(path string) (int, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read local cloud port: %w", err)
	}
	var p savedPort
	if err := json.Unmarshal(data, &p); err != nil || p.Port < 1 || p.Port > 65535 {
		return 0, fmt.Errorf("saved local cloud port %s is corrupt: %q", path, strings.TrimSpace(string(data)))
	}
	// Probe so that a taken port is reported before anything else starts.
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p.Port)))
	if err != nil {
		return 0, fmt.Errorf("local cloud port %d (saved in %s) is taken by another process: %w", p.Port, path, err)
	}
	l.Close()
	return p.Port, nil
}

func savePort(path string, port int) error {
	data, _ := json.Marshal(savedPort{Port: port})
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("save local cloud port: %w", err)
	}
	return nil
}
