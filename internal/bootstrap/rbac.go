package bootstrap

import (
	"context"
	"fmt"
	"maps"
	"reflect"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
)

const (
	// JoinBindingName is the ClusterRoleBinding created by EnsureJoinRBAC.
	JoinBindingName = "kelp:node-bootstrapper"
	// NodeBootstrapperRole is the built-in ClusterRole allowing creation of
	// node client certificate signing requests.
	NodeBootstrapperRole = "system:node-bootstrapper"
	// ManagedByLabel marks objects kelp creates.
	ManagedByLabel = "app.kubernetes.io/managed-by"
	managedByValue = "kelp"
)

// JoinRBAC returns the binding that lets kelp bootstrap tokens (group
// GroupPrefix, nothing else) create CSRs through system:node-bootstrapper.
// It deliberately grants no auto-approval: approval is the approver's job.
func JoinRBAC() *rbacv1.ClusterRoleBinding {
	return &rbacv1.ClusterRoleBinding{
		TypeMeta: metav1.TypeMeta{APIVersion: rbacv1.SchemeGroupVersion.String(), Kind: "ClusterRoleBinding"},
		ObjectMeta: metav1.ObjectMeta{
			Name:   JoinBindingName,
			Labels: map[string]string{ManagedByLabel: managedByValue},
		},
		RoleRef: rbacv1.RoleRef{
			APIGroup: rbacv1.GroupName,
			Kind:     "ClusterRole",
			Name:     NodeBootstrapperRole,
		},
		Subjects: []rbacv1.Subject{{
			APIGroup: rbacv1.GroupName,
			Kind:     rbacv1.GroupKind,
			Name:     GroupPrefix,
		}},
	}
}

// EnsureJoinRBAC creates the JoinRBAC binding or brings an existing one back
// to it. Extra labels on an existing binding are kept; subjects are reset.
// Because roleRef is immutable, a binding with another roleRef is deleted
// and recreated. It makes no write when nothing differs.
func EnsureJoinRBAC(ctx context.Context, client kubernetes.Interface) error {
	want := JoinRBAC()
	bindings := client.RbacV1().ClusterRoleBindings()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := bindings.Get(ctx, want.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			_, err = bindings.Create(ctx, want, metav1.CreateOptions{})
			if apierrors.IsAlreadyExists(err) {
				return apierrors.NewConflict(rbacv1.Resource("clusterrolebindings"), want.Name, err)
			}
			return err
		}
		if err != nil {
			return err
		}
		if cur.RoleRef != want.RoleRef {
			return recreateBinding(ctx, client, cur, want)
		}
		next := cur.DeepCopy()
		next.Subjects = want.Subjects
		if next.Labels == nil {
			next.Labels = map[string]string{}
		}
		maps.Copy(next.Labels, want.Labels)
		if reflect.DeepEqual(next.Subjects, cur.Subjects) && maps.Equal(next.Labels, cur.Labels) {
			return nil
		}
		_, err = bindings.Update(ctx, next, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("ensure clusterrolebinding %s: %w", want.Name, err)
	}
	return nil
}

// recreateBinding replaces cur (whose immutable roleRef is wrong) by want.
// A conflict is returned when cur changed or another writer recreated it, so
// the caller retries from a fresh read.
func recreateBinding(ctx context.Context, client kubernetes.Interface, cur, want *rbacv1.ClusterRoleBinding) error {
	bindings := client.RbacV1().ClusterRoleBindings()
	err := bindings.Delete(ctx, cur.Name, metav1.DeleteOptions{
		Preconditions: &metav1.Preconditions{UID: &cur.UID, ResourceVersion: &cur.ResourceVersion},
	})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete binding with roleRef %s/%s: %w", cur.RoleRef.Kind, cur.RoleRef.Name, err)
	}
	_, err = bindings.Create(ctx, want, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return apierrors.NewConflict(rbacv1.Resource("clusterrolebindings"), want.Name, err)
	}
	return err
}
