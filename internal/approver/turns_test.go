package approver

import (
	"slices"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestWaitingTurnsWakeOldestFirst(t *testing.T) {
	csr := func(name string, age time.Duration) *certificatesv1.CertificateSigningRequest {
		return &certificatesv1.CertificateSigningRequest{ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(t0.Add(-age))}}
	}
	var w waitingTurns
	for _, c := range []*certificatesv1.CertificateSigningRequest{
		csr("young", time.Second), csr("old-b", time.Minute), csr("old-a", time.Minute), csr("oldest", time.Hour), csr("gone", 2*time.Hour),
	} {
		w.wait(c)
	}
	w.done("gone")
	for _, tc := range []struct {
		n    int
		want []string
	}{
		{2, []string{"oldest", "old-a"}}, // same age: by name
		{4, []string{"old-b", "young"}},
		{4, []string{}},
	} {
		if got := w.next(tc.n); !slices.Equal(got, tc.want) {
			t.Errorf("next(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}
