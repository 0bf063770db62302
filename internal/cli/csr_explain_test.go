package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	certificatesv1 "k8s.io/api/certificates/v1"
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
