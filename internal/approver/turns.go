package approver

import (
	"slices"
	"strings"
	"sync"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
)

// turnsPerDecision is how many waiting CSRs one decided new-node CSR
// wakes: it frees one place in flood control; a few more cover CSRs that
// were decided meanwhile.
const turnsPerDecision = 4

// waitingTurns remembers the new-node CSRs that flood control holds back
// (ReasonFloodControl), so that each new-node CSR decided or deleted,
// which frees a place, has the oldest of them decided again at once
// rather than after their retry hint. The retry hint stays the fallback.
type waitingTurns struct {
	mu      sync.Mutex
	waiting map[string]time.Time // csr name -> creation time
}

// wait remembers csr as waiting its turn.
func (w *waitingTurns) wait(csr *certificatesv1.CertificateSigningRequest) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.waiting == nil {
		w.waiting = map[string]time.Time{}
	}
	w.waiting[csr.Name] = csr.CreationTimestamp.Time
}

// done forgets the CSR name: decided, deleted, or no longer waiting.
func (w *waitingTurns) done(name string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.waiting, name)
}

// next removes and returns the n oldest waiting CSRs (by creation time,
// then name, as flood control ranks them).
func (w *waitingTurns) next(n int) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	names := make([]string, 0, len(w.waiting))
	for name := range w.waiting {
		names = append(names, name)
	}
	slices.SortFunc(names, func(a, b string) int {
		if c := w.waiting[a].Compare(w.waiting[b]); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	names = names[:min(n, len(names))]
	for _, name := range names {
		delete(w.waiting, name)
	}
	return names
}
