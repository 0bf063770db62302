package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kelp-dev/kelp/internal/approver"
	"github.com/kelp-dev/kelp/internal/testenv"
)

// TestPrintVerdictOfIgnoredCSRs: for a CSR kelp leaves alone, explain
// prints the verdict's reason and the message saying why, and that no
// check ran, not an empty table.
func TestPrintVerdictOfIgnoredCSRs(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name, user, signer, reason, why string
		groups                          []string
	}{
		{"kubeadm token", "system:bootstrap:abcdef", certificatesv1.KubeAPIServerClientKubeletSignerName, approver.ReasonNotKelpRequestor,
			"is not a kelp bootstrap token", []string{"system:bootstrappers", "system:bootstrappers:kubeadm:default-node-token"}},
		{"control-plane node", "system:node:cp-1", certificatesv1.KubeAPIServerClientKubeletSignerName, approver.ReasonNotManagedNode,
			`node "cp-1" is in no kelp pool of cluster "dev"`, []string{"system:nodes", "system:authenticated"}},
		{"another signer", "someone", "example.com/other", approver.ReasonNotOurSigner,
			"is not a kubelet signer", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			csr := testenv.NodeClientCSR(t, "cp-1")
			csr.Name, csr.CreationTimestamp = "csr-explain", metav1.NewTime(now)
			csr.Spec.Username, csr.Spec.Groups, csr.Spec.SignerName = tt.user, tt.groups, tt.signer
			v := approver.Decide(approver.Facts{CSR: csr, Now: now, Config: approver.Config{ClusterName: "dev"}.WithDefaults()})
			if v.Action != approver.ActionIgnore || v.Reason != tt.reason {
				t.Fatalf("verdict %s %s, want Ignore %s", v.Action, v.Reason, tt.reason)
			}
			var out bytes.Buffer
			cmd := &cobra.Command{}
			cmd.SetOut(&out)
			printVerdict(cmd, csr, v)
			testenv.Contains(t, "explain", out.String(), "Verdict:   Ignore "+tt.reason, tt.why,
				"kelp leaves this CSR alone ("+tt.reason+"): it neither approves nor denies it")
			if strings.Contains(out.String(), "CHECK") {
				t.Errorf("an empty table of checks:\n%s", out.String())
			}
		})
	}
}

// TestCSRExplainIgnored: `kelp csr explain` on a kubelet CSR the admin
// filed (no kelp bootstrap token) names the reason it is not kelp's.
func TestCSRExplainIgnored(t *testing.T) {
	env := testenv.Get(t)
	csrs := env.Client.CertificatesV1().CertificateSigningRequests()
	created, err := csrs.Create(context.Background(), testenv.NodeClientCSR(t, "ip-127-9-0-1.ec2.internal"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = csrs.Delete(context.Background(), created.Name, metav1.DeleteOptions{}) })
	out, _, err := kelp(t, "csr", "explain", created.Name, "--cluster-name", "kelp-test", "--region", "us-east-1", "--endpoint", "http://127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	testenv.Contains(t, "csr explain", out, "Verdict:   Ignore "+approver.ReasonNotKelpRequestor, "is not a kelp bootstrap token",
		"kelp leaves this CSR alone")
}

// TestPrintVerdictOfDecidedCSRs: for a CSR already decided, explain
// prints first what was decided (when, the reason and message of its
// condition), then today's verdict as a re-evaluation; an issued CSR
// whose node joined reads as expected, not as a denial.
func TestPrintVerdictOfDecidedCSRs(t *testing.T) {
	at := metav1.NewTime(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	nodeExists := approver.Verdict{Kind: approver.KindNewNode, Action: approver.ActionDeny, Reason: approver.ReasonNodeExists,
		Message: "node ip-10-0-0-1.ec2.internal exists"}
	tests := []struct {
		name      string
		condition certificatesv1.RequestConditionType
		reason    string
		issued    bool
		v         approver.Verdict
		wants     []string
	}{
		{"issued", certificatesv1.CertificateApproved, approver.ReasonApproved, true, nodeExists, []string{
			"Decided:   Approved and issued at 2026-03-01T12:00:00Z (AutoApproved)\n           the recorded message\n",
			"Re-evaluated now as if pending: Deny NodeExists (expected: the node has joined)\n           node ip-10-0-0-1.ec2.internal exists"}},
		{"approved, not issued", certificatesv1.CertificateApproved, approver.ReasonManual, false,
			approver.Verdict{Kind: approver.KindNewNode, Action: approver.ActionPending, Reason: approver.ReasonCloudUnavailable, Message: "the cloud is away"},
			[]string{"Decided:   Approved, not issued yet at 2026-03-01T12:00:00Z (KelpManualApproval)",
				"Re-evaluated now as if pending: Pending CloudUnavailable (a CSR is judged when new: today's facts differ)"}},
		{"denied", certificatesv1.CertificateDenied, approver.ReasonInstanceNotFound, false, nodeExists, []string{
			"Decided:   Denied at 2026-03-01T12:00:00Z (InstanceNotFound)\n           the recorded message\n",
			"Re-evaluated now as if pending: Deny NodeExists\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			csr := testenv.NodeClientCSR(t, "ip-10-0-0-1.ec2.internal")
			csr.Name = "csr-decided"
			csr.Status.Conditions = []certificatesv1.CertificateSigningRequestCondition{{Type: tt.condition, Status: corev1.ConditionTrue,
				Reason: tt.reason, Message: "the recorded message", LastUpdateTime: at}}
			if tt.issued {
				csr.Status.Certificate = []byte("-----BEGIN CERTIFICATE-----")
			}
			var out bytes.Buffer
			cmd := &cobra.Command{}
			cmd.SetOut(&out)
			printVerdict(cmd, csr, tt.v)
			testenv.Contains(t, "explain", out.String(), tt.wants...)
			if strings.Contains(out.String(), "Verdict:") {
				t.Errorf("a decided CSR headed by today's verdict:\n%s", out.String())
			}
			if !strings.HasPrefix(strings.SplitN(out.String(), "\n", 2)[1], "Decided:") {
				t.Errorf("the decision is not shown first:\n%s", out.String())
			}
		})
	}
}
