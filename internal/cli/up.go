package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kelp-dev/kelp/internal/controlplane"
	"github.com/kelp-dev/kelp/internal/localcloud"
	"github.com/kelp-dev/kelp/internal/localup"
	"github.com/kelp-dev/kelp/internal/pool"
)

type upOptions struct {
	dir        string
	name       string
	binDir     string
	timeout    time.Duration
	poolsFile  string
	faultsFile string
	principals string
	// controllerPrincipal names the principal the in-process controller uses.
	controllerPrincipal string
	faults              localcloud.Faults
	controller          controllerFlags
	// noController leaves the controller to a `kelp controller` process.
	noController bool
	// join is the join mode of pools whose pools file names none.
	join string
}

func newUpCommand() *cobra.Command {
	var o upOptions
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Run a local elastic cluster in the foreground until Ctrl-C",
		Long: `up starts a local Kubernetes control plane (etcd, kube-apiserver,
kube-controller-manager, kube-scheduler) and an AWS-compatible local cloud
whose instances boot simulated kubelets from their launch template's
user-data, creates the pools of --pools that are missing, writes an env file
with KUBECONFIG, PATH and the AWS_* settings, and runs until interrupted.
A second 'kelp up' on the same directory resumes the same cluster, with the
same instances.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runUp(cmd.Context(), cmd, o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.dir, "dir", ".kelp", "directory holding local clusters")
	f.StringVar(&o.name, "name", "local", "cluster name: the directory under --dir and the name used in tags and token groups")
	f.StringVar(&o.binDir, "controlplane-dir", "", "directory of the control-plane binaries (default $"+controlplane.BinDirEnv+" or the cache that make controlplane fills)")
	f.DurationVar(&o.timeout, "start-timeout", 2*time.Minute, "how long to wait for the control plane to be ready")
	f.StringVar(&o.poolsFile, "pools", "", "pools file to reconcile at start (default: examples/cluster.yaml, built in)")
	f.StringVar(&o.faultsFile, "faults", "", "local cloud faults file (YAML); flags below override it")
	o.faults.AddFlags(f, "cloud-")
	f.StringVar(&o.principals, "cloud-principals", "", "local cloud callers file (YAML): access keys and the IAM policy documents each may act under (see docs/aws.md)")
	f.StringVar(&o.controllerPrincipal, "cloud-controller-principal", "", "name of the --cloud-principals caller whose keys the in-process controller signs with (default: the local cloud's static keys, allowed everything)")
	o.controller.add(f, "")
	f.StringVar(&o.join, "join", "", "join mode of the pools whose pools file names none: identity (the default: no secret in the user-data; "+
		"the instance proves who it is with its instance role, kelp answers with a token bound to it) or token (a bootstrap token in the "+
		"user-data; the default with --no-controller, whose controller cannot verify local identities)")
	f.BoolVar(&o.noController, "no-controller", false, "leave the kelp controller out: run 'kelp controller' against the cluster yourself (its command line is printed)")
	return cmd
}

func runUp(ctx context.Context, cmd *cobra.Command, o upOptions) error {
	dir, err := filepath.Abs(filepath.Join(o.dir, o.name))
	if err != nil {
		return fmt.Errorf("resolve cluster directory: %w", err)
	}
	ctrl, err := o.controller.options(o.name)
	if err != nil {
		return err
	}
	join, err := upJoinMode(o.join, o.noController)
	if err != nil {
		return err
	}
	cfg := localup.Config{Dir: dir, Name: o.name, BinDir: o.binDir, StartTimeout: o.timeout, Faults: o.faults,
		Controller: ctrl, NoController: o.noController, Join: join}
	if o.faultsFile != "" {
		fromFile, err := localcloud.LoadFaults(o.faultsFile)
		if err != nil {
			return err
		}
		cfg.Faults = mergeFaults(fromFile, o.faults, cmd)
	}
	if err := cfg.Faults.Validate(); err != nil {
		return fmt.Errorf("invalid local cloud faults: %w", err)
	}
	if o.principals != "" {
		if cfg.CloudPrincipals, err = localcloud.LoadPrincipals(o.principals); err != nil {
			return err
		}
	}
	if o.controllerPrincipal != "" {
		if !slices.ContainsFunc(cfg.CloudPrincipals, func(p localcloud.Principal) bool { return p.Name == o.controllerPrincipal }) {
			return fmt.Errorf("--cloud-controller-principal %q: no such principal in --cloud-principals", o.controllerPrincipal)
		}
		cfg.ControllerPrincipal = o.controllerPrincipal
	}
	if o.poolsFile != "" {
		pools, err := pool.LoadConfig(o.poolsFile)
		if err != nil {
			return err
		}
		cfg.Pools = &pools
	}
	start := time.Now()
	cluster, err := localup.Start(ctx, cfg)
	if err != nil {
		return fmt.Errorf("start local cluster %q: %w", o.name, err)
	}
	slog.Info("local cluster ready", "cluster", o.name, "dir", dir, "took", time.Since(start).Round(time.Millisecond),
		"api", cluster.ControlPlane.APIServerURL(), "cloud", cluster.CloudURL(), "interruptionQueue", cluster.InterruptionQueueURL())

	envPath := filepath.Join(dir, "env")
	env := cluster.Env()
	if err := os.WriteFile(envPath, []byte(env), 0o644); err != nil {
		_ = stopCluster(cluster)
		return fmt.Errorf("write env file: %w", err)
	}
	caConfig := filepath.Join(dir, "cluster-autoscaler.conf")
	if err := os.WriteFile(caConfig, []byte(cluster.ClusterAutoscalerCloudConfig()), 0o644); err != nil {
		_ = stopCluster(cluster)
		return fmt.Errorf("write cluster-autoscaler cloud config: %w", err)
	}
	fmt.Fprintf(cmd.OutOrStdout(), "\nkelp: cluster %q is up. In another shell:\n\n  source %s\n\nor run:\n\n%s\nthen: kubectl get nodes, kubectl get csr, aws autoscaling describe-auto-scaling-groups ... Ctrl-C stops everything.\n", o.name, envPath, indent(env))

	printWebURL(cmd, o)
	if o.noController {
		fmt.Fprintf(cmd.OutOrStdout(), "\nNo controller runs (--no-controller); after sourcing the env file, run it with:\n\n  %s\n", controllerCommandLine(o.name, cluster))
	}
	return waitUp(ctx, o.name, cluster.ControllerDone(), cluster.ControllerErr, func() error { return stopCluster(cluster) })
}

// waitUp runs until ctx ends (Ctrl-C), or until the in-process controller
// stops by itself: then no node would be approved any more, so the
// cluster is stopped and `kelp up` fails with the controller's error, as
// kind or cluster-autoscaler exit rather than run on half broken.
func waitUp(ctx context.Context, name string, controllerDone <-chan struct{}, controllerErr func() error, stop func() error) error {
	select {
	case <-ctx.Done():
		slog.Info("stopping", "cluster", name)
		return stop()
	case <-controllerDone:
	}
	err := fmt.Errorf("local cluster %q: the kelp controller stopped, so nodes would no longer join; the cluster is stopped: %w", name, controllerErr())
	if serr := stop(); serr != nil {
		return errors.Join(err, serr)
	}
	return err
}

// mergeFaults applies the fault flags the user set over the faults file.
func mergeFaults(file, flags localcloud.Faults, cmd *cobra.Command) localcloud.Faults {
	out := file
	changed := func(name string) bool { return cmd.Flags().Changed("cloud-" + name) }
	if changed("boot-delay") {
		out.BootDelay = flags.BootDelay
	}
	if changed("launch-failure") {
		out.LaunchFailures = flags.LaunchFailures
	}
	if changed("spot-capacity") {
		out.SpotCapacity = flags.SpotCapacity
	}
	if changed("spot-interruption-rate") {
		out.SpotInterruption.Rate = flags.SpotInterruption.Rate
	}
	if changed("spot-interruption-notice") {
		out.SpotInterruption.Notice = flags.SpotInterruption.Notice
	}
	if changed("throttle-rate") {
		out.ThrottleRate = flags.ThrottleRate
	}
	return out
}

func stopCluster(c *localup.Cluster) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := c.Stop(ctx); err != nil {
		return fmt.Errorf("stop local cluster: %w", err)
	}
	return nil
}

func indent(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = "  " + l
	}
	return strings.Join(lines, "\n") + "\n"
}

// controllerCommandLine is the `kelp controller` command that does, in a
// process of its own, what `kelp up` runs in-process (the env file gives
// it KUBECONFIG and the AWS settings).
func controllerCommandLine(name string, cluster *localup.Cluster) string {
	line := "kelp controller --cluster-name " + name + " --leader-elect=false"
	if q := cluster.InterruptionQueueURL(); q != "" {
		line += " --interruption-queue " + q
	}
	return line
}

// upJoinMode is `kelp up --join`: identity by default, token with
// --no-controller (a `kelp controller` of its own cannot trust the local
// STS endpoint's certificate).
func upJoinMode(v string, noController bool) (pool.JoinMode, error) {
	switch m := pool.JoinMode(v); {
	case v == "" && noController:
		return pool.JoinModeToken, nil
	case v == "":
		return pool.JoinModeIdentity, nil
	case m == pool.JoinModeIdentity && noController:
		return "", flagError("join", v, "needs the in-process controller (drop --no-controller)")
	case m == pool.JoinModeToken || m == pool.JoinModeIdentity:
		return m, nil
	}
	return "", flagError("join", v, "want identity or token")
}

// printWebURL prints where the in-process controller serves the live web
// view, when it does.
func printWebURL(cmd *cobra.Command, o upOptions) {
	if o.noController || o.controller.webAddr == "" {
		return
	}
	host, port, _ := net.SplitHostPort(o.controller.webAddr)
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	fmt.Fprintf(cmd.OutOrStdout(), "\nWatch it work: http://%s/ (the live web view; kelp status prints the same in the terminal)\n", net.JoinHostPort(host, port))
}
