package bootstrap

import (
	"context"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func TestJoinRBAC(t *testing.T) {
	b := JoinRBAC()
	if b.Name != "kelp:node-bootstrapper" {
		t.Errorf("name = %q", b.Name)
	}
	wantRef := rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "system:node-bootstrapper"}
	if b.RoleRef != wantRef {
		t.Errorf("roleRef = %+v, want %+v", b.RoleRef, wantRef)
	}
	wantSubj := []rbacv1.Subject{{APIGroup: "rbac.authorization.k8s.io", Kind: "Group", Name: "system:bootstrappers:kelp"}}
	if !equality.Semantic.DeepEqual(b.Subjects, wantSubj) {
		t.Errorf("subjects = %+v, want only %+v", b.Subjects, wantSubj)
	}
}

func TestEnsureJoinRBAC(t *testing.T) {
	drifted := JoinRBAC()
	drifted.Subjects = append(drifted.Subjects, rbacv1.Subject{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: "system:bootstrappers"})
	drifted.Labels = map[string]string{"team": "infra"}
	wrongRole := JoinRBAC()
	wrongRole.RoleRef.Name = "cluster-admin"

	tests := []struct {
		name       string
		existing   *rbacv1.ClusterRoleBinding
		wantLabels map[string]string
	}{
		{"absent", nil, map[string]string{ManagedByLabel: "kelp"}},
		{"already correct", JoinRBAC(), map[string]string{ManagedByLabel: "kelp"}},
		{"extra subject", drifted, map[string]string{ManagedByLabel: "kelp", "team": "infra"}},
		{"wrong roleRef", wrongRole, map[string]string{ManagedByLabel: "kelp"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := fake.NewClientset()
			if tt.existing != nil {
				client = fake.NewClientset(tt.existing)
			}
			ctx := context.Background()
			for range 2 { // idempotent
				if err := EnsureJoinRBAC(ctx, client); err != nil {
					t.Fatalf("EnsureJoinRBAC: %v", err)
				}
			}
			got, err := client.RbacV1().ClusterRoleBindings().Get(ctx, JoinBindingName, metav1.GetOptions{})
			if err != nil {
				t.Fatalf("get binding: %v", err)
			}
			want := JoinRBAC()
			if got.RoleRef != want.RoleRef || !equality.Semantic.DeepEqual(got.Subjects, want.Subjects) {
				t.Errorf("binding = %+v / %+v, want %+v / %+v", got.RoleRef, got.Subjects, want.RoleRef, want.Subjects)
			}
			if !equality.Semantic.DeepEqual(got.Labels, tt.wantLabels) {
				t.Errorf("labels = %v, want %v", got.Labels, tt.wantLabels)
			}
		})
	}
}

func TestEnsureJoinRBACSkipsNoopWrites(t *testing.T) {
	client := fake.NewClientset(JoinRBAC())
	if err := EnsureJoinRBAC(context.Background(), client); err != nil {
		t.Fatalf("EnsureJoinRBAC: %v", err)
	}
	for _, a := range client.Actions() {
		if a.GetVerb() != "get" {
			t.Errorf("unexpected %s on an up-to-date binding", a.GetVerb())
		}
	}
}
