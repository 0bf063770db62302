package cli

import (
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/client-go/kubernetes"

	"github.com/kelp-dev/kelp/internal/approver"
)

func newCSRCommand() *cobra.Command {
	var kf kubeFlags
	cmd := &cobra.Command{
		Use:   "csr",
		Short: "List, approve and deny certificate signing requests by hand",
		Long: `csr handles CSRs by hand, like 'kubectl get csr' and 'kubectl certificate
approve|deny'. kelp's approver does this automatically, with cloud checks.`,
	}
	kf.add(cmd)
	cmd.AddCommand(newCSRListCommand(&kf), newCSRApproveCommand(&kf), newCSRDenyCommand(&kf), newCSRExplainCommand(&kf))
	return cmd
}

func newCSRListCommand(kf *kubeFlags) *cobra.Command {
	var out outputFlag
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List CSRs with requestor, signer, node name, age and condition",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := out.check(); err != nil {
				return err
			}
			client, err := kf.client()
			if err != nil {
				return err
			}
			csrs, err := approver.List(cmd.Context(), client, time.Now())
			if err != nil {
				return err
			}
			views := make([]csrView, len(csrs))
			for i, c := range csrs {
				views[i] = newCSRView(c)
			}
			return out.print(cmd.OutOrStdout(), views, func() error {
				w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 3, ' ', 0)
				fmt.Fprintln(w, "NAME\tAGE\tSIGNER\tREQUESTOR\tNODE\tCONDITION")
				for _, c := range csrs {
					node := c.NodeName
					if node == "" {
						node = "<none>"
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", c.Name, duration.HumanDuration(c.Age), c.Signer, c.Requestor, node, c.Condition)
				}
				return w.Flush()
			})
		},
	}
	out.add(cmd)
	return cmd
}

// pendingNames returns the names of every pending CSR.
func pendingNames(cmd *cobra.Command, client kubernetes.Interface) ([]string, error) {
	all, err := approver.List(cmd.Context(), client, time.Now())
	if err != nil {
		return nil, err
	}
	var names []string
	for _, c := range all {
		if c.Condition == approver.Pending {
			names = append(names, c.Name)
		}
	}
	return names, nil
}

func newCSRDenyCommand(kf *kubeFlags) *cobra.Command {
	var allPending bool
	var reason, message string
	cmd := &cobra.Command{
		Use:   "deny NAME... | --all-pending --reason REASON",
		Short: "deny CSRs by name, or every pending one",
		RunE: func(cmd *cobra.Command, names []string) error {
			if allPending == (len(names) > 0) {
				return errors.New("deny: give CSR names or --all-pending, not both and not neither")
			}
			if reason == "" {
				return errors.New("deny: --reason is required (a CamelCase reason such as UnknownInstance)")
			}
			client, err := kf.client()
			if err != nil {
				return err
			}
			if allPending {
				if names, err = pendingNames(cmd, client); err != nil {
					return err
				}
			}
			if message == "" {
				message = "denied by hand with kelp csr deny"
			}
			var errs []error
			for _, name := range names {
				if err := approver.Apply(cmd.Context(), client, name, approver.Decision{Reason: reason, Message: message}); err != nil {
					errs = append(errs, err)
					continue
				}
				fmt.Fprintf(cmd.OutOrStdout(), "certificatesigningrequest/%s denied\n", name)
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().BoolVar(&allPending, "all-pending", false, "act on every pending CSR")
	cmd.Flags().StringVar(&reason, "reason", "", "machine reason recorded in the condition (required)")
	cmd.Flags().StringVar(&message, "message", "", "human message recorded in the condition")
	return cmd
}
