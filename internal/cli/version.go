package cli

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/kelp-dev/kelp/internal/controlplane"
)

func newVersionCommand(version string) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print kelp's version and the control-plane versions it runs locally",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "kelp %s (%s, %s/%s)\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			fmt.Fprintf(out, "local control plane: kubernetes %s, etcd %s\n", controlplane.KubernetesVersion, controlplane.EtcdVersion)
			return nil
		},
	}
}
