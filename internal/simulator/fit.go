package simulator

import (
	corev1 "k8s.io/api/core/v1"
)

// Fits reports whether pod p fits the named node of s with the
// kube-scheduler's filters, and the reason when it does not. An unsupported
// pod never fits (the reason is p.Unsupported()). Fits costs O(pods) when p
// or an existing pod has inter-pod affinity or p has spread constraints;
// use [FitNodes] or a [Placer] for many nodes or many replicas.
func Fits(s *Snapshot, p *Pod, nodeName string) (bool, Reason) {
	if p.unsupported != ReasonNone {
		return false, p.unsupported
	}
	n, ok := s.lookup(nodeName)
	if !ok {
		return false, ReasonNodeNotFound
	}
	r := p.staticFit(n.node)
	if r == ReasonNone {
		r = dynamicFit(p, n, newSpreadState(s, p), newAffinityState(s, p))
	}
	return r == ReasonNone, r
}

// FitResult is the verdict of [FitNodes] for one pod.
type FitResult struct {
	// Fit lists the nodes the pod fits, in snapshot order.
	Fit []string
	// Reasons holds, for each node the pod does not fit, the first failing
	// predicate.
	Reasons map[string]Reason
	// Unsupported is set when the simulator cannot model the pod; Fit is
	// then empty and Reasons nil.
	Unsupported Reason
}

// FitNodes evaluates pod p against every node of s in O(nodes) (plus one
// scan of the pods when affinity or spread needs counts). Static verdicts
// (taints, node affinity, unschedulable, volume zone) are cached per
// compiled pod spec and node, so replicas created with [Pod.Replica] reuse
// them.
func FitNodes(s *Snapshot, p *Pod) FitResult {
	if p.unsupported != ReasonNone {
		return FitResult{Unsupported: p.unsupported}
	}
	res := FitResult{Reasons: make(map[string]Reason)}
	static := s.staticVerdicts(p.podSpec)
	spread, aff := newSpreadState(s, p), newAffinityState(s, p)
	for _, n := range s.nodes {
		if n == nil {
			continue
		}
		r := p.staticOf(static, n)
		if r == ReasonNone {
			r = dynamicFit(p, n, spread, aff)
		}
		if r == ReasonNone {
			res.Fit = append(res.Fit, n.node.Name)
		} else {
			res.Reasons[n.node.Name] = r
		}
	}
	return res
}

// staticVerdicts returns, indexed by static key (see family), the static
// predicate verdict of spec for every node of s (computed on first use,
// shared by forks). Read a node's verdict with staticOf: specs that read
// the node's name are not cached.
func (s *Snapshot) staticVerdicts(spec *podSpec) []Reason {
	if spec.readsName {
		return nil
	}
	s.fam.mu.Lock()
	defer s.fam.mu.Unlock()
	v := s.fam.static[spec]
	for _, n := range s.fam.keyNodes[len(v):] {
		v = append(v, spec.staticFit(n))
	}
	s.fam.static[spec] = v
	return v
}

// staticOf returns spec's static verdict for node n, given spec's
// verdicts v from a staticVerdicts call made after n was added.
func (spec *podSpec) staticOf(v []Reason, n *nodeState) Reason {
	if spec.readsName {
		return spec.staticFit(n.node)
	}
	return v[n.skey]
}

// dynamicFit evaluates the predicates that depend on the pods placed:
// NodePorts, NodeResourcesFit, NodeVolumeLimits, PodTopologySpread,
// InterPodAffinity.
func dynamicFit(p *Pod, n *nodeState, spread *spreadState, aff *affinityState) Reason {
	if portsConflict(n.ports, p.ports) {
		return ReasonHostPorts
	}
	if r := resourcesFit(p.requests, n); r != ReasonNone {
		return r
	}
	if r := volumesFit(p, n); r != ReasonNone {
		return r
	}
	if r := spread.fits(p, n); r != ReasonNone {
		return r
	}
	return aff.fits(p, n)
}

// resourcesFit is the NodeResourcesFit filter: the pod count always, then
// each requested resource against allocatable minus requested.
func resourcesFit(req Resources, n *nodeState) Reason {
	if int64(len(n.pods))+1 > n.allocatable.Pods {
		return ReasonTooManyPods
	}
	if req.isZeroRequest() {
		return ReasonNone
	}
	a, u := &n.allocatable, &n.requested
	switch {
	case req.MilliCPU > 0 && req.MilliCPU > a.MilliCPU-u.MilliCPU:
		return InsufficientResource(corev1.ResourceCPU)
	case req.Memory > 0 && req.Memory > a.Memory-u.Memory:
		return InsufficientResource(corev1.ResourceMemory)
	case req.EphemeralStorage > 0 && req.EphemeralStorage > a.EphemeralStorage-u.EphemeralStorage:
		return InsufficientResource(corev1.ResourceEphemeralStorage)
	}
	if len(req.Scalar) == 0 {
		return ReasonNone
	}
	if name, short := insufficient(n.free(), Resources{Scalar: req.Scalar}); short {
		return InsufficientResource(name)
	}
	return ReasonNone
}

// portsConflict mirrors HostPortInfo.CheckConflict: a wildcard IP conflicts
// with the same protocol and port on any IP, a specific IP with the same IP
// or the wildcard.
func portsConflict(used, want []hostPort) bool {
	for _, w := range want {
		for _, u := range used {
			if u.port != w.port || u.protocol != w.protocol {
				continue
			}
			if w.ip == "0.0.0.0" || u.ip == "0.0.0.0" || u.ip == w.ip {
				return true
			}
		}
	}
	return false
}
