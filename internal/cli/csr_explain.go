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
Node, kelp's approval record) and prints the verdict and each check. For a
CSR already decided it prints first what was decided, then the policy's
verdict today as if the CSR were pending (an issued CSR of a node that
joined then reads NodeExists, as expected). For a CSR sent with the token
of an identity join it prints what the join endpoint recorded: the caller
STS vouched for, the role and instance profile, the pool, the launch time
against the join window, the proof's freshness and nonce, and the token
issued (its id masked). It changes nothing.`,
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
			facts, err := apiSources(cmd.Context(), client, provider).Gather(cmd.Context(), asPending(csr), time.Now(), cfg)
			if err != nil {
				return err
			}
			v := approver.Decide(facts)
			view := newVerdictView(csr, v)
			view.IdentityJoin = identityJoinOf(cmd.Context(), client, csr, v.NodeName)
			return out.print(cmd.OutOrStdout(), view, func() error {
				printVerdict(cmd, csr, v)
				printIdentityJoin(cmd.OutOrStdout(), view.IdentityJoin)
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

// asPending returns csr as if it were new (no condition, no
// certificate), to show what the policy says of a decided CSR today.
func asPending(csr *certificatesv1.CertificateSigningRequest) *certificatesv1.CertificateSigningRequest {
	if approver.ConditionOf(csr) == approver.Pending {
		return csr
	}
	csr = csr.DeepCopy()
	csr.Status = certificatesv1.CertificateSigningRequestStatus{}
	return csr
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
	// Recorded is the decision on the CSR (nil while pending); the
	// verdict is then today's re-evaluation as if it were pending.
	Recorded *recordedView `json:"recorded,omitempty"`
	// IdentityJoin is the join endpoint's record of the join whose
	// token sent the CSR.
	IdentityJoin *identityJoinView `json:"identityJoin,omitempty"`
}

// recordedView is the condition that decided a CSR.
type recordedView struct {
	Type    string `json:"type"`
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
	At      string `json:"at,omitempty"`
	Issued  bool   `json:"issued"`
}

// recordedOf returns the condition that decided csr, nil while it is
// pending: Denied or Failed before Approved, as approver.ConditionOf.
func recordedOf(csr *certificatesv1.CertificateSigningRequest) *recordedView {
	var found *certificatesv1.CertificateSigningRequestCondition
	for _, t := range []certificatesv1.RequestConditionType{certificatesv1.CertificateDenied, certificatesv1.CertificateFailed, certificatesv1.CertificateApproved} {
		for i, c := range csr.Status.Conditions {
			if found == nil && c.Type == t && c.Status == corev1.ConditionTrue {
				found = &csr.Status.Conditions[i]
			}
		}
	}
	if found == nil {
		return nil
	}
	at := found.LastUpdateTime.Time
	if at.IsZero() {
		at = found.LastTransitionTime.Time
	}
	return &recordedView{Type: string(found.Type), Reason: found.Reason, Message: found.Message, At: rfc3339(at),
		Issued: found.Type == certificatesv1.CertificateApproved && len(csr.Status.Certificate) > 0}
}

type checkView struct {
	Name   string `json:"name"`
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
	Detail string `json:"detail"`
}

func newVerdictView(csr *certificatesv1.CertificateSigningRequest, v approver.Verdict) verdictView {
	out := verdictView{CSR: csr.Name, Signer: csr.Spec.SignerName, Condition: string(approver.ConditionOf(csr)), Kind: fmt.Sprint(v.Kind),
		Action: fmt.Sprint(v.Action), Reason: v.Reason, Message: v.Message, NodeName: v.NodeName, InstanceID: v.InstanceID, Checks: []checkView{},
		Recorded: recordedOf(csr)}
	for _, c := range v.Checks {
		out.Checks = append(out.Checks, checkView{Name: c.Name, Status: fmt.Sprint(c.Status), Reason: c.Reason, Detail: c.Detail})
	}
	return out
}

// printVerdict prints v: the verdict, its reason and message, then each
// check. For a decided CSR it prints first what was decided, then v as
// today's re-evaluation as if the CSR were pending. A verdict without
// checks (Ignore: another signer, not kelp's requestor or node) says so
// instead of an empty table.
func printVerdict(cmd *cobra.Command, csr *certificatesv1.CertificateSigningRequest, v approver.Verdict) {
	out := cmd.OutOrStdout()
	fmt.Fprintf(out, "CSR:       %s (%s, %s)\n", csr.Name, v.Kind, csr.Spec.SignerName)
	if rec := recordedOf(csr); rec != nil {
		fmt.Fprintf(out, "Decided:   %s\n           %s\n", recordedHeadline(rec), rec.Message)
		fmt.Fprintf(out, "Re-evaluated now as if pending: %s %s%s\n           %s\n\n", v.Action, v.Reason, reEvaluationNote(rec, v), v.Message)
	} else {
		fmt.Fprintf(out, "Verdict:   %s %s\n           %s\n\n", v.Action, v.Reason, v.Message)
	}
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

// recordedHeadline says what was decided of a CSR: "Approved and issued
// at T (AutoApproved)", "Denied at T (Reason)".
func recordedHeadline(rec *recordedView) string {
	what := rec.Type
	if rec.Issued {
		what = "Approved and issued"
	} else if rec.Type == string(certificatesv1.CertificateApproved) {
		what = "Approved, not issued yet"
	}
	if rec.At != "" {
		what += " at " + rec.At
	}
	if rec.Reason != "" {
		what += " (" + rec.Reason + ")"
	}
	return what
}

// reEvaluationNote says why today's verdict on an approved CSR differs
// from its approval, when it does: the facts moved on since.
func reEvaluationNote(rec *recordedView, v approver.Verdict) string {
	if rec.Type != string(certificatesv1.CertificateApproved) || v.Action == approver.ActionApprove {
		return ""
	}
	if v.Reason == approver.ReasonNodeExists || v.Reason == approver.ReasonAlreadyJoined {
		return " (expected: the node has joined)"
	}
	return " (a CSR is judged when new: today's facts differ)"
}
