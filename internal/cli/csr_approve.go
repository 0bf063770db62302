package cli

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kelp-dev/kelp/internal/approver"
)

// csrApproveFlags are the flags of kelp csr approve.
type csrApproveFlags struct {
	allPending, force bool
	reason, message   string
	policy            policyFlags
}

func newCSRApproveCommand(kf *kubeFlags) *cobra.Command {
	var af awsFlags
	var ngf nodeGroupFlags
	var f csrApproveFlags
	cmd := &cobra.Command{
		Use:   "approve NAME... | --all-pending",
		Short: "Approve kubelet CSRs by hand, after kelp's policy says what it would decide",
		Long: `approve handles only the kubelet signers (kubernetes.io/kube-apiserver-client-kubelet
and kubernetes.io/kubelet-serving). For each CSR it gathers the same facts as
the approver (the cloud, the Node, kelp's record), prints the policy's verdict
and approves only when the policy would: --force (with --reason) approves one
the policy would deny, leave pending or leave alone. A new node's approval is
recorded in kelp's record first, as the approver does, so a replay of its CSR
is still refused. With --all-pending, CSRs of other signers are skipped.`,
		RunE: func(cmd *cobra.Command, names []string) error {
			if f.allPending == (len(names) > 0) {
				return errors.New("approve: give CSR names or --all-pending, not both and not neither")
			}
			if f.force && f.reason == "" {
				return errors.New("approve --force: --reason is required (a CamelCase reason recorded in the condition, such as ControlPlaneRenewal)")
			}
			if af.cluster == "" {
				return errors.New("--cluster-name is required (or set KELP_CLUSTER_NAME): the policy's verdict needs the cluster's pools")
			}
			cfg, err := f.policy.config(af.cluster)
			if err != nil {
				return err
			}
			client, err := kf.client()
			if err != nil {
				return err
			}
			if f.allPending {
				if names, err = pendingKubeletCSRs(cmd, client); err != nil {
					return err
				}
			}
			provider, err := ngf.provider(cmd.Context(), &af)
			if err != nil {
				return err
			}
			m := approver.ManualApproval{
				Client: client, Sources: apiSources(cmd.Context(), client, provider),
				Config: cfg,
				Force:  f.force, Reason: f.reason, Message: f.message,
			}
			var errs []error
			for _, name := range names {
				res, err := m.Approve(cmd.Context(), name, time.Now())
				printManual(cmd.OutOrStdout(), name, res, err)
				if err != nil {
					errs = append(errs, err)
				}
			}
			return errors.Join(errs...)
		},
	}
	af.add(cmd)
	ngf.add(cmd.Flags())
	cmd.Flags().BoolVar(&f.allPending, "all-pending", false, "approve every pending kubelet CSR the policy would approve (others are skipped)")
	cmd.Flags().BoolVar(&f.force, "force", false, "approve even when kelp's policy would not (deny, pending, or not kelp's CSR); needs --reason")
	cmd.Flags().StringVar(&f.reason, "reason", "", "machine reason recorded in the condition (default KelpManualApproval; required with --force)")
	cmd.Flags().StringVar(&f.message, "message", "", "human message recorded in the condition")
	f.policy.add(cmd.Flags())
	return cmd
}

// pendingKubeletCSRs returns the pending CSRs of the kubelet signers,
// saying which others it skips.
func pendingKubeletCSRs(cmd *cobra.Command, client kubernetes.Interface) ([]string, error) {
	list, err := client.CertificatesV1().CertificateSigningRequests().List(cmd.Context(), metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list csrs: %w", err)
	}
	var names []string
	for i := range list.Items {
		csr := &list.Items[i]
		switch {
		case approver.ConditionOf(csr) != approver.Pending:
		case !approver.IsKubeletSigner(csr.Spec.SignerName):
			fmt.Fprintf(cmd.OutOrStdout(), "certificatesigningrequest/%s skipped: signer %s is not a kubelet signer\n", csr.Name, approver.BoundText(csr.Spec.SignerName))
		default:
			names = append(names, csr.Name)
		}
	}
	return names, nil
}

// printManual shows the policy's verdict on a CSR and what was done.
func printManual(out io.Writer, name string, res approver.ManualResult, err error) {
	v := res.Verdict
	if v.Action != "" {
		fmt.Fprintf(out, "%s: kelp's policy: %s\n", name, approver.BoundText(v.String()))
		for _, c := range v.Failed() {
			fmt.Fprintf(out, "  %s %s: %s\n", c.Name, c.Status, approver.BoundText(c.Detail))
		}
	}
	switch {
	case err != nil:
		fmt.Fprintf(out, "certificatesigningrequest/%s not approved\n", name)
	case res.Forced:
		fmt.Fprintf(out, "certificatesigningrequest/%s approved (forced against the policy's %s %s)\n", name, v.Action, v.Reason)
	default:
		fmt.Fprintf(out, "certificatesigningrequest/%s approved\n", name)
	}
	if res.RecordedInstance != "" {
		fmt.Fprintf(out, "  recorded the approval of instance %s\n", res.RecordedInstance)
	}
}
