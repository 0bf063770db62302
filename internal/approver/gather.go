package approver

import (
	"context"
	"errors"
	"fmt"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
)

// Sources are where the facts of a CSR come from. The controller backs
// them with informer listers; `kelp csr explain` with direct API reads.
type Sources struct {
	// Node returns the Node of that name, nil when there is none.
	Node func(name string) (*corev1.Node, error)
	// CSRs lists the CSRs, to count pending new-node requests.
	CSRs func() ([]*certificatesv1.CertificateSigningRequest, error)
	// NodeCount returns the number of Nodes.
	NodeCount func() (int, error)
	// Cloud is read for the instances and the managed groups (see
	// cloudfacts.go).
	Cloud  Cloud
	Record *ApprovalRecord
}

// Gather resolves every fact Decide needs for csr. Errors of the cluster
// side (listers, the record) are returned; a cloud error is a fact
// (Facts.CloudErr), since the policy decides what it means.
func (s Sources) Gather(ctx context.Context, csr *certificatesv1.CertificateSigningRequest, now time.Time, cfg Config) (Facts, error) {
	f := Facts{CSR: csr, Now: now, Config: cfg}
	name, ok := NodeName(csr)
	if !ok {
		return f, nil // the policy denies what it cannot name
	}
	var err error
	if f.Node, err = s.Node(name); err != nil {
		return f, fmt.Errorf("get node %s: %w", name, err)
	}
	gatherCloud(ctx, s.Cloud, &f, name)
	if f.PriorApprovals, err = s.Record.Approvals(ctx); err != nil {
		return f, err
	}
	csrs, err := s.CSRs()
	if err != nil {
		return f, fmt.Errorf("list csrs: %w", err)
	}
	for _, c := range csrs {
		if Classify(c) == KindNewNode && ConditionOf(c) == Pending {
			f.PendingNodeCSRs++
		}
	}
	if f.Nodes, err = s.NodeCount(); err != nil {
		return f, fmt.Errorf("count nodes: %w", err)
	}
	return f, nil
}

// errNoSources is returned when a Sources field is missing.
var errNoSources = errors.New("approver: incomplete sources")

func (s Sources) validate() error {
	if s.Node == nil || s.CSRs == nil || s.NodeCount == nil || s.Cloud == nil || s.Record == nil {
		return errNoSources
	}
	return nil
}
