package approver

import (
	"fmt"
	"slices"
	"strings"

	certificatesv1 "k8s.io/api/certificates/v1"

	"github.com/kelp-dev/kelp/internal/bootstrap"
	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/userdata"
)

// This file holds the first check, "scope": which CSRs are kelp's to
// decide at all. Everything else is left to other approvers, never denied.

// scopeAnswer is what the scope check concluded.
type scopeAnswer int

const (
	scopeIn scopeAnswer = iota
	// scopeOut: not kelp's; ignored.
	scopeOut
	// scopeUnknown: only the cloud can tell, and it did not answer.
	scopeUnknown
	// scopeNeedsCloud: screening, and the cluster's facts do not settle it.
	scopeNeedsCloud
)

type scoping struct {
	answer         scopeAnswer
	reason, detail string
}

// scopeOf decides whether f.CSR of kind is kelp's. A new node's CSR is
// kelp's when its requestor is a kelp bootstrap token; a renewal or
// serving CSR when its requestor is a node (system:node:<name>, the name
// read from the requestor, not the request) of a kelp pool of this
// cluster, by facts that outlive the instance (clusterMember) or, failing
// those, by the cloud (cloudMember).
func scopeOf(f Facts, kind Kind, screening bool) scoping {
	user, groups := f.CSR.Spec.Username, f.CSR.Spec.Groups
	if kind == KindNewNode {
		if kelpToken(user, groups) {
			return scoping{answer: scopeIn, detail: fmt.Sprintf("requestor %s is a bootstrap token of group %s", quote(user), bootstrap.GroupPrefix)}
		}
		return scoping{answer: scopeOut, reason: ReasonNotKelpRequestor, detail: fmt.Sprintf(
			"requestor %s with groups %s is not a kelp bootstrap token (system:bootstrap:<id> in group %s); kelp leaves this CSR to other approvers",
			quote(user), quoteAll(groups), bootstrap.GroupPrefix)}
	}
	name, ok := strings.CutPrefix(user, nodeNamePrefix)
	if !ok {
		return scoping{answer: scopeOut, reason: ReasonNotKelpRequestor, detail: fmt.Sprintf(
			"requestor %s is not a node (system:node:<name>); kelp leaves this CSR to other approvers", quote(user))}
	}
	if why := clusterMember(f, name); why != "" {
		return scoping{answer: scopeIn, detail: why}
	}
	switch {
	case screening:
		return scoping{answer: scopeNeedsCloud}
	case f.CloudErr != nil:
		return scoping{answer: scopeUnknown, reason: ReasonScopeUndetermined, detail: fmt.Sprintf(
			"whether node %s is in a kelp pool needs the cloud, which could not be asked: %v", quote(name), f.CloudErr)}
	}
	if why := cloudMember(f, name); why != "" {
		return scoping{answer: scopeIn, detail: why}
	}
	return scoping{answer: scopeOut, reason: ReasonNotManagedNode, detail: fmt.Sprintf(
		"node %s is in no kelp pool of cluster %q (no %s label, no record of kelp, no instance in a kelp pool); kelp leaves this CSR to other approvers",
		quote(name), f.Config.ClusterName, userdata.PoolLabel)}
}

// kelpToken reports whether a requestor is a bootstrap token
// (system:bootstrap:<id>) carrying a kelp group: bootstrap.GroupPrefix or
// a group under it. Whether <id> and the pool group are valid is the
// requestor checks' business: a CSR claiming kelp's groups is kelp's.
func kelpToken(user string, groups []string) bool {
	if !strings.HasPrefix(user, bootstrapUserPrefix) {
		return false
	}
	return slices.ContainsFunc(groups, func(g string) bool {
		return g == bootstrap.GroupPrefix || strings.HasPrefix(g, bootstrap.GroupPrefix+":")
	})
}

// clusterMember says why node name belongs to a kelp pool by the cluster's
// facts, which outlive the instance, or returns "": its Node carries
// the pool label, or kelp's record holds its instance or its name.
func clusterMember(f Facts, name string) string {
	if n := f.Node; n != nil && n.Name == name {
		if pool, ok := n.Labels[userdata.PoolLabel]; ok {
			return fmt.Sprintf("Node %s has label %s=%s", quote(name), userdata.PoolLabel, quote(pool))
		}
		if _, id, err := cloud.ParseProviderID(n.Spec.ProviderID); err == nil {
			if _, ok := f.PriorApprovals[id]; ok {
				return fmt.Sprintf("kelp's record holds instance %s of Node %s", id, quote(name))
			}
		}
	}
	found := ""
	for id, a := range f.PriorApprovals {
		if a.NodeName != "" && a.NodeName == name && (found == "" || id < found) {
			found = id // the least ID, so that the detail is deterministic
		}
	}
	if found != "" {
		return fmt.Sprintf("kelp's record holds instance %s as node %s", quote(found), quote(name))
	}
	return ""
}

// cloudMember says why node name belongs to a kelp pool by the cloud's
// facts, or returns "": the Node's instance, or an instance of that
// private DNS name, is in a managed group that is a kelp pool.
func cloudMember(f Facts, name string) string {
	candidates := f.InstancesByName
	if f.NodeInstance != nil {
		candidates = append([]cloud.Instance{*f.NodeInstance}, candidates...)
	}
	for _, in := range candidates {
		if pool := f.ManagedGroups[in.GroupName]; in.GroupName != "" && pool != "" {
			return fmt.Sprintf("instance %s of node %s is in group %s of kelp pool %q", in.ID, quote(name), in.GroupName, pool)
		}
	}
	return ""
}

// requestorInScope is the part of scopeOf that needs no facts: false when
// csr is certainly not kelp's by its requestor.
func requestorInScope(csr *certificatesv1.CertificateSigningRequest, kind Kind) bool {
	switch kind {
	case KindNewNode:
		return kelpToken(csr.Spec.Username, csr.Spec.Groups)
	case KindRenewal, KindServing:
		return strings.HasPrefix(csr.Spec.Username, nodeNamePrefix)
	}
	return false
}
