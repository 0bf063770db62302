// Package cli builds kelp's cobra command tree. Each file holds one command
// group; commands parse flags and call the packages that do the work.
package cli

import (
	"log/slog"
	"os"

	"github.com/spf13/cobra"
)

// NewRoot returns the root `kelp` command. version is the build's version
// string, reported by `kelp version`.
func NewRoot(version string) *cobra.Command {
	var logLevel string
	root := &cobra.Command{
		Use:           "kelp",
		Short:         "Elastic Kubernetes clusters on AWS Auto Scaling Groups",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return setupLogging(logLevel)
		},
	}
	root.PersistentFlags().StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn or error")
	root.AddCommand(
		newVersionCommand(version),
		newUpCommand(),
		newCSRCommand(),
		newTokenCommand(),
		newUserdataCommand(),
		newNodeCommand(),
		newPoolCommand(),
		newControllerCommand(),
		newJoinCommand(),
	)
	return root
}

// setupLogging installs kelp's one logger: structured key=value records on
// stderr through log/slog.
func setupLogging(level string) error {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return flagError("log-level", level, "want debug, info, warn or error")
	}
	// slog.SetDefault is safe while other goroutines log; klog follows it
	// through RouteKlog, installed once by main.
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l})))
	return nil
}
