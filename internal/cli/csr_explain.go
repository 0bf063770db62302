package cli

import (
	"context"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kelp-dev/kelp/internal/approver"
)

func newCSRExplainCommand(kf *kubeFlags) *cobra.Command {
	var af awsFlags
	var pf policyFlags
	var ngf nodeGroupFlags
	var out outputFlag
	cmd := &cobra.Command{
		Use:   "explain NAME --cluster-name CLUSTER",
		Short: "Show every check of kelp's approval policy for one CSR, with pass or fail",
		Long: `explain gathers the same facts as the approver (the cloud's instances, the
Node, kelp's approval record) and prints the verdict and each check. It
changes nothing.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := out.check(); err != nil {
				return err
			}
			if af.cluster == "" {
				return errors.New("--cluster-name is required (or set KELP_CLUSTER_NAME)")
			}
			cfg, err := pf.config(af.cluster)
			if err != nil {
				return err
			}
			client, err := kf.client()
			if err != nil {
				return err
			}
			csr, err := client.CertificatesV1().CertificateSigningRequests().Get(cmd.Context(), args[0], metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return fmt.Errorf("csr %q not found", args[0])
			}
			if err != nil {
				return fmt.Errorf("get csr %s: %w", args[0], err)
			}
			provider, err := ngf.provider(cmd.Context(), &af)
			if err != nil {
				return err
			}
			condition := approver.ConditionOf(csr)
			if condition != approver.Pending {
				// Show what the policy says now, as if the CSR were new.
				csr = csr.DeepCopy()
				csr.Status = certificatesv1.CertificateSigningRequestStatus{}
			}
			facts, err := apiSources(cmd.Context(), client, provider).Gather(cmd.Context(), csr, time.Now(), cfg)
			if err != nil {
				return err
			}
			v := approver.Decide(facts)
			return out.print(cmd.OutOrStdout(), newVerdictView(csr, condition, v), func() error {
				if condition != approver.Pending {
					fmt.Fprintf(cmd.OutOrStdout(), "(already %s: re-evaluating as if pending, with today's facts)\n", condition)
				}
				printVerdict(cmd, csr, v)
				return nil
			})
		},
	}
	out.add(cmd)
	af.add(cmd)
	pf.add(cmd.Flags())
	ngf.add(cmd.Flags())
	return cmd
}

// apiSources reads the facts straight from the API server.
func apiSources(ctx context.Context, client kubernetes.Interface, provider approver.Cloud) approver.Sources {
	return approver.Sources{
		Node: func(name string) (*corev1.Node, error) {
			n, err := client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return nil, nil
			}
			return n, err
		},
		CSRs: func() ([]*certificatesv1.CertificateSigningRequest, error) {
			list, err := client.CertificatesV1().CertificateSigningRequests().List(ctx, metav1.ListOptions{})
			if err != nil {
				return nil, err
			}
			out := make([]*certificatesv1.CertificateSigningRequest, len(list.Items))
			for i := range list.Items {
				out[i] = &list.Items[i]
			}
			return out, nil
		},
		NodeCount: func() (int, error) {
			list, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
			if err != nil {
				return 0, err
			}
			return len(list.Items), nil
		},
		Cloud:  provider,
		Record: &approver.ApprovalRecord{Client: client},
	}
}

// verdictView is `csr explain -o json|yaml`: the verdict and each check.
type verdictView struct {
	CSR        string      `json:"csr"`
	Signer     string      `json:"signerName"`
	Condition  string      `json:"condition"`
	Kind       string      `json:"kind"`
	Action     string      `json:"action"`
	Reason     string      `json:"reason"`
	Message    string      `json:"message"`
	NodeName   string      `json:"nodeName,omitempty"`
	InstanceID string      `json:"instanceID,omitempty"`
	Checks     []checkView `json:"checks"`
}

type checkView struct {
	Name   string `json:"name"`
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
	Detail string `json:"detail"`
}

func newVerdictView(csr *certificatesv1.CertificateSigningRequest, condition approver.Condition, v approver.Verdict) verdictView {
	out := verdictView{CSR: csr.Name, Signer: csr.Spec.SignerName, Condition: string(condition), Kind: fmt.Sprint(v.Kind),
		Action: fmt.Sprint(v.Action), Reason: v.Reason, Message: v.Message, NodeName: v.NodeName, InstanceID: v.InstanceID, Checks: []checkView{}}
	for _, c := range v.Checks {
		out.Checks = append(out.Checks, checkView{Name: c.Name, Status: fmt.Sprint(c.Status), Reason: c.Reason, Detail: c.Detail})
	}
	return out
}

// printVerdict prints v: the verdict, its reason and message, then each
// check. A verdict without checks (Ignore: another signer, not kelp's
// requestor or node, already decided) says so instead of an empty table.
func printVerdict(cmd *cobra.Command, csr *certificatesv1.CertificateSigningRequest, v approver.Verdict) {
	out := cmd.OutOrStdout()
	fmt.Fprintf(out, "CSR:       %s (%s, %s)\nVerdict:   %s %s\n           %s\n\n", csr.Name, v.Kind, csr.Spec.SignerName, v.Action, v.Reason, v.Message)
	if len(v.Checks) == 0 {
		if v.Action == approver.ActionIgnore {
			fmt.Fprintf(out, "kelp leaves this CSR alone (%s): it neither approves nor denies it, and runs no other check.\n", v.Reason)
		}
		return
	}
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "CHECK\tSTATUS\tREASON\tDETAIL")
	for _, c := range v.Checks {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", c.Name, c.Status, c.Reason, c.Detail)
	}
	_ = w.Flush()
}
