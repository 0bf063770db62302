package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/kelp-dev/kelp/internal/approver"
	"github.com/kelp-dev/kelp/internal/bootstrap"
	"github.com/kelp-dev/kelp/internal/localup"
)

type forgery struct {
	name     string
	client   kubernetes.Interface
	signer   string
	subject  pkix.Name
	dnsNames []string
	ips      []net.IP
	usages   []certificatesv1.KeyUsage
}

// testForgedCSRs holds valid bootstrap tokens (and a node's own
// certificate) and submits CSRs an attacker would: none may be approved.
func testForgedCSRs(t *testing.T, ctx context.Context, cluster *localup.Cluster, admin kubernetes.Interface) {
	t.Helper()
	nodes, err := admin.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil || len(nodes.Items) != 1 {
		t.Fatalf("want exactly one node to attack, got %v %v", nodes, err)
	}
	victim := nodes.Items[0]
	poolToken := tokenClient(t, ctx, cluster, admin, e2ePool)
	otherPoolToken := tokenClient(t, ctx, cluster, admin, "other")
	nodeClient := ownNodeClient(t, cluster, victim.Spec.ProviderID)
	clientUsages := []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth}
	servingUsages := []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageServerAuth}
	nodeSubject := func(name string) pkix.Name {
		return pkix.Name{CommonName: "system:node:" + name, Organization: []string{"system:nodes"}}
	}
	forgeries := []forgery{
		{name: "replay for a node that joined", client: poolToken, signer: certificatesv1.KubeAPIServerClientKubeletSignerName,
			subject: nodeSubject(victim.Name), usages: clientUsages},
		{name: "system:masters", client: poolToken, signer: certificatesv1.KubeAPIServerClientKubeletSignerName,
			subject: pkix.Name{CommonName: "system:node:" + victim.Name, Organization: []string{"system:masters"}}, usages: clientUsages},
		{name: "another pool's token", client: otherPoolToken, signer: certificatesv1.KubeAPIServerClientKubeletSignerName,
			subject: nodeSubject(victim.Name), usages: clientUsages},
		{name: "a name no instance has", client: poolToken, signer: certificatesv1.KubeAPIServerClientKubeletSignerName,
			subject: nodeSubject("ip-127-1-99-99.ec2.internal"), usages: clientUsages},
		{name: "serving certificate with a foreign IP", client: nodeClient, signer: certificatesv1.KubeletServingSignerName,
			subject: nodeSubject(victim.Name), dnsNames: []string{victim.Name}, ips: []net.IP{net.ParseIP("127.0.0.1")}, usages: servingUsages},
		{name: "serving certificate for another name", client: nodeClient, signer: certificatesv1.KubeletServingSignerName,
			subject: nodeSubject(victim.Name), dnsNames: []string{"kubernetes.default.svc"}, usages: servingUsages},
	}
	names := map[string]string{}
	for _, f := range forgeries {
		names[submit(t, ctx, f)] = f.name
	}
	// Every forged CSR must end Denied (or still pending); never approved.
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		denied := 0
		for csrName, what := range names {
			csr, err := admin.CertificatesV1().CertificateSigningRequests().Get(ctx, csrName, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			switch approver.ConditionOf(csr) {
			case approver.Approved, approver.Issued:
				t.Fatalf("forged CSR %q (%s) was approved", what, csrName)
			case approver.Denied:
				denied++
			}
		}
		// The unknown name stays pending until the join window ends.
		return denied >= len(names)-1, nil
	})
	if err != nil {
		t.Fatalf("forged CSRs were not denied: %v", err)
	}
}

func submit(t *testing.T, ctx context.Context, f forgery) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: f.subject, DNSNames: f.dnsNames, IPAddresses: f.ips}, key)
	if err != nil {
		t.Fatal(err)
	}
	csr := &certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "forged-"},
		Spec: certificatesv1.CertificateSigningRequestSpec{
			Request: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), SignerName: f.signer, Usages: f.usages,
		},
	}
	var created *certificatesv1.CertificateSigningRequest
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		created, err = f.client.CertificatesV1().CertificateSigningRequests().Create(ctx, csr, metav1.CreateOptions{})
		return err == nil, nil
	})
	if err != nil {
		t.Fatalf("submit forged CSR %q: %v", f.name, err)
	}
	return created.Name
}

func tokenClient(t *testing.T, ctx context.Context, cluster *localup.Cluster, admin kubernetes.Interface, pool string) kubernetes.Interface {
	t.Helper()
	tok, err := bootstrap.CreateToken(ctx, admin, bootstrap.TokenSpec{Pool: pool, TTL: time.Hour}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return kubernetes.NewForConfigOrDie(&rest.Config{
		Host: cluster.ControlPlane.APIServerURL(), BearerToken: tok.String(),
		TLSClientConfig: rest.TLSClientConfig{CAData: cluster.ControlPlane.CACertPEM()},
	})
}

// ownNodeClient is a client with a node's own certificate, as an attacker
// who took over that node would have.
func ownNodeClient(t *testing.T, cluster *localup.Cluster, providerID string) kubernetes.Interface {
	t.Helper()
	id := filepath.Base(providerID)
	pemFile := filepath.Join(cluster.Runtime.Dir, id, "var", "lib", "kelp", "pki", "kelp-client-current.pem")
	if _, err := os.Stat(pemFile); err != nil {
		t.Fatalf("node certificate: %v", err)
	}
	return kubernetes.NewForConfigOrDie(&rest.Config{
		Host: cluster.ControlPlane.APIServerURL(),
		TLSClientConfig: rest.TLSClientConfig{
			CAData: cluster.ControlPlane.CACertPEM(), CertFile: pemFile, KeyFile: pemFile,
		},
	})
}
