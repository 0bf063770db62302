package competingapprovers

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestProbes(t *testing.T) {
	tests := []struct {
		name  string
		pools []string
		want  []string // pools of the nodeclient probes
	}{
		{"no pools: a representative", nil, []string{RepresentativePool}},
		{"sorted, deduplicated, empty dropped", []string{"gpu", "", "general", "gpu"}, []string{"general", "gpu"}},
		{"capped", manyPools(MaxPools + 5), manyPools(MaxPools + 5)[:MaxPools]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			probes := Probes(tt.pools)
			var pools []string
			for _, p := range probes[:len(probes)-1] {
				if p.Check != NodeClient || p.User != "system:bootstrap:"+ProbeTokenID {
					t.Errorf("probe %+v: want a nodeclient probe of the bootstrap user", p)
				}
				wantGroups := []string{"system:bootstrappers", "system:bootstrappers:kelp", "system:bootstrappers:kelp:" + p.Pool, "system:authenticated"}
				if !slices.Equal(p.Groups, wantGroups) {
					t.Errorf("probe of pool %s: groups %v, want %v", p.Pool, p.Groups, wantGroups)
				}
				pools = append(pools, p.Pool)
			}
			if !slices.Equal(pools, tt.want) {
				t.Errorf("probed pools %v, want %v", pools, tt.want)
			}
			last := probes[len(probes)-1]
			if last.Check != SelfNodeClient || last.User != "system:node:"+ProbeNode || !slices.Equal(last.Groups, []string{"system:nodes", "system:authenticated"}) {
				t.Errorf("last probe %+v: want the selfnodeclient probe of a node", last)
			}
			attr := last.Attributes()
			if attr.Verb != "create" || attr.Group != "certificates.k8s.io" || attr.Resource != "certificatesigningrequests" || attr.Subresource != "selfnodeclient" {
				t.Errorf("attributes %+v", attr)
			}
		})
	}
}

func manyPools(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("pool-%02d", i)
	}
	return out
}

func role(name string, rules ...rbacv1.PolicyRule) rbacv1.ClusterRole {
	return rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: rules}
}

func binding(name, roleName string, subjects ...rbacv1.Subject) rbacv1.ClusterRoleBinding {
	return rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: roleName}, Subjects: subjects}
}

func group(name string) rbacv1.Subject { return rbacv1.Subject{Kind: rbacv1.GroupKind, Name: name} }

const (
	nodeclientRole     = "system:certificates.k8s.io:certificatesigningrequests:nodeclient"
	selfnodeclientRole = "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient"
)

// cluster is a kubeadm-like cluster's RBAC, plus a binding that hands
// nodeclient to every bootstrap token (as Kubernetes' TLS bootstrapping
// guide shows), a wildcard role and a role that grants nothing relevant.
var (
	roles = []rbacv1.ClusterRole{
		role(nodeclientRole, rbacv1.PolicyRule{Verbs: []string{"create"}, APIGroups: []string{"certificates.k8s.io"}, Resources: []string{"certificatesigningrequests/nodeclient"}}),
		role(selfnodeclientRole, rbacv1.PolicyRule{Verbs: []string{"create"}, APIGroups: []string{"certificates.k8s.io"}, Resources: []string{"certificatesigningrequests/selfnodeclient"}}),
		role("everything", rbacv1.PolicyRule{Verbs: []string{"*"}, APIGroups: []string{"*"}, Resources: []string{"*"}}),
		role("any-subresource", rbacv1.PolicyRule{Verbs: []string{"create"}, APIGroups: []string{"certificates.k8s.io"}, Resources: []string{"*/nodeclient"}}),
		role("system:node-bootstrapper", rbacv1.PolicyRule{Verbs: []string{"create", "get", "list", "watch"}, APIGroups: []string{"certificates.k8s.io"}, Resources: []string{"certificatesigningrequests"}}),
		role("named-only", rbacv1.PolicyRule{Verbs: []string{"create"}, APIGroups: []string{"certificates.k8s.io"}, Resources: []string{"certificatesigningrequests/nodeclient"}, ResourceNames: []string{"x"}}),
	}
	kubeadmBootstrap = binding("kubeadm:node-autoapprove-bootstrap", nodeclientRole, group("system:bootstrappers:kubeadm:default-node-token"))
	kubeadmRotation  = binding("kubeadm:node-autoapprove-certificate-rotation", selfnodeclientRole, group("system:nodes"))
	allBootstrappers = binding("auto-approve-csrs-for-group", nodeclientRole, group("system:bootstrappers"))
	onePool          = binding("approve-gpu", "any-subresource", group("system:bootstrappers:kelp:gpu"))
	harmless         = []rbacv1.ClusterRoleBinding{
		binding("kelp:bootstrappers", "system:node-bootstrapper", group("system:bootstrappers:kelp")),
		binding("named", "named-only", group("system:bootstrappers")),
		binding("cluster-admin", "everything", group("system:masters")),
		{ObjectMeta: metav1.ObjectMeta{Name: "role-kind"}, RoleRef: rbacv1.RoleRef{Kind: "Role", Name: nodeclientRole}, Subjects: []rbacv1.Subject{group("system:bootstrappers")}},
	}
)

func TestEvaluate(t *testing.T) {
	probes := Probes([]string{"general", "gpu"})
	answer := func(allowed ...string) []Answer { // allowed: pools, or "node"
		out := make([]Answer, len(probes))
		for i, p := range probes {
			key := p.Pool
			if p.Check == SelfNodeClient {
				key = "node"
			}
			out[i] = Answer{Probe: p, Allowed: slices.Contains(allowed, key)}
		}
		return out
	}
	tests := []struct {
		name       string
		answers    []Answer
		bindings   []rbacv1.ClusterRoleBinding
		wantFatal  bool
		wantChecks []Check
		wantPools  []string
		wantGrants map[Check][]string // binding names
		wantInMsg  []string
	}{
		{name: "nothing allowed", answers: answer(), bindings: append(harmless, kubeadmBootstrap)},
		{
			name: "kubeadm cluster: renewals bypass kelp, kelp tokens do not", answers: answer("node"),
			bindings:   append([]rbacv1.ClusterRoleBinding{kubeadmBootstrap, kubeadmRotation}, harmless...),
			wantChecks: []Check{SelfNodeClient}, wantGrants: map[Check][]string{SelfNodeClient: {"kubeadm:node-autoapprove-certificate-rotation"}},
			wantInMsg: []string{"selfnodeclient", "remove ClusterRoleBinding kubeadm:node-autoapprove-certificate-rotation (role " + selfnodeclientRole + ", subject Group system:nodes)"},
		},
		{
			name: "every bootstrap token may create nodeclient", answers: answer("general", "gpu"),
			bindings:  append([]rbacv1.ClusterRoleBinding{allBootstrappers}, harmless...),
			wantFatal: true, wantChecks: []Check{NodeClient}, wantPools: []string{"general", "gpu"},
			wantGrants: map[Check][]string{NodeClient: {"auto-approve-csrs-for-group"}},
			wantInMsg:  []string{"pools general, gpu", "remove ClusterRoleBinding auto-approve-csrs-for-group (role " + nodeclientRole + ", subject Group system:bootstrappers)"},
		},
		{
			name: "one pool through a wildcard subresource", answers: answer("gpu"),
			bindings:  append([]rbacv1.ClusterRoleBinding{onePool}, harmless...),
			wantFatal: true, wantChecks: []Check{NodeClient}, wantPools: []string{"gpu"},
			wantGrants: map[Check][]string{NodeClient: {"approve-gpu"}},
		},
		{
			name: "both, through several bindings", answers: answer("general", "gpu", "node"),
			bindings:  []rbacv1.ClusterRoleBinding{kubeadmRotation, allBootstrappers, onePool, binding("wide", "everything", group("system:authenticated"))},
			wantFatal: true, wantChecks: []Check{NodeClient, SelfNodeClient}, wantPools: []string{"general", "gpu"},
			wantGrants: map[Check][]string{NodeClient: {"approve-gpu", "auto-approve-csrs-for-group", "wide"}, SelfNodeClient: {"kubeadm:node-autoapprove-certificate-rotation", "wide"}},
		},
		{
			name: "allowed by no binding: another authorizer", answers: answer("general"), bindings: harmless,
			wantFatal: true, wantChecks: []Check{NodeClient}, wantPools: []string{"general"},
			wantInMsg: []string{"another authorizer"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Evaluate(tt.answers, tt.bindings, roles)
			var checks []Check
			for _, f := range r.Findings {
				checks = append(checks, f.Check)
				if !r.Allowed[f.Check] {
					t.Errorf("finding %s but Allowed[%s] false", f.Check, f.Check)
				}
				var names []string
				for _, g := range f.Grants {
					names = append(names, g.Binding)
				}
				slices.Sort(names)
				if !slices.Equal(names, tt.wantGrants[f.Check]) {
					t.Errorf("%s grants %v, want %v", f.Check, names, tt.wantGrants[f.Check])
				}
				if f.Check == NodeClient && !slices.Equal(f.Pools, tt.wantPools) {
					t.Errorf("pools %v, want %v", f.Pools, tt.wantPools)
				}
			}
			if !slices.Equal(checks, tt.wantChecks) {
				t.Errorf("findings %v, want %v", checks, tt.wantChecks)
			}
			if _, fatal := r.Fatal(); fatal != tt.wantFatal {
				t.Errorf("fatal %v, want %v", fatal, tt.wantFatal)
			}
			var msgs []string
			for _, f := range r.Findings {
				msgs = append(msgs, f.Message)
			}
			for _, w := range tt.wantInMsg {
				if !strings.Contains(strings.Join(msgs, "\n"), w) {
					t.Errorf("messages %q lack %q", msgs, w)
				}
			}
		})
	}
}

func TestMessageNamesAtMostFive(t *testing.T) {
	var bindings []rbacv1.ClusterRoleBinding
	for i := range 8 {
		bindings = append(bindings, binding(fmt.Sprintf("b%d", i), nodeclientRole, group("system:bootstrappers")))
	}
	r := Evaluate([]Answer{{Probe: Probes(nil)[0], Allowed: true}}, bindings, roles)
	f, ok := r.Fatal()
	if !ok || len(f.Grants) != 8 {
		t.Fatalf("report %+v: want a fatal finding with 8 grants", r)
	}
	if !strings.Contains(f.Message, "b4 ") || strings.Contains(f.Message, "b5 ") || !strings.HasSuffix(f.Message, "and 3 more") {
		t.Errorf("message %q: want five bindings named and 3 more", f.Message)
	}
}
