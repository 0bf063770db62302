package join

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Claims: one ConfigMap per nonce and one per instance in kube-system,
// created atomically; the API server's AlreadyExists is the replay check,
// whichever replica answers.
const (
	ClaimNamespace = metav1.NamespaceSystem
	// ClaimLabel is set on every claim, to "nonce" or "instance".
	ClaimLabel = "kelp.dev/join-claim"
	// claim data keys
	claimNonce    = "nonce"
	claimNode     = "nodeName"
	claimIdentity = "arn"
	claimExpires  = "expires"
)

// InstanceClaimName is the name of the claim of an identity join of
// instanceID.
func InstanceClaimName(instanceID string) string { return "kelp-join-" + instanceID }

// NonceClaimName is the name of the claim of a used nonce.
func NonceClaimName(nonceID string) string { return "kelp-join-nonce-" + nonceID }

type claims struct {
	client kubernetes.Interface
}

// claimInstance creates the instance's claim. When it exists, the join is
// refused: ReasonReplayed when it holds the same nonce, else
// ReasonAlreadyJoined.
func (c claims) claimInstance(ctx context.Context, d Decision, id Identity, nonceID string, now time.Time) (*corev1.ConfigMap, error) {
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: InstanceClaimName(d.InstanceID), Namespace: ClaimNamespace,
			Labels: map[string]string{ClaimLabel: "instance"}},
		Data: map[string]string{claimNonce: nonceID, claimNode: d.NodeName, claimIdentity: id.ARN, "at": now.UTC().Format(time.RFC3339)},
	}
	cms := c.client.CoreV1().ConfigMaps(ClaimNamespace)
	created, err := cms.Create(ctx, cm, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		old, gerr := cms.Get(ctx, cm.Name, metav1.GetOptions{})
		if gerr == nil && old.Data[claimNonce] == nonceID {
			return nil, refuse(ReasonReplayed, "instance %s: this proof (nonce %s) was accepted at %s", d.InstanceID, nonceID, old.Data["at"])
		}
		return nil, refuse(ReasonAlreadyJoined, "instance %s joined by identity before (claim %s/%s)", d.InstanceID, ClaimNamespace, cm.Name)
	}
	if err != nil {
		return nil, unavailable(err, "create claim %s/%s", ClaimNamespace, cm.Name)
	}
	return created, nil
}

// claimNonce creates the nonce's claim; ReasonNonceReused when it exists.
func (c claims) claimNonce(ctx context.Context, nonceID string, expires time.Time, instanceID string) error {
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: NonceClaimName(nonceID), Namespace: ClaimNamespace,
			Labels: map[string]string{ClaimLabel: "nonce"}},
		Data: map[string]string{claimExpires: expires.UTC().Format(time.RFC3339), "instance": instanceID},
	}
	_, err := c.client.CoreV1().ConfigMaps(ClaimNamespace).Create(ctx, cm, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return refuse(ReasonNonceReused, "nonce %s was used by another join", nonceID)
	}
	if err != nil {
		return unavailable(err, "create claim %s/%s", ClaimNamespace, cm.Name)
	}
	return nil
}

// release deletes a claim kelp made and could not complete, so the
// instance may try again; only that object (its UID) is deleted.
func (c claims) release(ctx context.Context, cm *corev1.ConfigMap) error {
	err := c.client.CoreV1().ConfigMaps(ClaimNamespace).Delete(ctx, cm.Name, metav1.DeleteOptions{
		Preconditions: &metav1.Preconditions{UID: &cm.UID},
	})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("release claim %s/%s: %w", ClaimNamespace, cm.Name, err)
	}
	return nil
}
