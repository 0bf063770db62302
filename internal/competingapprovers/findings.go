package competingapprovers

import (
	"fmt"
	"slices"
	"strings"

	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/component-helpers/auth/rbac/validation"

	"github.com/kelp-dev/kelp/internal/bootstrap"
)

// Check names one question kube-controller-manager's csrapproving
// controller asks before approving a kubelet client CSR: the subresource
// of certificatesigningrequests its requestor must be allowed to create.
type Check string

const (
	// NodeClient: a bootstrap token's first client CSR. Allowed for a kelp
	// token, every kelp join is approved without kelp's checks.
	NodeClient Check = "nodeclient"
	// SelfNodeClient: a node renewing its own client certificate. Allowed
	// for system:nodes, renewals bypass kelp's checks.
	SelfNodeClient Check = "selfnodeclient"
)

// Checks are every check, in the order reports list them.
var Checks = []Check{NodeClient, SelfNodeClient}

const (
	// ProbeTokenID is the token ID of the bootstrap user the nodeclient
	// probes ask about: any valid-looking ID, since csrapproving asks for
	// the CSR's requestor and RBAC binds groups, not token IDs.
	ProbeTokenID = "kelp00"
	// ProbeNode is the node the selfnodeclient probe asks about.
	ProbeNode = "kelp-probe"
	// RepresentativePool stands for the pools when none are known.
	RepresentativePool = "kelp-probe"
	// MaxPools bounds the probes: pools beyond it (sorted by name) are not
	// asked about one by one.
	MaxPools = 20
	// maxNamed bounds how many bindings a message names.
	maxNamed = 5
)

// Probe is one SubjectAccessReview: may User with Groups create
// certificatesigningrequests/<Check>?
type Probe struct {
	Check  Check
	User   string
	Groups []string
	// Pool is the pool of the bootstrap token, "" for the node probe.
	Pool string
}

// Attributes are the resource attributes of p's review.
func (p Probe) Attributes() authorizationv1.ResourceAttributes {
	return authorizationv1.ResourceAttributes{
		Verb: "create", Group: "certificates.k8s.io", Resource: "certificatesigningrequests", Subresource: string(p.Check),
	}
}

// Probes returns the reviews to ask: one nodeclient probe per pool (the
// first MaxPools of pools, sorted and without duplicates, or
// RepresentativePool when there is none), with the groups a kelp token of
// that pool carries, and one selfnodeclient probe as a node.
func Probes(pools []string) []Probe {
	pools = slices.Clone(pools)
	pools = slices.DeleteFunc(pools, func(p string) bool { return p == "" })
	slices.Sort(pools)
	pools = slices.Compact(pools)
	if len(pools) == 0 {
		pools = []string{RepresentativePool}
	}
	pools = pools[:min(len(pools), MaxPools)]
	out := make([]Probe, 0, len(pools)+1)
	for _, pool := range pools {
		out = append(out, Probe{
			Check: NodeClient, User: "system:bootstrap:" + ProbeTokenID, Pool: pool,
			Groups: []string{"system:bootstrappers", bootstrap.GroupPrefix, bootstrap.PoolGroup(pool), "system:authenticated"},
		})
	}
	return append(out, Probe{
		Check: SelfNodeClient, User: "system:node:" + ProbeNode, Groups: []string{"system:nodes", "system:authenticated"},
	})
}

// Answer is the API server's answer to one probe.
type Answer struct {
	Probe   Probe
	Allowed bool
	// Reason is the authorizer's reason (RBAC names the binding there too,
	// other authorizers what they like).
	Reason string
}

// Grant is one ClusterRoleBinding subject through which a probe is
// allowed.
type Grant struct {
	Binding string
	Role    string
	// Subject is "Group system:bootstrappers" or "User system:node:x".
	Subject string
}

func (g Grant) String() string {
	return fmt.Sprintf("ClusterRoleBinding %s (role %s, subject %s)", g.Binding, g.Role, g.Subject)
}

// Finding is one check whose probe was allowed.
type Finding struct {
	Check Check
	// Fatal is true for NodeClient: kelp's joins would be approved
	// unchecked. SelfNodeClient findings are warnings.
	Fatal bool
	// Pools are the pools whose token is allowed (NodeClient only).
	Pools []string
	// Grants are the bindings to remove; empty when no ClusterRoleBinding
	// explains the answer (another authorizer, such as a webhook, allows
	// it).
	Grants []Grant
	// Message says what happens and what to remove.
	Message string
}

// Report is the result of one check of every probe.
type Report struct {
	// Allowed says, for each check, whether any probe was allowed.
	Allowed map[Check]bool
	// Findings are the checks that were allowed, in the order of Checks.
	Findings []Finding
}

// Fatal returns the fatal finding, if any.
func (r Report) Fatal() (Finding, bool) {
	for _, f := range r.Findings {
		if f.Fatal {
			return f, true
		}
	}
	return Finding{}, false
}

// Evaluate turns the answers into a report. bindings and roles are the
// cluster's ClusterRoleBindings and ClusterRoles (nil when not read): a
// finding names every binding whose ClusterRole grants the probed create
// to one of the allowed probe's subjects.
func Evaluate(answers []Answer, bindings []rbacv1.ClusterRoleBinding, roles []rbacv1.ClusterRole) Report {
	r := Report{Allowed: map[Check]bool{}}
	rules := make(map[string][]rbacv1.PolicyRule, len(roles))
	for _, role := range roles {
		rules[role.Name] = role.Rules
	}
	for _, check := range Checks {
		r.Allowed[check] = false
		var allowed []Probe
		for _, a := range answers {
			if a.Probe.Check == check && a.Allowed {
				allowed = append(allowed, a.Probe)
			}
		}
		if len(allowed) == 0 {
			continue
		}
		r.Allowed[check] = true
		f := Finding{Check: check, Fatal: check == NodeClient}
		for _, p := range allowed {
			if p.Pool != "" {
				f.Pools = append(f.Pools, p.Pool)
			}
			for _, g := range grantsTo(p, bindings, rules) {
				if !slices.Contains(f.Grants, g) {
					f.Grants = append(f.Grants, g)
				}
			}
		}
		f.Message = message(f)
		r.Findings = append(r.Findings, f)
	}
	return r
}

// grantsTo returns the binding subjects that grant p's create.
func grantsTo(p Probe, bindings []rbacv1.ClusterRoleBinding, rules map[string][]rbacv1.PolicyRule) []Grant {
	attr := p.Attributes()
	want := []rbacv1.PolicyRule{{
		Verbs: []string{attr.Verb}, APIGroups: []string{attr.Group}, Resources: []string{attr.Resource + "/" + attr.Subresource},
	}}
	var out []Grant
	for _, b := range bindings {
		if b.RoleRef.Kind != "ClusterRole" {
			continue
		}
		if covers, _ := validation.Covers(rules[b.RoleRef.Name], want); !covers {
			continue
		}
		for _, s := range b.Subjects {
			if (s.Kind == rbacv1.GroupKind && slices.Contains(p.Groups, s.Name)) || (s.Kind == rbacv1.UserKind && s.Name == p.User) {
				out = append(out, Grant{Binding: b.Name, Role: b.RoleRef.Name, Subject: s.Kind + " " + s.Name})
			}
		}
	}
	slices.SortFunc(out, func(a, b Grant) int { return strings.Compare(a.String(), b.String()) })
	return out
}

func message(f Finding) string {
	var b strings.Builder
	switch f.Check {
	case NodeClient:
		fmt.Fprintf(&b, "kube-controller-manager's csrapproving would approve the client CSRs of kelp bootstrap tokens (pools %s) without kelp's checks: they may create certificatesigningrequests/nodeclient", strings.Join(f.Pools, ", "))
	default:
		b.WriteString("kube-controller-manager's csrapproving would approve nodes' client-certificate renewals without kelp's checks: system:nodes may create certificatesigningrequests/selfnodeclient")
	}
	switch {
	case len(f.Grants) == 0:
		b.WriteString("; no ClusterRoleBinding grants it, so another authorizer (a webhook?) allows it")
	default:
		names := make([]string, 0, min(len(f.Grants), maxNamed))
		for _, g := range f.Grants[:min(len(f.Grants), maxNamed)] {
			names = append(names, g.String())
		}
		fmt.Fprintf(&b, "; remove %s", strings.Join(names, ", "))
		if n := len(f.Grants) - maxNamed; n > 0 {
			fmt.Fprintf(&b, " and %d more", n)
		}
	}
	return b.String()
}
