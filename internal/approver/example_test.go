package approver_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kelp-dev/kelp/internal/approver"
	"github.com/kelp-dev/kelp/internal/cloud"
)

// The controller's loop for one CSR: gather the facts, decide, act on the
// verdict. Here the facts are literals; the controller reads them from its
// informers, the cloud provider and its approval record.
func ExampleDecide() {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	csr := kubeletCSR("ip-10-0-0-7.ec2.internal", now.Add(-time.Minute))
	records := map[string]approver.Approval{} // kelp's own record of joins

	for _, attempt := range []string{"first join", "replay", "kubeadm token"} {
		switch attempt {
		case "kubeadm token":
			// Another tool's join: kelp leaves it alone, never denies it.
			csr = csr.DeepCopy()
			csr.UID, csr.Spec.Groups = "uid-3", []string{"system:bootstrappers", "system:bootstrappers:kubeadm:default-node-token"}
		case "replay":
			// The same key and name, submitted again as a new CSR after
			// the node joined (kube-controller-manager GCs the old one).
			csr = csr.DeepCopy()
			csr.UID, csr.Status = "uid-2", certificatesv1.CertificateSigningRequestStatus{}
		}

		// 1. Gather the cluster's facts: the controller reads the node
		// name from the request, then the Node, its record and the
		// pending CSRs ([approver.Sources.Gather] does all of this).
		name, _ := approver.NodeName(csr)
		facts := approver.Facts{
			CSR:             csr,
			PriorApprovals:  records,
			PendingNodeCSRs: 1,
			Nodes:           3,
			Now:             now,
			Config:          approver.Config{ClusterName: "dev"},
		}

		// 2. Screen: what the cloud cannot change (not kelp's, too
		// large, a bad request or requestor, a contested join) is
		// settled without asking it.
		v, final := approver.Screen(facts)
		if !final {
			// 3. Ask the cloud, then decide: pure, no IO.
			facts.InstancesByName = []cloud.Instance{{
				ID: "i-0abc", ProviderID: "aws:///us-east-1a/i-0abc", State: cloud.InstanceStateRunning,
				GroupName: "kelp-dev-workers", Pool: "workers",
				PrivateDNSName: name, PrivateIPs: []string{"10.0.0.7"}, LaunchTime: now.Add(-4 * time.Minute),
			}}
			facts.ManagedGroups = map[string]string{"kelp-dev-workers": "workers"}
			v = approver.Decide(facts)
		}

		// 4. Act on the verdict.
		switch v.Action {
		case approver.ActionApprove:
			// Record the join before approving, so a crash in between
			// cannot let a replay through.
			records[v.InstanceID] = approver.Approval{CSRName: csr.Name, CSRUID: csr.UID, At: now}
			d, _ := v.Decision()
			_ = d // approver.Apply(ctx, client, csr.Name, d), then an Event
		case approver.ActionDeny:
			d, _ := v.Decision()
			_ = d // approver.Apply(ctx, client, csr.Name, d), then a Warning Event
		case approver.ActionPending:
			// queue.AddAfter(key, v.RetryAfter)
		case approver.ActionIgnore:
			// not kelp's CSR: nothing to write, a debug log with v.Message
		}
		fmt.Printf("%s: %s %s\n", attempt, v.Action, v.Reason)
	}
	// Output:
	// first join: Approve AutoApproved
	// replay: Deny AlreadyJoined
	// kubeadm token: Ignore NotKelpRequestor
}

// kubeletCSR is the client CSR a kubelet files with its bootstrap token.
func kubeletCSR(node string, created time.Time) *certificatesv1.CertificateSigningRequest {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	tmpl := &x509.CertificateRequest{Subject: pkix.Name{CommonName: "system:node:" + node, Organization: []string{"system:nodes"}}}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		panic(err)
	}
	return &certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{Name: "node-csr-1", UID: "uid-1", CreationTimestamp: metav1.NewTime(created)},
		Spec: certificatesv1.CertificateSigningRequestSpec{
			Request:    pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}),
			SignerName: certificatesv1.KubeAPIServerClientKubeletSignerName,
			Username:   "system:bootstrap:abcdef",
			Groups:     []string{"system:bootstrappers", "system:bootstrappers:kelp", "system:bootstrappers:kelp:workers"},
			Usages:     []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth},
		},
	}
}
