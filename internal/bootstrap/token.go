package bootstrap

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	bootstrapapi "k8s.io/cluster-bootstrap/token/api"
	bootstraputil "k8s.io/cluster-bootstrap/token/util"
	bootstrapsecrets "k8s.io/cluster-bootstrap/util/secrets"
)

// GroupPrefix is the group every kelp bootstrap token carries; it is the only
// group bound to system:node-bootstrapper.
const GroupPrefix = "system:bootstrappers:kelp"

// TokenNamespace is where bootstrap token Secrets live.
const TokenNamespace = metav1.NamespaceSystem

// PoolGroup returns the group that binds a token to pool:
// "system:bootstrappers:kelp:<pool>".
func PoolGroup(pool string) string {
	return GroupPrefix + ":" + pool
}

// InstanceGroupPrefix starts the group that binds a token to one instance
// (an identity join): "system:bootstrappers:kelp:instance:<instance-id>".
// It is distinct from every pool group: a pool name is a DNS-1123 label,
// which holds no colon.
const InstanceGroupPrefix = GroupPrefix + ":instance:"

// instanceIDPattern is an EC2 instance id.
var instanceIDPattern = regexp.MustCompile(`^i-[0-9a-f]{8,17}$`)

// IsInstanceID reports whether id has the form of an EC2 instance id
// (i- and 8 or 17 lower-case hex digits).
func IsInstanceID(id string) bool {
	return instanceIDPattern.MatchString(id)
}

// InstanceGroup returns the group that binds a token to one instance.
func InstanceGroup(instanceID string) string {
	return InstanceGroupPrefix + instanceID
}

// InstanceFromGroups returns the instance named by the single instance
// group in groups. It returns false when there is none, more than one
// distinct one, or the id is not an instance id.
func InstanceFromGroups(groups []string) (string, bool) {
	id := ""
	for _, g := range groups {
		i, ok := strings.CutPrefix(g, InstanceGroupPrefix)
		if !ok {
			continue
		}
		if id != "" && i != id {
			return "", false
		}
		id = i
	}
	return id, IsInstanceID(id)
}

// PoolFromGroups returns the pool named by the single pool group
// (system:bootstrappers:kelp:<pool>) in groups. It returns false when there
// is no pool group, more than one distinct pool group, or the pool is not a
// DNS-1123 label. GroupPrefix itself is not a pool group, nor is an
// instance group ([InstanceGroup]).
func PoolFromGroups(groups []string) (string, bool) {
	pool := ""
	for _, g := range groups {
		p, ok := strings.CutPrefix(g, GroupPrefix+":")
		if !ok || strings.HasPrefix(g, InstanceGroupPrefix) {
			continue
		}
		if pool != "" && p != pool {
			return "", false
		}
		pool = p
	}
	if pool == "" || len(validation.IsDNS1123Label(pool)) > 0 {
		return "", false
	}
	return pool, true
}

// TokenSpec describes a bootstrap token to create.
type TokenSpec struct {
	// Pool is the pool the token is bound to; a DNS-1123 label. Exactly
	// one of Pool and Instance is set.
	Pool string
	// Instance is the instance the token is bound to (an identity join):
	// the token carries [InstanceGroup] instead of a pool group.
	Instance string
	// TTL is how long the token authenticates; must be positive.
	TTL time.Duration
	// Description is free text stored with the token. When empty a default
	// naming the pool is used.
	Description string
}

// Validate returns every problem with s, each naming its field, or nil.
func (s TokenSpec) Validate() error {
	var errs []error
	switch {
	case s.Instance != "" && s.Pool != "":
		errs = append(errs, fmt.Errorf("pool %q and instance %q: set only one", s.Pool, s.Instance))
	case s.Instance != "":
		if !IsInstanceID(s.Instance) {
			errs = append(errs, fmt.Errorf("instance %q: must be an instance id (i- and 8 or 17 hex digits)", s.Instance))
		}
	case s.Pool == "":
		errs = append(errs, errors.New("pool: must not be empty"))
	default:
		if msgs := validation.IsDNS1123Label(s.Pool); len(msgs) > 0 {
			errs = append(errs, fmt.Errorf("pool %q: must be a DNS-1123 label: %s", s.Pool, strings.Join(msgs, "; ")))
		}
	}
	if s.TTL <= 0 {
		errs = append(errs, fmt.Errorf("ttl %s: must be greater than zero", s.TTL))
	}
	return errors.Join(errs...)
}

// Token is a kelp bootstrap token as stored in its Secret.
type Token struct {
	ID     string
	Secret string
	// Pool is the pool of a pool token; Instance the instance of an
	// identity join's token. Exactly one is set.
	Pool        string
	Instance    string
	Expires     time.Time
	Description string
	// Created is the Secret's creation time (the caller's now for a token
	// returned by NewTokenSecret).
	Created time.Time
}

// String returns the bearer token, "<id>.<secret>".
func (t Token) String() string {
	return bootstraputil.TokenFromIDAndSecret(t.ID, t.Secret)
}

// Expired reports whether the token no longer authenticates at now.
func (t Token) Expired(now time.Time) bool {
	return !now.Before(t.Expires)
}

// NewTokenSecret generates a random token for spec and returns the Secret
// storing it in kube-system. The expiration is now+TTL, in UTC, truncated to
// the second (RFC 3339). It does no IO besides reading crypto/rand.
func NewTokenSecret(spec TokenSpec, now time.Time) (*corev1.Secret, Token, error) {
	if err := spec.Validate(); err != nil {
		return nil, Token{}, fmt.Errorf("invalid token spec: %w", err)
	}
	raw, err := bootstraputil.GenerateBootstrapToken()
	if err != nil {
		return nil, Token{}, fmt.Errorf("generate bootstrap token: %w", err)
	}
	id, secret, ok := strings.Cut(raw, ".")
	if !ok || !bootstraputil.IsValidBootstrapToken(raw) {
		return nil, Token{}, errors.New("generate bootstrap token: generated token is malformed")
	}
	desc, group := spec.Description, PoolGroup(spec.Pool)
	if spec.Instance != "" {
		group = InstanceGroup(spec.Instance)
	}
	if desc == "" && spec.Instance != "" {
		desc = fmt.Sprintf("kelp bootstrap token for instance %s", spec.Instance)
	} else if desc == "" {
		desc = fmt.Sprintf("kelp bootstrap token for pool %s", spec.Pool)
	}
	tok := Token{
		ID:          id,
		Secret:      secret,
		Pool:        spec.Pool,
		Instance:    spec.Instance,
		Expires:     now.Add(spec.TTL).UTC().Truncate(time.Second),
		Description: desc,
		Created:     now,
	}
	groups := []string{GroupPrefix, group}
	for _, g := range groups {
		if err := bootstraputil.ValidateBootstrapGroupName(g); err != nil {
			return nil, Token{}, fmt.Errorf("group %q: %w", g, err)
		}
	}
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name:      bootstraputil.BootstrapTokenSecretName(id),
			Namespace: TokenNamespace,
		},
		Type: bootstrapapi.SecretTypeBootstrapToken,
		Data: map[string][]byte{
			bootstrapapi.BootstrapTokenIDKey:               []byte(id),
			bootstrapapi.BootstrapTokenSecretKey:           []byte(secret),
			bootstrapapi.BootstrapTokenUsageAuthentication: []byte("true"),
			bootstrapapi.BootstrapTokenExpirationKey:       []byte(tok.Expires.Format(time.RFC3339)),
			bootstrapapi.BootstrapTokenDescriptionKey:      []byte(desc),
			bootstrapapi.BootstrapTokenExtraGroupsKey:      []byte(strings.Join(groups, ",")),
		},
	}
	return s, tok, nil
}

// ErrNotKelpToken is wrapped by TokenFromSecret when a Secret is not a
// bootstrap token carrying GroupPrefix (for example a kubeadm token).
var ErrNotKelpToken = errors.New("not a kelp bootstrap token")

// TokenFromSecret parses a kelp bootstrap token Secret. It wraps
// ErrNotKelpToken when s is not a bootstrap token or lacks GroupPrefix, and
// returns a plain error naming the Secret when a kelp token is malformed.
func TokenFromSecret(s *corev1.Secret) (Token, error) {
	if s == nil {
		return Token{}, errors.New("parse bootstrap token: nil secret")
	}
	ref := s.Namespace + "/" + s.Name
	if s.Type != bootstrapapi.SecretTypeBootstrapToken {
		return Token{}, fmt.Errorf("secret %s has type %q: %w", ref, s.Type, ErrNotKelpToken)
	}
	if !hasGroup(bootstrapsecrets.GetData(s, bootstrapapi.BootstrapTokenExtraGroupsKey), GroupPrefix) {
		return Token{}, fmt.Errorf("secret %s lacks group %s: %w", ref, GroupPrefix, ErrNotKelpToken)
	}
	tok, err := parseKelpSecret(s)
	if err != nil {
		return Token{}, fmt.Errorf("parse bootstrap token secret %s: %w", ref, err)
	}
	return tok, nil
}

// parseKelpSecret checks every field of a Secret known to carry GroupPrefix.
func parseKelpSecret(s *corev1.Secret) (Token, error) {
	get := func(k string) string { return bootstrapsecrets.GetData(s, k) }
	id, secret := get(bootstrapapi.BootstrapTokenIDKey), get(bootstrapapi.BootstrapTokenSecretKey)
	var errs []error
	if s.Namespace != TokenNamespace {
		errs = append(errs, fmt.Errorf("namespace %q: must be %s", s.Namespace, TokenNamespace))
	}
	if nameID, ok := bootstrapsecrets.ParseName(s.Name); !ok || nameID != id {
		errs = append(errs, fmt.Errorf("name %q: must be %s", s.Name, bootstraputil.BootstrapTokenSecretName(id)))
	}
	if !bootstraputil.IsValidBootstrapToken(bootstraputil.TokenFromIDAndSecret(id, secret)) {
		errs = append(errs, fmt.Errorf("%s/%s: must match %s", bootstrapapi.BootstrapTokenIDKey,
			bootstrapapi.BootstrapTokenSecretKey, bootstrapapi.BootstrapTokenPattern))
	}
	if v := get(bootstrapapi.BootstrapTokenUsageAuthentication); v != "true" {
		errs = append(errs, fmt.Errorf("%s %q: must be \"true\"", bootstrapapi.BootstrapTokenUsageAuthentication, v))
	}
	exp, err := time.Parse(time.RFC3339, get(bootstrapapi.BootstrapTokenExpirationKey))
	if err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", bootstrapapi.BootstrapTokenExpirationKey, err))
	}
	groups, err := bootstrapsecrets.GetGroups(s)
	if err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", bootstrapapi.BootstrapTokenExtraGroupsKey, err))
	}
	pool, isPool := PoolFromGroups(groups)
	instance, isInstance := InstanceFromGroups(groups)
	if err == nil && isPool == isInstance {
		errs = append(errs, fmt.Errorf("%s %q: must contain exactly one group %s or %s", bootstrapapi.BootstrapTokenExtraGroupsKey,
			get(bootstrapapi.BootstrapTokenExtraGroupsKey), PoolGroup("<pool>"), InstanceGroup("<instance-id>")))
	}
	if err := errors.Join(errs...); err != nil {
		return Token{}, err
	}
	return Token{
		ID:          id,
		Secret:      secret,
		Pool:        pool,
		Instance:    instance,
		Expires:     exp,
		Description: get(bootstrapapi.BootstrapTokenDescriptionKey),
		Created:     s.CreationTimestamp.Time,
	}, nil
}

// hasGroup reports whether the comma-separated list contains group.
func hasGroup(list, group string) bool {
	for _, g := range strings.Split(list, ",") {
		if strings.TrimSpace(g) == group {
			return true
		}
	}
	return false
}
