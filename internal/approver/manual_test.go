package approver

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func cond(t certificatesv1.RequestConditionType, s corev1.ConditionStatus) certificatesv1.CertificateSigningRequestCondition {
	return certificatesv1.CertificateSigningRequestCondition{Type: t, Status: s}
}

func TestConditionOf(t *testing.T) {
	approved := cond(certificatesv1.CertificateApproved, corev1.ConditionTrue)
	tests := []struct {
		name  string
		conds []certificatesv1.CertificateSigningRequestCondition
		cert  []byte
		want  Condition
	}{
		{"no conditions", nil, nil, Pending},
		{"approved", []certificatesv1.CertificateSigningRequestCondition{approved}, nil, Approved},
		{"issued", []certificatesv1.CertificateSigningRequestCondition{approved}, []byte("cert"), Issued},
		{"denied", []certificatesv1.CertificateSigningRequestCondition{cond(certificatesv1.CertificateDenied, corev1.ConditionTrue)}, nil, Denied},
		{"failed wins over approved", []certificatesv1.CertificateSigningRequestCondition{approved, cond(certificatesv1.CertificateFailed, corev1.ConditionTrue)}, nil, Failed},
		{"condition not true", []certificatesv1.CertificateSigningRequestCondition{cond(certificatesv1.CertificateApproved, corev1.ConditionFalse)}, nil, Pending},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			csr := &certificatesv1.CertificateSigningRequest{Status: certificatesv1.CertificateSigningRequestStatus{Conditions: tt.conds, Certificate: tt.cert}}
			if got := ConditionOf(csr); got != tt.want {
				t.Errorf("ConditionOf = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestSummarizeNodeName(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	req := func(cn string) []byte {
		der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn}}, key)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
	}
	now := time.Date(2026, 1, 1, 0, 10, 0, 0, time.UTC)
	tests := []struct {
		name    string
		request []byte
		want    string
	}{
		{"node", req("system:node:ip-10-0-0-1.ec2.internal"), "ip-10-0-0-1.ec2.internal"},
		{"not a node", req("alice"), ""},
		{"garbage", []byte("not pem"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Summarize(&certificatesv1.CertificateSigningRequest{
				ObjectMeta: metav1.ObjectMeta{Name: "csr-1", CreationTimestamp: metav1.NewTime(now.Add(-5 * time.Minute))},
				Spec:       certificatesv1.CertificateSigningRequestSpec{Request: tt.request, Username: "system:bootstrap:abcdef"},
			}, now)
			if s.NodeName != tt.want || s.Age != 5*time.Minute || s.Requestor != "system:bootstrap:abcdef" || s.Condition != Pending {
				t.Errorf("Summarize = %+v", s)
			}
		})
	}
}

func TestDecisionCondition(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 10, 0, 0, time.UTC)
	for _, tt := range []struct {
		d    Decision
		want certificatesv1.RequestConditionType
	}{
		{Decision{Approve: true, Reason: ReasonApproved, Message: "m"}, certificatesv1.CertificateApproved},
		{Decision{Reason: "UnknownInstance", Message: "denied by hand"}, certificatesv1.CertificateDenied},
	} {
		got := tt.d.condition(now)
		if got.Type != tt.want || got.Status != corev1.ConditionTrue || got.Reason != tt.d.Reason || got.Message != tt.d.Message || !got.LastUpdateTime.Time.Equal(now) {
			t.Errorf("condition(%+v) = %+v, want %s True with its reason, message and time", tt.d, got, tt.want)
		}
		csr := &certificatesv1.CertificateSigningRequest{Status: certificatesv1.CertificateSigningRequestStatus{Conditions: []certificatesv1.CertificateSigningRequestCondition{got}}}
		if c, want := ConditionOf(csr), map[bool]Condition{true: Approved, false: Denied}[tt.d.Approve]; c != want {
			t.Errorf("a CSR carrying condition(%+v) is %s, want %s", tt.d, c, want)
		}
	}
}
