package cli

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kelp-dev/kelp/internal/controlplane"
)

type upOptions struct {
	dir     string
	name    string
	binDir  string
	timeout time.Duration
}

func newUpCommand() *cobra.Command {
	var o upOptions
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Run a local elastic cluster in the foreground until Ctrl-C",
		Long: `up starts a local Kubernetes control plane (etcd, kube-apiserver,
kube-controller-manager, kube-scheduler) in <dir>/<name>/, writes an env file
with KUBECONFIG and PATH for kubectl, and runs until interrupted. A second
'kelp up' on the same directory resumes the same cluster.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runUp(cmd.Context(), cmd, o) },
	}
	cmd.Flags().StringVar(&o.dir, "dir", ".kelp", "directory holding local clusters")
	cmd.Flags().StringVar(&o.name, "name", "local", "cluster name: the directory under --dir and the name used in tags and token groups")
	cmd.Flags().StringVar(&o.binDir, "controlplane-dir", "", "directory of the control-plane binaries (default $"+controlplane.BinDirEnv+" or the `make controlplane` cache)")
	cmd.Flags().DurationVar(&o.timeout, "start-timeout", 2*time.Minute, "how long to wait for the control plane to be ready")
	return cmd
}

func runUp(ctx context.Context, cmd *cobra.Command, o upOptions) error {
	dir, err := filepath.Abs(filepath.Join(o.dir, o.name))
	if err != nil {
		return fmt.Errorf("resolve cluster directory: %w", err)
	}
	start := time.Now()
	cluster, err := controlplane.Start(ctx, controlplane.Config{
		Dir: dir, Name: o.name, BinDir: o.binDir, StartTimeout: o.timeout,
	})
	if err != nil {
		return fmt.Errorf("start local cluster %q: %w", o.name, err)
	}
	slog.Info("control plane ready", "cluster", o.name, "dir", dir, "took", time.Since(start).Round(time.Millisecond), "api", cluster.APIServerURL())

	envPath := filepath.Join(dir, "env")
	env := envLines(cluster)
	if err := os.WriteFile(envPath, []byte(env), 0o644); err != nil {
		_ = stopCluster(cluster)
		return fmt.Errorf("write env file: %w", err)
	}
	out := cmd.OutOrStdout()
	fmt.Fprintf(out, "\nkelp: cluster %q is up. In another shell:\n\n  source %s\n\nor run:\n\n%s\nkubectl get --raw /readyz, kubectl get csr, ... Ctrl-C stops everything.\n", o.name, envPath, indent(env))

	<-ctx.Done()
	slog.Info("stopping", "cluster", o.name)
	return stopCluster(cluster)
}

func stopCluster(c *controlplane.Cluster) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := c.Stop(ctx); err != nil {
		return fmt.Errorf("stop local cluster: %w", err)
	}
	return nil
}

// envLines are the export lines a user sources to reach the cluster.
func envLines(c *controlplane.Cluster) string {
	return fmt.Sprintf("export KUBECONFIG=%s\nexport PATH=%s:$PATH\n", shellQuote(c.AdminKubeconfigPath()), shellQuote(c.BinDir()))
}

func shellQuote(s string) string {
	if !strings.ContainsAny(s, " \t\n'\"$`\\!*?[]{}()<>|&;#~") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func indent(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = "  " + l
	}
	return strings.Join(lines, "\n") + "\n"
}
