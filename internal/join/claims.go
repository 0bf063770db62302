package join

import (
	"context"
	"fmt"
	"strings"
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
	claimPool     = "pool"
	claimAt       = "at"
	// ClaimEventAnnotation is set on an instance claim once the join was
	// recorded as an Event on its Node.
	ClaimEventAnnotation = "kelp.dev/join-event-recorded"
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
		Data: map[string]string{claimNonce: nonceID, claimNode: d.NodeName, claimIdentity: id.ARN, claimPool: d.Pool, claimAt: now.UTC().Format(time.RFC3339)},
	}
	cms := c.client.CoreV1().ConfigMaps(ClaimNamespace)
	created, err := cms.Create(ctx, cm, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		old, gerr := cms.Get(ctx, cm.Name, metav1.GetOptions{})
		if gerr == nil && old.Data[claimNonce] == nonceID {
			return nil, refuse(ReasonReplayed, "instance %s: this proof (nonce %s) was accepted at %s", d.InstanceID, nonceID, old.Data[claimAt])
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

// Claim is what a claim ConfigMap records.
type Claim struct {
	// Name is the ConfigMap's; Kind "instance" or "nonce".
	Name, Kind string
	// InstanceID is the instance that joined (or used the nonce).
	InstanceID string
	// NodeName, ARN, Pool and At are those of an instance claim: the
	// node name granted, the identity STS vouched for, the instance's
	// pool and when it was accepted.
	NodeName, ARN, Pool string
	At                  time.Time
	// Expires is a nonce claim's nonce expiry.
	Expires time.Time
	// EventRecorded: the join was recorded on the Node (ClaimEventAnnotation).
	EventRecorded bool
}

// ClaimOf reads a claim ConfigMap; an error names what is wrong.
func ClaimOf(cm *corev1.ConfigMap) (Claim, error) {
	c := Claim{Name: cm.Name, Kind: cm.Labels[ClaimLabel], NodeName: cm.Data[claimNode], ARN: cm.Data[claimIdentity],
		Pool: cm.Data[claimPool], EventRecorded: cm.Annotations[ClaimEventAnnotation] != ""}
	var err error
	switch c.Kind {
	case "instance":
		c.InstanceID = strings.TrimPrefix(cm.Name, InstanceClaimName(""))
		c.At, err = time.Parse(time.RFC3339, cm.Data[claimAt])
	case "nonce":
		c.InstanceID = cm.Data["instance"]
		c.Expires, err = time.Parse(time.RFC3339, cm.Data[claimExpires])
	default:
		err = fmt.Errorf("label %s=%q: want instance or nonce", ClaimLabel, c.Kind)
	}
	if err != nil {
		return Claim{}, fmt.Errorf("join claim %s/%s: %w", cm.Namespace, cm.Name, err)
	}
	return c, nil
}
