package bootstrap

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"
	bootstrapapi "k8s.io/cluster-bootstrap/token/api"
	bootstraputil "k8s.io/cluster-bootstrap/token/util"
)

// ErrTokenNotFound is wrapped by DeleteToken when no token Secret has the id.
var ErrTokenNotFound = errors.New("bootstrap token not found")

// createAttempts bounds retries when a generated token id collides with an
// existing Secret (36^6 ids, so a retry is already rare).
const createAttempts = 3

// CreateToken generates a token for spec and stores it in kube-system. now
// is the creation time the expiration is counted from.
func CreateToken(ctx context.Context, client kubernetes.Interface, spec TokenSpec, now time.Time) (Token, error) {
	for range createAttempts {
		secret, tok, err := NewTokenSecret(spec, now)
		if err != nil {
			return Token{}, err
		}
		created, err := client.CoreV1().Secrets(TokenNamespace).Create(ctx, secret, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			continue
		}
		if err != nil {
			return Token{}, fmt.Errorf("create bootstrap token secret %s/%s: %w", TokenNamespace, secret.Name, err)
		}
		if !created.CreationTimestamp.IsZero() {
			tok.Created = created.CreationTimestamp.Time
		}
		return tok, nil
	}
	return Token{}, fmt.Errorf("create bootstrap token for pool %s: generated ids collided %d times", spec.Pool, createAttempts)
}

// ListTokens returns the kelp bootstrap tokens (those carrying GroupPrefix),
// expired ones included, sorted by creation time then id. Bootstrap tokens
// of other tools are skipped; a malformed kelp token is an error naming its
// Secret, so it can be deleted with DeleteToken.
func ListTokens(ctx context.Context, client kubernetes.Interface) ([]Token, error) {
	tokens, malformed, err := ListTokensLenient(ctx, client)
	if err != nil {
		return nil, err
	}
	if err := errors.Join(malformed...); err != nil {
		return nil, fmt.Errorf("list bootstrap tokens: %w", err)
	}
	return tokens, nil
}

// ListTokensLenient is ListTokens for controllers: the well-formed kelp
// tokens, plus one error per malformed kelp token, so one bad Secret does
// not stop the work on the others. err is set only when listing failed.
func ListTokensLenient(ctx context.Context, client kubernetes.Interface) (tokens []Token, malformed []error, err error) {
	list, err := client.CoreV1().Secrets(TokenNamespace).List(ctx, metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("type", string(bootstrapapi.SecretTypeBootstrapToken)).String(),
	})
	if err != nil {
		return nil, nil, fmt.Errorf("list bootstrap token secrets in %s: %w", TokenNamespace, err)
	}
	for i := range list.Items {
		tok, err := TokenFromSecret(&list.Items[i])
		switch {
		case errors.Is(err, ErrNotKelpToken):
			continue
		case err != nil:
			malformed = append(malformed, err)
		default:
			tokens = append(tokens, tok)
		}
	}
	slices.SortFunc(tokens, func(a, b Token) int {
		return cmp.Or(a.Created.Compare(b.Created), cmp.Compare(a.ID, b.ID))
	})
	return tokens, malformed, nil
}

// DeleteToken deletes the kelp bootstrap token with the given id. It rejects
// a malformed id, wraps ErrTokenNotFound when there is no such token, and
// refuses to delete a bootstrap token that is not kelp's (ErrNotKelpToken).
// A malformed kelp token can be deleted.
func DeleteToken(ctx context.Context, client kubernetes.Interface, id string) error {
	if !bootstraputil.IsValidBootstrapTokenID(id) {
		return fmt.Errorf("delete bootstrap token %q: id must match %s", id, bootstrapapi.BootstrapTokenIDPattern)
	}
	name := bootstraputil.BootstrapTokenSecretName(id)
	secrets := client.CoreV1().Secrets(TokenNamespace)
	secret, err := secrets.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("delete bootstrap token %s: %w", id, ErrTokenNotFound)
	}
	if err != nil {
		return fmt.Errorf("delete bootstrap token %s: get secret %s/%s: %w", id, TokenNamespace, name, err)
	}
	if err := checkKelpOwned(secret); err != nil {
		return fmt.Errorf("delete bootstrap token %s: %w", id, err)
	}
	err = secrets.Delete(ctx, name, metav1.DeleteOptions{
		Preconditions: &metav1.Preconditions{UID: &secret.UID, ResourceVersion: &secret.ResourceVersion},
	})
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("delete bootstrap token %s: %w", id, ErrTokenNotFound)
	}
	if err != nil {
		return fmt.Errorf("delete bootstrap token %s: delete secret %s/%s: %w", id, TokenNamespace, name, err)
	}
	return nil
}

// checkKelpOwned returns an error wrapping ErrNotKelpToken unless secret is
// a bootstrap token carrying GroupPrefix, well-formed or not.
func checkKelpOwned(secret *corev1.Secret) error {
	_, err := TokenFromSecret(secret)
	if errors.Is(err, ErrNotKelpToken) {
		return err
	}
	return nil
}

// ExpireTokenBy brings the token's expiration forward to at (never later
// than it is): kube-controller-manager's tokencleaner then deletes it. Used
// when a pool's token is rotated, so instances launched just before the
// rotation can still join with the old one for a while.
func ExpireTokenBy(ctx context.Context, client kubernetes.Interface, id string, at time.Time) error {
	if !bootstraputil.IsValidBootstrapTokenID(id) {
		return fmt.Errorf("expire bootstrap token %q: malformed id", id)
	}
	secrets := client.CoreV1().Secrets(TokenNamespace)
	name := bootstraputil.BootstrapTokenSecretName(id)
	secret, err := secrets.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("expire bootstrap token %s: %w", id, ErrTokenNotFound)
	}
	if err != nil {
		return fmt.Errorf("expire bootstrap token %s: %w", id, err)
	}
	tok, err := TokenFromSecret(secret)
	if err != nil {
		return fmt.Errorf("expire bootstrap token %s: %w", id, err)
	}
	if !tok.Expires.After(at) {
		return nil
	}
	secret = secret.DeepCopy()
	secret.Data[bootstrapapi.BootstrapTokenExpirationKey] = []byte(at.UTC().Truncate(time.Second).Format(time.RFC3339))
	if _, err := secrets.Update(ctx, secret, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("expire bootstrap token %s: %w", id, err)
	}
	return nil
}
