// Package cli builds kelp's cobra command tree. Each file holds one command
// group; commands parse flags and call the packages that do the work.
package cli

import (
	"github.com/spf13/cobra"
)

// NewRoot returns the root `kelp` command. version is the build's version
// string, reported by `kelp version`.
func NewRoot(version string) *cobra.Command {
	var logs logFlags
	root := &cobra.Command{
		Use:           "kelp",
		Short:         "Elastic Kubernetes clusters on AWS Auto Scaling Groups",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return logs.setup(cmd)
		},
	}
	logs.add(root.PersistentFlags())
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
		newSimulateCommand(),
		newExplainCommand(),
		newStatusCommand(),
	)
	return root
}
