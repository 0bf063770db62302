package clusterview

import (
	"cmp"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"slices"
	"strings"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/kelp-dev/kelp/internal/autoscaler"
	"github.com/kelp-dev/kelp/internal/cloud"
)

// PoolLabel is the label (and group tag) naming a node's pool, the pool
// package's PoolTag.
const PoolLabel = "kelp.dev/pool"

// poolGroupPrefix starts a bootstrap token's pool group
// (bootstrap.PoolGroup: system:bootstrappers:kelp:<pool>); instanceGroupPrefix
// starts the group of an identity join's per-instance token
// (bootstrap.InstanceGroupPrefix: …:instance:<instance-id>), which names
// no pool. (internal/bootstrap holds a client: a core cannot import it.)
const (
	poolGroupPrefix     = "system:bootstrappers:kelp:"
	instanceGroupPrefix = poolGroupPrefix + "instance:"
)

func parseStatus(s string) (*autoscaler.Status, string) {
	if strings.TrimSpace(s) == "" {
		return nil, ""
	}
	var st autoscaler.Status
	if err := yaml.Unmarshal([]byte(s), &st); err != nil {
		return nil, fmt.Sprintf("status configmap: %v", err)
	}
	return &st, ""
}

func autoscalerOf(st *autoscaler.Status) *Autoscaler {
	a := &Autoscaler{Time: st.Time, Expanders: expanders(st), DryRun: st.Autoscaler.DryRun,
		Unschedulable: st.UnschedulablePods, LastDecision: st.LastDecision, ScaleDown: st.ScaleDown}
	if h := st.ClusterHealth; h != nil && !h.Healthy {
		a.Health = Redact(h.Reason)
	}
	for i, e := range a.LastDecision.NoScaleUpExamples {
		a.LastDecision.NoScaleUpExamples[i].Reason = Redact(e.Reason)
	}
	return a
}

// nodesOf lists the Nodes and the pending bootstrap CSRs of nodes not
// registered yet, by pool and name.
func nodesOf(in Input) []Node {
	out := make([]Node, 0, len(in.Nodes))
	registered := make(map[string]bool, len(in.Nodes))
	for _, n := range in.Nodes {
		registered[n.Name] = true
		phase, reason := nodePhase(n)
		out = append(out, Node{Name: Redact(n.Name), Pool: n.Labels[PoolLabel], Phase: phase,
			AgeSeconds: seconds(in.Now.Sub(n.CreationTimestamp.Time)), Reason: Redact(reason)})
	}
	pools := instancePools(in.Groups)
	for _, c := range in.CSRs {
		if !strings.HasPrefix(c.Spec.Username, "system:bootstrap:") || decided(c) {
			continue
		}
		name := csrNodeName(c)
		if registered[name] {
			continue
		}
		if name == "" {
			name = "csr/" + c.Name
		}
		pool, note := csrPool(c.Spec.Groups, name, pools)
		out = append(out, Node{Name: Redact(name), Pool: pool, Phase: PhaseCSRPending,
			AgeSeconds: seconds(in.Now.Sub(c.CreationTimestamp.Time)), Reason: Redact("CSR " + c.Name + " from " + c.Spec.Username + note)})
	}
	slices.SortFunc(out, func(a, b Node) int {
		return strings.Compare(a.Pool+"\x00"+a.Name, b.Pool+"\x00"+b.Name)
	})
	return out
}

// instancePools maps the groups' instances, by ID and by private DNS
// name, to their pool (named as poolsOf names it).
func instancePools(groups []cloud.NodeGroup) map[string]string {
	out := map[string]string{}
	for _, g := range groups {
		for _, i := range g.Instances {
			pool := cmp.Or(i.Pool, g.Pool, g.ID)
			out[i.ID] = pool
			if i.PrivateDNSName != "" {
				out[i.PrivateDNSName] = pool
			}
		}
	}
	return out
}

func nodePhase(n *corev1.Node) (Phase, string) {
	if n.Spec.Unschedulable {
		return PhaseDraining, "cordoned"
	}
	for _, t := range n.Spec.Taints {
		if t.Key == autoscaler.ToBeDeletedTaint || t.Key == autoscaler.CAToBeDeletedTaint {
			return PhaseDraining, "taint " + t.Key
		}
	}
	for _, c := range n.Status.Conditions {
		if c.Type != corev1.NodeReady {
			continue
		}
		switch {
		case c.Status == corev1.ConditionTrue:
			return PhaseReady, ""
		case c.Reason == "NodeStatusUnknown":
			return PhaseNotReady, c.Message
		}
		return PhaseJoining, c.Message
	}
	return PhaseJoining, "no Ready condition yet"
}

func decided(c *certificatesv1.CertificateSigningRequest) bool {
	for _, cond := range c.Status.Conditions {
		switch cond.Type {
		case certificatesv1.CertificateApproved, certificatesv1.CertificateDenied, certificatesv1.CertificateFailed:
			return true
		}
	}
	return false
}

// csrNodeName is the node a kubelet client CSR asks to be
// (CN system:node:<name>), "" when it does not parse.
func csrNodeName(c *certificatesv1.CertificateSigningRequest) string {
	block, _ := pem.Decode(c.Spec.Request)
	if block == nil {
		return ""
	}
	req, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return ""
	}
	name, _ := strings.CutPrefix(req.Subject.CommonName, "system:node:")
	return name
}

// csrPool is the pool of a pending CSR: the pool its token's group names,
// else the pool of the instance its per-instance token names (or of the
// node name it asks for) among the cloud's groups. When that is unknown —
// no cloud snapshot (`kelp status`, a standby replica), or an instance of
// no group — it returns "" and a note saying so.
func csrPool(groups []string, nodeName string, pools map[string]string) (pool, note string) {
	instance := ""
	for _, g := range groups {
		if id, ok := strings.CutPrefix(g, instanceGroupPrefix); ok {
			instance = id
		} else if p, ok := strings.CutPrefix(g, poolGroupPrefix); ok && !strings.Contains(p, ":") {
			return p, ""
		}
	}
	if p, ok := pools[instance]; ok && instance != "" {
		return p, ""
	}
	if p, ok := pools[nodeName]; ok {
		return p, ""
	}
	switch {
	case instance == "":
		return "", "; pool unknown: the token names none"
	case len(pools) == 0:
		return "", "; pool unknown: identity join of instance " + instance + ", mapped to its pool by the leader's web view only"
	}
	return "", "; pool unknown: instance " + instance + " is in no group of the cloud's snapshot"
}

// poolsOf joins the status's pools, the cloud's groups and the nodes'
// pool labels, by pool name (a group that is no pool under its own ID).
// Launching counts what the desired size awaits beyond the nodes (draining
// ones too: their instances count until they terminate) and CSRs seen.
func poolsOf(in Input, st *autoscaler.Status, nodes []Node) []Pool {
	byName := map[string]*Pool{}
	get := func(name string) *Pool {
		p, ok := byName[name]
		if !ok {
			p = &Pool{Name: name, Phases: map[Phase]int{}}
			byName[name] = p
		}
		return p
	}
	if st != nil {
		for _, s := range st.Pools {
			p := get(cmp.Or(s.Pool, s.Group))
			p.Group, p.Min, p.Max, p.Desired = s.Group, s.MinSize, s.MaxSize, s.TargetSize
			p.Instances = map[string]int{string(cloud.InstanceStateRunning): s.Ready, string(cloud.InstanceStatePending): s.Upcoming}
			if b := s.Backoff; b != nil {
				p.Backoff = Redact(fmt.Sprintf("%s (until %s, %d failures)", b.Reason, b.Until, b.Failures))
			}
		}
	}
	for _, g := range in.Groups {
		p := get(cmp.Or(g.Pool, g.ID))
		p.Group, p.Min, p.Max, p.Desired = g.ID, g.MinSize, g.MaxSize, g.TargetSize
		p.Instances = map[string]int{}
		for _, i := range g.Instances {
			p.Instances[string(i.State)]++
		}
	}
	for _, n := range nodes {
		if n.Pool != "" {
			get(n.Pool).Phases[n.Phase]++
		}
	}
	out := make([]Pool, 0, len(byName))
	for _, p := range byName {
		seen := 0
		for _, ph := range []Phase{PhaseCSRPending, PhaseJoining, PhaseReady, PhaseNotReady, PhaseDraining} {
			seen += p.Phases[ph]
		}
		if launching := p.Desired - seen; launching > 0 {
			p.Phases[PhaseLaunching] = launching
		}
		out = append(out, *p)
	}
	slices.SortFunc(out, func(a, b Pool) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func seconds(d time.Duration) int64 { return int64(d / time.Second) }

// expanders is the status's expander chain; "" is least-waste
// (loop.Options.Expanders).
func expanders(st *autoscaler.Status) string {
	return cmp.Or(st.Autoscaler.Expanders, "least-waste")
}
