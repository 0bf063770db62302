package join

import (
	"context"
	"errors"
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
	// what an instance claim records of the checks that passed
	claimRole         = "role"
	claimProfileRoles = "profileRoles"
	claimGroup        = "group"
	claimLaunched     = "launched"
	claimJoinWindow   = "joinWindow"
	claimSignedAt     = "signedAt"
	claimFreshness    = "freshness"
	claimNonceExpires = "nonceExpires"
	claimSTS          = "stsEndpoint"
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

// InstanceClaim returns the claim an accepted join of d creates at now:
// the node name granted, the identity STS vouched for and the facts each
// check passed on (no secret: the token is created afterwards and is not
// in it). [ClaimOf] reads it back.
func InstanceClaim(d Decision, id Identity, c Checked, now time.Time) *corev1.ConfigMap {
	rfc := func(t time.Time) string { return t.UTC().Format(time.RFC3339) }
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: InstanceClaimName(d.InstanceID), Namespace: ClaimNamespace,
			Labels: map[string]string{ClaimLabel: "instance"}},
		Data: map[string]string{claimNonce: c.NonceID, claimNode: d.NodeName, claimIdentity: id.ARN, claimPool: d.Pool, claimAt: rfc(now),
			claimRole: id.Role, claimProfileRoles: strings.Join(d.ProfileRoles, ","), claimGroup: d.Group,
			claimLaunched: rfc(d.LaunchTime), claimJoinWindow: d.JoinWindow.String(), claimSignedAt: rfc(c.SignedAt),
			claimFreshness: c.Freshness.String(), claimNonceExpires: rfc(c.NonceExpires), claimSTS: c.STSEndpoint},
	}
}

// claimInstance creates the instance's claim. When it exists, the join is
// refused: ReasonReplayed when it holds the same nonce, else
// ReasonAlreadyJoined.
func (c claims) claimInstance(ctx context.Context, d Decision, id Identity, checked Checked, now time.Time) (*corev1.ConfigMap, error) {
	cm := InstanceClaim(d, id, checked, now)
	cms := c.client.CoreV1().ConfigMaps(ClaimNamespace)
	created, err := cms.Create(ctx, cm, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		old, gerr := cms.Get(ctx, cm.Name, metav1.GetOptions{})
		if nonceID := checked.NonceID; gerr == nil && old.Data[claimNonce] == nonceID {
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
	// Checks are the facts an instance claim's checks passed on; zero in
	// a claim made before kelp recorded them.
	Checks ClaimChecks
}

// ClaimChecks are the facts each check of an accepted join passed on.
type ClaimChecks struct {
	// STSEndpoint answered GetCallerIdentity; Role is the session's role.
	STSEndpoint, Role string
	// ProfileRoles are the roles of the instance's instance profile.
	ProfileRoles []string
	// Group is the instance's group (of Claim.Pool).
	Group string
	// LaunchTime was within JoinWindow of Claim.At.
	LaunchTime time.Time
	JoinWindow time.Duration
	// SignedAt (the proof's X-Amz-Date) was within Freshness of Claim.At;
	// NonceID was unexpired (NonceExpires) and used once.
	SignedAt     time.Time
	Freshness    time.Duration
	NonceID      string
	NonceExpires time.Time
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
		if err == nil {
			c.Checks, err = checksOf(cm.Data)
		}
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

// checksOf reads the checks of an instance claim's data; a field that is
// absent is zero (a claim of an older kelp), one that does not parse is
// an error naming it.
func checksOf(data map[string]string) (ClaimChecks, error) {
	ch := ClaimChecks{STSEndpoint: data[claimSTS], Role: data[claimRole], Group: data[claimGroup], NonceID: data[claimNonce]}
	if r := data[claimProfileRoles]; r != "" {
		ch.ProfileRoles = strings.Split(r, ",")
	}
	var errs []error
	for _, f := range []struct {
		key string
		t   *time.Time
	}{{claimLaunched, &ch.LaunchTime}, {claimSignedAt, &ch.SignedAt}, {claimNonceExpires, &ch.NonceExpires}} {
		if v := data[f.key]; v != "" {
			var err error
			if *f.t, err = time.Parse(time.RFC3339, v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", f.key, err))
			}
		}
	}
	for _, f := range []struct {
		key string
		d   *time.Duration
	}{{claimJoinWindow, &ch.JoinWindow}, {claimFreshness, &ch.Freshness}} {
		if v := data[f.key]; v != "" {
			var err error
			if *f.d, err = time.ParseDuration(v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", f.key, err))
			}
		}
	}
	return ch, errors.Join(errs...)
}
