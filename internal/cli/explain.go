package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/kelp-dev/kelp/internal/autoscaler/whatif"
)

// newExplainCommand is `kelp explain`: why kelp did or would do what it
// does about one object.
func newExplainCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "explain",
		Short: "Explain kelp's decisions about a pod (or a CSR: kelp csr explain)",
		// Runnable, so that an unknown kind is an error, not the help.
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return cmd.Help()
			}
			return fmt.Errorf("kelp explain %s: unknown kind (want pod or csr)", args[0])
		},
	}
	var kf kubeFlags
	kf.add(cmd)
	csr := newCSRExplainCommand(&kf)
	csr.Use = "csr " + csr.Use
	cmd.AddCommand(newExplainPodCommand(&kf), csr)
	return cmd
}

func newExplainPodCommand(kf *kubeFlags) *cobra.Command {
	var f whatIfFlags
	cmd := &cobra.Command{
		Use:   "pod NAMESPACE/NAME",
		Short: "Why a pod is pending or was not helped, pool by pool, and what kelp would do for it now",
		Long: `explain pod says whether the pod waits and for what; what each pool would
do for it alone, in the simulator's words (every predicate that fails on the
pool's node template: resources with numbers, taints, affinity, volumes,
max pods...); what one autoscaler cycle would do for it now (kelp simulate,
restricted to the pod); and, live, what past cycles recorded (Events
TriggeredScaleUp and NotTriggerScaleUp, the status ConfigMap). It changes
nothing. The snapshot and pool flags are kelp simulate's.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := f.situation(cmd.Context(), kf.client)
			if err != nil {
				return err
			}
			pod, err := whatif.Find(s.objs, args[0], s.src)
			if err != nil {
				return err
			}
			c := whatif.ExplainPod(cmd.Context(), s.sim, s.o, s.objs, pod)
			if s.client != nil {
				if c.History, err = whatif.PodHistory(cmd.Context(), s.client, pod.Namespace, pod.Name); err != nil {
					return err
				}
			}
			return f.out.print(cmd.OutOrStdout(), c, func() error { return c.WriteText(cmd.OutOrStdout()) })
		},
	}
	f.add(cmd)
	return cmd
}
