package approver

import (
	"bytes"
	"testing"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestTrimDecided(t *testing.T) {
	request := []byte("-----BEGIN CERTIFICATE REQUEST-----\n...")
	huge := bytes.Repeat([]byte("A"), 1<<20)
	condition := func(typ certificatesv1.RequestConditionType) []certificatesv1.CertificateSigningRequestCondition {
		return []certificatesv1.CertificateSigningRequestCondition{{Type: typ, Status: corev1.ConditionTrue}}
	}
	for _, tt := range []struct {
		name        string
		request     []byte
		conditions  []certificatesv1.CertificateSigningRequestCondition
		certificate []byte
		wantRequest int // length kept
	}{
		{"pending keeps its request", request, nil, nil, len(request)},
		{"pending too large is cut", huge, nil, nil, MaxRequestBytes + 1},
		{"approved drops it", request, condition(certificatesv1.CertificateApproved), nil, 0},
		{"issued drops it, keeps the certificate", request, condition(certificatesv1.CertificateApproved), []byte("cert"), 0},
		{"denied drops it", huge, condition(certificatesv1.CertificateDenied), nil, 0},
		{"failed drops it", request, condition(certificatesv1.CertificateFailed), nil, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := &certificatesv1.CertificateSigningRequest{
				ObjectMeta: metav1.ObjectMeta{Name: "csr", ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}},
				Spec:       certificatesv1.CertificateSigningRequestSpec{Request: tt.request},
				Status:     certificatesv1.CertificateSigningRequestStatus{Conditions: tt.conditions, Certificate: tt.certificate},
			}
			out, err := TrimDecided(in)
			if err != nil {
				t.Fatal(err)
			}
			csr := out.(*certificatesv1.CertificateSigningRequest)
			if len(csr.Spec.Request) != tt.wantRequest || cap(csr.Spec.Request) > 2*tt.wantRequest {
				t.Errorf("request: %d bytes (capacity %d), want %d", len(csr.Spec.Request), cap(csr.Spec.Request), tt.wantRequest)
			}
			if tt.wantRequest > 0 && !bytes.HasPrefix(tt.request, csr.Spec.Request) {
				t.Errorf("request changed, not cut")
			}
			if !bytes.Equal(csr.Status.Certificate, tt.certificate) || csr.ManagedFields != nil {
				t.Errorf("certificate %q managed fields %v: want the certificate kept and no managed fields", csr.Status.Certificate, csr.ManagedFields)
			}
		})
	}
	if out, _ := TrimDecided("not a csr"); out != "not a csr" {
		t.Errorf("a non-CSR object changed: %v", out)
	}
}
