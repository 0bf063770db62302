package approver

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Sources are where the facts of a CSR come from. The controller backs
// them with informer listers; `kelp csr explain` with direct API reads.
type Sources struct {
	// Node returns the Node of that name, nil when there is none.
	Node func(name string) (*corev1.Node, error)
	// CSRs lists the CSRs (at least the pending ones of the client
	// signer), to count and compare pending new-node requests.
	CSRs func() ([]*certificatesv1.CertificateSigningRequest, error)
	// NodeCount returns the number of Nodes.
	NodeCount func() (int, error)
	// Cloud is read for the instances and the managed groups (see
	// cloudfacts.go).
	Cloud  Cloud
	Record *ApprovalRecord
	// Screens remembers which pending new-node CSRs passed the request and
	// requestor checks, so that Gather screens each CSR once, not once per
	// decision. nil screens every pending CSR on every call.
	Screens *ScreenCache
}

// Gather resolves every fact Decide needs for csr. Errors of the cluster
// side (listers, the record) are returned; a cloud error is a fact
// (Facts.CloudErr), since the policy decides what it means.
//
// It reads in order of cost and stops as soon as the verdict is settled:
// nothing for another signer, a decided CSR or a requestor kelp leaves
// alone; then the cluster's facts (the Node named by the CN for new nodes,
// by the requestor for renewals and serving CSRs; the record; the counts);
// then [Screen], and the cloud only when Screen is not final and, for a
// new node, flood control admits it (a CSR waiting its turn costs no
// cloud call). With s.Screens, a call costs one map lookup per pending
// new-node CSR once each has been screened.
func (s Sources) Gather(ctx context.Context, csr *certificatesv1.CertificateSigningRequest, now time.Time, cfg Config) (Facts, error) {
	return s.gather(ctx, csr, now, cfg, nil)
}

// gather is Gather; the cloud's facts are read inside timeCloud when it is
// not nil (the controller times that part).
func (s Sources) gather(ctx context.Context, csr *certificatesv1.CertificateSigningRequest, now time.Time, cfg Config, timeCloud func(read func())) (Facts, error) {
	f := Facts{CSR: csr, Now: now, Config: cfg}
	kind := Classify(csr)
	if kind == KindOther || ConditionOf(csr) != Pending || !requestorInScope(csr, kind) {
		return f, nil
	}
	name := factsName(csr, kind)
	var err error
	if name != "" {
		if f.Node, err = s.Node(name); err != nil {
			return f, fmt.Errorf("get node %s: %w", name, err)
		}
	}
	if f.PriorApprovals, err = s.Record.Approvals(ctx); err != nil {
		return f, err
	}
	if f.Nodes, err = s.NodeCount(); err != nil {
		return f, fmt.Errorf("count nodes: %w", err)
	}
	if kind == KindNewNode {
		if err := s.pendingNewNodes(&f, name); err != nil {
			return f, err
		}
	}
	if _, final := Screen(f); final || name == "" {
		return f, nil
	}
	if kind == KindNewNode && !floodAdmits(f, cfg) {
		return f, nil // it waits its turn; the cloud is asked once admitted
	}
	if timeCloud == nil {
		gatherCloud(ctx, s.Cloud, &f, name)
	} else {
		timeCloud(func() { gatherCloud(ctx, s.Cloud, &f, name) })
	}
	return f, nil
}

// factsName is the node name whose facts decide csr: the CN of a new
// node's request ("" when it cannot be read: the policy denies it), the
// requestor's name for a renewal or a serving CSR.
func factsName(csr *certificatesv1.CertificateSigningRequest, kind Kind) string {
	if kind == KindNewNode {
		name, _ := NodeName(csr)
		return name
	}
	return strings.TrimPrefix(csr.Spec.Username, nodeNamePrefix)
}

// pendingNewNodes counts the pending new-node CSRs that pass the request
// and requestor checks into f: how many, how many are older than f.CSR,
// and which others, of a token of the same pool, ask for node name.
// f.PriorApprovals must be read.
func (s Sources) pendingNewNodes(f *Facts, name string) error {
	csrs, err := s.CSRs()
	if err != nil {
		return fmt.Errorf("list csrs: %w", err)
	}
	// A CSR in kelp's record is approved, or about to be (the record is
	// written first), however late the listing is: it no longer waits
	// nor contests; a CSR for its node is a replay (AlreadyJoined).
	recorded := make(map[types.UID]bool, len(f.PriorApprovals))
	for _, a := range f.PriorApprovals {
		recorded[a.CSRUID] = true
	}
	f.PendingNodeCSRs, f.PendingAhead, f.ContestingCSRs = 0, 0, nil
	// Only a token of the same pool contests: another pool's token cannot
	// join this node (PoolMismatch) and is denied for that. A token bound
	// to one instance (an identity join) neither contests nor is contested:
	// it is approved only for its own instance's name.
	pool, _ := poolFromGroups(f.CSR.Spec.Groups)
	contestable := !instanceBound(f.CSR.Spec.Groups)
	for _, c := range csrs {
		if c.Spec.SignerName != certificatesv1.KubeAPIServerClientKubeletSignerName || Classify(c) != KindNewNode ||
			ConditionOf(c) != Pending || (recorded[c.UID] && c.UID != "") {
			continue
		}
		node, ok := s.Screens.screen(c, f.Config)
		if !ok {
			continue
		}
		f.PendingNodeCSRs++
		if c.Name == f.CSR.Name {
			continue
		}
		if olderCSR(c, f.CSR) {
			f.PendingAhead++
		}
		if other, _ := poolFromGroups(c.Spec.Groups); contestable && name != "" && node == name && other == pool && !instanceBound(c.Spec.Groups) {
			f.ContestingCSRs = append(f.ContestingCSRs, c.Name)
		}
	}
	slices.Sort(f.ContestingCSRs)
	return nil
}

// olderCSR orders CSRs by creation time, then name.
func olderCSR(a, b *certificatesv1.CertificateSigningRequest) bool {
	if c := a.CreationTimestamp.Compare(b.CreationTimestamp.Time); c != 0 {
		return c < 0
	}
	return cmp.Less(a.Name, b.Name)
}

// errNoSources is returned when a Sources field is missing.
var errNoSources = errors.New("approver: incomplete sources")

func (s Sources) validate() error {
	if s.Node == nil || s.CSRs == nil || s.NodeCount == nil || s.Cloud == nil || s.Record == nil {
		return errNoSources
	}
	return nil
}
