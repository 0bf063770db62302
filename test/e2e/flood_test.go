package e2e

import (
	"context"
	"crypto/x509/pkix"
	"fmt"
	"strings"
	"sync"
	"testing"

	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kelp-dev/kelp/internal/localup"
)

// Sizes of the hostile flood of BenchmarkJoinUnderFlood.
const (
	floodForeign     = 200     // CSRs of a signer that is not kelp's
	floodForeignSize = 1 << 20 // bytes of each one's request
	floodJunk        = 500     // junk kubelet client CSRs from a kelp token
)

// floodCSRs submits the flood: floodForeign CSRs of about 1 MiB for
// example.com/flood, which kelp's informers must never hold, and
// floodJunk kubelet client CSRs sent with poolName's bootstrap token that
// fail the request checks (a subject that names no node), which kelp must
// deny without asking the cloud and without starving real joins.
func floodCSRs(tb testing.TB, ctx context.Context, cluster *localup.Cluster, admin kubernetes.Interface, poolName string) {
	tb.Helper()
	token := tokenClient(tb, ctx, cluster, admin, poolName)
	// The API server parses every request; a huge organizational unit
	// makes a valid one of about 1 MiB.
	foreign := requestPEM(tb, forgery{subject: pkix.Name{CommonName: "flood",
		OrganizationalUnit: []string{strings.Repeat("A", floodForeignSize*3/4)}}})
	junk := requestPEM(tb, forgery{subject: pkix.Name{CommonName: "not-a-node", Organization: []string{"system:nodes"}}})
	var wg sync.WaitGroup
	errs := make(chan error, floodForeign+floodJunk)
	sem := make(chan struct{}, 16)
	send := func(client kubernetes.Interface, name, signer string, req []byte) {
		sem <- struct{}{}
		defer func() { <-sem }()
		csr := &certificatesv1.CertificateSigningRequest{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: certificatesv1.CertificateSigningRequestSpec{Request: req, SignerName: signer,
				Usages: []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth}},
		}
		if _, err := client.CertificatesV1().CertificateSigningRequests().Create(ctx, csr, metav1.CreateOptions{}); err != nil {
			errs <- fmt.Errorf("create flood csr %s: %w", name, err)
		}
	}
	for i := range floodForeign {
		wg.Go(func() { send(admin, fmt.Sprintf("flood-foreign-%03d", i), "example.com/flood", foreign) })
	}
	for i := range floodJunk {
		wg.Go(func() {
			send(token, fmt.Sprintf("flood-junk-%03d", i), certificatesv1.KubeAPIServerClientKubeletSignerName, junk)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		tb.Fatal(err)
	}
}
