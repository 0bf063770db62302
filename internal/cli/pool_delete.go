package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/kelp-dev/kelp/internal/pool"
)

func newPoolDeleteCommand(af *awsFlags, kf *kubeFlags) *cobra.Command {
	var force, forceDelete bool
	var drainTimeout time.Duration
	cmd := &cobra.Command{
		Use:   "delete NAME [--force [--drain-timeout D] | --force-delete]",
		Short: "Delete a pool's group and launch template; refused while it has Ready nodes unless --force (drain them first) or --force-delete",
		Long: `delete removes the pool's Auto Scaling group and launch template. Without a flag
it is refused while the pool has Ready nodes (and by the cloud while the group
has instances).

--force scales the group to zero (min, max and desired 0) and waits, at most
--drain-timeout, until every instance is gone: each leaves through kelp's
drain hook, so the controller drains its Node first (PodDisruptionBudgets
honoured). Then it deletes the group and template. With no controller running,
each instance waits in the hook for its heartbeat timeout
(--drain-heartbeat-timeout of the pool, 5m by default) and then goes undrained
with the hook's default result, CONTINUE. A drain still running at the deadline
is an error: the group stays at size zero; run the delete again to keep
waiting.

--force-delete is the cloud's force delete: the instances terminate at once,
without their lifecycle hooks, so their Nodes are not drained.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if drainTimeout <= 0 {
				return fmt.Errorf("delete: --drain-timeout %s: want a positive duration", drainTimeout)
			}
			prov, err := af.provisioner(cmd.Context(), nil)
			if err != nil {
				return err
			}
			o := pool.DeleteOptions{DrainTimeout: drainTimeout}
			switch {
			case forceDelete:
				o.Mode = pool.DeleteForce
			case force:
				o.Mode = pool.DeleteDrain
				out := cmd.OutOrStdout()
				fmt.Fprintf(out, "pool %s: scaling to 0; waiting up to %s for its instances to be drained and terminated\n", name, drainTimeout)
				o.Progress = func(p pool.DrainProgress) {
					fmt.Fprintf(out, "pool %s: %d instances left, %d waiting in a termination hook (%s)\n", name, p.Instances, p.Waiting, p.Elapsed.Round(time.Second))
				}
			default:
				ready, err := readyNodesByPool(cmd.Context(), kf)
				if err != nil {
					return fmt.Errorf("delete pool %s: cannot check its Ready nodes (use --force to drain and delete anyway): %w", name, err)
				}
				if n := ready[name]; n > 0 {
					return fmt.Errorf("delete pool %s: it has %d Ready nodes; use --force to drain them first, or --force-delete", name, n)
				}
			}
			if err := prov.Delete(cmd.Context(), name, o); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "pool %s deleted\n", name)
			return nil
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "delete even with Ready nodes: scale to zero, wait for the instances to be drained and leave, then delete")
	cmd.Flags().BoolVar(&forceDelete, "force-delete", false, "delete at once, terminating the instances without their lifecycle hooks (no drain)")
	cmd.Flags().DurationVar(&drainTimeout, "drain-timeout", pool.DefaultDrainTimeout, "with --force, how long to wait for the instances to leave")
	cmd.MarkFlagsMutuallyExclusive("force", "force-delete")
	return cmd
}
