package cli

import (
	"errors"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/kelp-dev/kelp/internal/nodeagent"
)

func newNodeCommand() *cobra.Command {
	var root string
	var tuning nodeagent.Tuning
	cmd := &cobra.Command{
		Use:   "node --root DIR",
		Short: "Run a simulated kubelet that joins the cluster by TLS bootstrapping",
		Long: `node runs one simulated kubelet. It reads what cloud-init wrote under --root
(the bootstrap kubeconfig and node config of the 'local' user-data profile) and
the instance-identity document at ` + nodeagent.IdentityPath + `, requests a client
certificate with the bootstrap token, waits for it to be approved
('kelp csr approve' or kelp's approver), registers its Node, keeps its Lease
fresh, serves HTTPS on its private IP port 10250 and runs the pods bound to it.
It stops on Ctrl-C without cleaning up, as a terminated instance would.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if root == "" {
				return errors.New("--root is required")
			}
			agent, err := nodeagent.New(nodeagent.Config{Root: root, Logger: slog.Default(), Tuning: tuning})
			if err != nil {
				return err
			}
			// Run returns nil when stopped by a signal; its errors name the node.
			return agent.Run(cmd.Context())
		},
	}
	cmd.Flags().StringVar(&root, "root", "", "the instance's root directory (where cloud-init wrote its files)")
	cmd.Flags().IntVar(&tuning.ServingPort, "serving-port", 10250, "HTTPS port on the private IP")
	cmd.Flags().DurationVar(&tuning.LeaseDuration, "lease-duration", 0, "Lease duration (default 40s)")
	return cmd
}
