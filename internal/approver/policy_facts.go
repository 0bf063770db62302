package approver

import (
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/kelp-dev/kelp/internal/cloud"
)

// This file holds the checks against what the cloud and the cluster say,
// for each kind of request.

const noName = "the node name could not be read"

// floodAdmits reports whether flood control lets a new-node CSR with the
// facts f be decided now. Oldest first: a burst beyond the headroom is
// admitted as the CSRs ahead of it are decided, not paused as a whole.
func floodAdmits(f Facts, cfg Config) bool {
	return f.PendingAhead < f.Nodes+cfg.WithDefaults().FloodHeadroom
}

// newNodeScreen: a bootstrap token asks for the client certificate of a
// node that has never joined. These checks need no cloud: the request, the
// requestor and flood control.
func (e *eval) newNodeScreen() {
	e.requestChecks()
	e.requestorChecks()
	e.run("flood-control", true, "", func() outcome {
		limit := e.f.Nodes + e.cfg.FloodHeadroom
		if !floodAdmits(e.f, e.cfg) {
			return waiting(ReasonFloodControl, "%d valid new-node CSRs are pending ahead of this one, %d nodes + %d headroom: it waits its turn",
				e.f.PendingAhead, e.f.Nodes, e.cfg.FloodHeadroom)
		}
		return passed("%d of %d pending new-node CSRs ahead of this one, within %d", e.f.PendingAhead, e.f.PendingNodeCSRs, limit)
	})
}

// newNodeCloud: the cloud must vouch for a fresh instance of the token's
// pool owning the node name.
func (e *eval) newNodeCloud() {
	e.instanceByName()
	found, why := e.inst != nil, "no single instance owns the node name"
	if e.instance != "" {
		e.run("instance-token", found, why, e.instanceToken)
	}
	e.run("instance-state", found, why, func() outcome {
		return e.instanceState(cloud.InstanceStatePending, cloud.InstanceStateRunning)
	})
	e.run("instance-managed", found, why, e.instanceManaged)
	e.run("instance-pool", found && (e.pool != "" || e.instance != ""), "no single instance, or no pool or instance group", func() outcome {
		if e.instance != "" {
			if e.groupPool() == "" {
				return failed(ReasonPoolMismatch, "instance %s is in group %q, which is no kelp pool", e.inst.ID, e.inst.GroupName)
			}
			return passed("instance %s is in pool %q", e.inst.ID, e.groupPool())
		}
		if pool := e.groupPool(); pool != e.pool {
			return failed(ReasonPoolMismatch, "instance %s is in pool %q (group %q), the bootstrap token is of pool %q",
				e.inst.ID, pool, e.inst.GroupName, e.pool)
		}
		return passed("instance %s is in pool %q", e.inst.ID, e.pool)
	})
	e.run("launch-window", found, why, func() outcome {
		oldest := e.f.Now.Add(-e.cfg.JoinWindow)
		if e.inst.LaunchTime.Before(oldest) || e.inst.LaunchTime.IsZero() {
			return failed(ReasonInstanceTooOld, "instance %s was launched at %s, more than the join window %s before %s",
				e.inst.ID, stamp(e.inst.LaunchTime), e.cfg.JoinWindow, stamp(e.f.Now))
		}
		return passed("instance %s was launched at %s, within %s", e.inst.ID, stamp(e.inst.LaunchTime), e.cfg.JoinWindow)
	})
	e.run("launch-before-csr", found, why, func() outcome {
		// Both clocks have one-second resolution in the API.
		created := e.f.CSR.CreationTimestamp.Time
		if e.inst.LaunchTime.Truncate(time.Second).After(created) {
			return failed(ReasonLaunchedAfterCSR, "instance %s was launched at %s, after the CSR was created at %s",
				e.inst.ID, stamp(e.inst.LaunchTime), stamp(created))
		}
		return passed("instance %s was launched before the CSR was created", e.inst.ID)
	})
	e.run("node-absent", e.name != "", noName, e.nodeAbsent)
	e.run("not-replayed", found, why, func() outcome {
		a, ok := e.f.PriorApprovals[e.inst.ID]
		if ok && (a.CSRUID == "" || a.CSRUID != e.f.CSR.UID) {
			return failed(ReasonAlreadyJoined, "a client certificate was already approved for instance %s at %s (CSR %s)",
				e.inst.ID, stamp(a.At), a.CSRName)
		}
		return passed("no earlier approval for instance %s", e.inst.ID)
	})
	// Last, so that a CSR failing on its own (a replay for a Node that
	// exists, another pool's token) is denied for that.
	e.run("contested-join", e.name != "", noName, func() outcome {
		if e.instance != "" {
			return passed("the token is bound to instance %s: no other requestor contests node %s", e.instance, e.name)
		}
		if others := e.f.ContestingCSRs; len(others) > 0 {
			return failed(ReasonContestedJoin, "another pending CSR %s of the same pool asks for node %s too; neither is approved",
				quoteAll(others), e.name)
		}
		return passed("no other pending CSR asks for node %s", e.name)
	})
}

// instanceToken: a token bound to one instance (an identity join) asks
// only for that instance's node name, its private DNS name by the cloud.
func (e *eval) instanceToken() outcome {
	if e.inst.ID != e.instance {
		return failed(ReasonInstanceTokenNameMismatch, "the bootstrap token is bound to instance %s, but node name %s is instance %s's",
			e.instance, e.name, e.inst.ID)
	}
	return passed("the bootstrap token is bound to instance %s, whose private DNS name is %s", e.instance, e.name)
}

// instanceByName sets e.inst to the only instance whose private DNS name is
// the node name.
func (e *eval) instanceByName() {
	e.run("instance-found", e.name != "", noName, func() outcome {
		if e.f.CloudErr != nil {
			return waiting(ReasonCloudUnavailable, "the cloud could not be asked for instance %s: %v", e.name, e.f.CloudErr)
		}
		switch n := len(e.f.InstancesByName); {
		case n == 0:
			return waiting(ReasonInstanceNotFound, "no instance has private DNS name %s (yet)", e.name)
		case n > 1:
			ids := make([]string, 0, n)
			for _, in := range e.f.InstancesByName {
				ids = append(ids, in.ID)
			}
			return failed(ReasonDuplicateInstances, "%d instances %q have private DNS name %s", n, ids, e.name)
		}
		in := e.f.InstancesByName[0]
		if in.PrivateDNSName != e.name {
			return failed(ReasonInstanceNameMismatch, "instance %s has private DNS name %q, not %q", in.ID, in.PrivateDNSName, e.name)
		}
		e.inst = &in
		return passed("instance %s has private DNS name %s", in.ID, e.name)
	})
}

// instanceState passes when e.inst is in one of ok; an unknown state may
// still resolve, a pending one may still start.
func (e *eval) instanceState(ok ...cloud.InstanceState) outcome {
	s := e.inst.State
	if slices.Contains(ok, s) {
		return passed("instance %s is %s", e.inst.ID, stateName(s))
	}
	want := make([]string, len(ok))
	for i, o := range ok {
		want[i] = stateName(o)
	}
	if s == cloud.InstanceStateUnknown || s == cloud.InstanceStatePending {
		return waiting(ReasonInstanceNotRunning, "instance %s is %s, want %q", e.inst.ID, stateName(s), want)
	}
	return failed(ReasonInstanceNotRunning, "instance %s is %s, want %q", e.inst.ID, stateName(s), want)
}

// stateName is an instance state as messages spell it: lower case
// ("running").
func stateName(s cloud.InstanceState) string { return strings.ToLower(string(s)) }

// groupManaged reports whether e.inst is in a group this cluster manages.
func (e *eval) groupManaged() bool {
	_, ok := e.f.ManagedGroups[e.inst.GroupName]
	return ok && e.inst.GroupName != ""
}

// groupPool is the pool of e.inst's group: "" when the group is not a
// managed kelp pool.
func (e *eval) groupPool() string {
	if !e.groupManaged() {
		return ""
	}
	return e.f.ManagedGroups[e.inst.GroupName]
}

func (e *eval) instanceManaged() outcome {
	if !e.groupManaged() {
		return failed(ReasonInstanceNotManaged, "instance %s is in group %q, not an Auto Scaling group managed by cluster %q",
			e.inst.ID, e.inst.GroupName, e.cfg.ClusterName)
	}
	return passed("instance %s is in managed group %s", e.inst.ID, e.inst.GroupName)
}

// nodeAbsent: a new node's name must be free, unless the Node holding it
// belongs to an instance that is terminated or gone.
func (e *eval) nodeAbsent() outcome {
	node := e.f.Node
	switch {
	case node == nil:
		return passed("no Node %s exists", e.name)
	case node.Spec.ProviderID == "":
		return failed(ReasonNodeExists, "Node %s already exists (without providerID)", e.name)
	case e.f.NodeInstance != nil && e.f.NodeInstance.State == cloud.InstanceStateTerminated:
		return passed("Node %s exists but its instance %s is terminated", e.name, e.f.NodeInstance.ID)
	case e.f.NodeInstance != nil:
		return failed(ReasonNodeExists, "Node %s already exists, held by instance %s (%s)", e.name, e.f.NodeInstance.ID, stateName(e.f.NodeInstance.State))
	case e.f.CloudErr != nil:
		return waiting(ReasonCloudUnavailable, "the cloud could not be asked for instance %s of Node %s: %v", quote(node.Spec.ProviderID), e.name, e.f.CloudErr)
	}
	return passed("Node %s exists but its instance %s is gone", e.name, quote(node.Spec.ProviderID))
}

// renewalScreen: a node renews its own client certificate; its Node must
// exist.
func (e *eval) renewalScreen() {
	e.requestChecks()
	e.requestorChecks()
	e.run("node-exists", e.name != "", noName, func() outcome {
		if e.f.Node == nil {
			return failed(ReasonNodeNotFound, "no Node %s exists to renew a certificate for", e.name)
		}
		return passed("Node %s exists", e.name)
	})
}

// renewalCloud: the Node must belong to a running instance of a managed
// group, launched before the Node was created, and the renewing
// certificate must be one kelp saw issued to that instance (when the API
// server names it).
func (e *eval) renewalCloud() {
	e.run("node-instance", e.name != "" && e.f.Node != nil, "no Node", e.nodeInstance)
	found, why := e.inst != nil, "the Node's instance is not known"
	e.run("instance-state", found, why, func() outcome { return e.instanceState(cloud.InstanceStateRunning) })
	e.run("instance-managed", found, why, e.instanceManaged)
	e.run("node-after-launch", found, why, e.nodeAfterLaunch)
	e.run("credential", found, why, e.credential)
}

// nodeInstance sets e.inst to the instance of the Node's providerID, which
// must be named like the Node.
func (e *eval) nodeInstance() outcome {
	id, inst := e.f.Node.Spec.ProviderID, e.f.NodeInstance
	switch {
	case id == "":
		return failed(ReasonInstanceNotFound, "Node %s has no providerID", e.name)
	case e.f.CloudErr != nil:
		return waiting(ReasonCloudUnavailable, "the cloud could not be asked for instance %s of Node %s: %v", quote(id), e.name, e.f.CloudErr)
	case inst == nil:
		return failed(ReasonInstanceNotFound, "instance %s of Node %s does not exist", quote(id), e.name)
	case inst.PrivateDNSName != e.name:
		return failed(ReasonNodeInstanceMismatch, "instance %s of Node %s has private DNS name %q", inst.ID, e.name, inst.PrivateDNSName)
	}
	e.inst = inst
	return passed("Node %s is instance %s", e.name, inst.ID)
}

// servingScreen: a node asks for a serving certificate; its Node must be
// registered.
func (e *eval) servingScreen() {
	e.requestChecks()
	e.requestorChecks()
	e.run("node-exists", e.name != "", noName, func() outcome {
		if e.f.Node == nil {
			return waiting(ReasonNodeNotFound, "no Node %s is registered (yet)", e.name)
		}
		return passed("Node %s exists", e.name)
	})
}

// servingCloud: every SAN must belong to the instance that owns the name
// according to the cloud, and that instance must be the Node's.
func (e *eval) servingCloud() {
	e.instanceByName()
	found, why := e.inst != nil, "no single instance owns the node name"
	e.run("node-instance", found && e.f.Node != nil, "no Node, or no single instance", func() outcome {
		id, ni := e.f.Node.Spec.ProviderID, e.f.NodeInstance
		switch {
		case id == "":
			return waiting(ReasonNodeInstanceMismatch, "Node %s has no providerID (yet)", e.name)
		case ni == nil:
			return failed(ReasonNodeInstanceMismatch, "instance %s of Node %s does not exist; the name belongs to %s", quote(id), e.name, e.inst.ID)
		case ni.ID != e.inst.ID:
			return failed(ReasonNodeInstanceMismatch, "Node %s is instance %s, but the name belongs to instance %s", e.name, ni.ID, e.inst.ID)
		}
		return passed("Node %s is instance %s", e.name, e.inst.ID)
	})
	e.run("instance-state", found, why, func() outcome { return e.instanceState(cloud.InstanceStateRunning) })
	e.run("san-owned", found && e.req != nil, why, e.sansOwned)
}

// sansOwned requires every DNS SAN to be the instance's private DNS name
// and every IP SAN one of its private IPs (with --serving-sans=primary-ip:
// its primary private IP), as the cloud reports them.
func (e *eval) sansOwned() outcome {
	for _, dns := range e.req.DNSNames {
		if dns != e.inst.PrivateDNSName {
			return failed(ReasonForeignSAN, "DNS SAN %s is not the private DNS name %q of instance %s", quote(dns), e.inst.PrivateDNSName, e.inst.ID)
		}
	}
	ips, which := e.inst.PrivateIPs, "a private IP"
	if e.cfg.ServingSANs == SANsPrimaryIP {
		ips, which = ips[:min(len(ips), 1)], "the primary private IP (--serving-sans=primary-ip)"
	}
	owned := make([]netip.Addr, 0, len(ips))
	for _, s := range ips {
		if a, err := netip.ParseAddr(s); err == nil {
			owned = append(owned, a.Unmap())
		}
	}
	for _, ip := range e.req.IPAddresses {
		a, ok := netip.AddrFromSlice(ip)
		if !ok || !slices.Contains(owned, a.Unmap()) {
			return failed(ReasonForeignSAN, "IP SAN %s is not %s of instance %s %q", ip, which, e.inst.ID, ips)
		}
	}
	return passed("every SAN belongs to instance %s (--serving-sans=%s)", e.inst.ID, e.cfg.ServingSANs)
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "(unknown)"
	}
	return t.UTC().Format(time.RFC3339)
}
