package pool

import (
	"context"
	"errors"
	"fmt"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"

	"github.com/kelp-dev/kelp/internal/bootstrap"
	"github.com/kelp-dev/kelp/internal/userdata"
)

// UserData is the pluggable step that makes the user-data a new pool's
// instances boot with: a token join ([TokenJoin]), an identity join with
// no secret ([IdentityJoinUserData]) or user-data given as is
// ([StaticUserData]).
type UserData interface {
	UserData(ctx context.Context, spec Spec) ([]byte, error)
}

// StaticUserData is user-data given as is (kelp pool create
// --user-data-file).
type StaticUserData []byte

// UserData returns s.
func (s StaticUserData) UserData(context.Context, Spec) ([]byte, error) { return s, nil }

// TokenIssuer issues bootstrap tokens bound to a pool.
type TokenIssuer interface {
	IssueToken(ctx context.Context, spec bootstrap.TokenSpec) (bootstrap.Token, error)
}

// KubeTokens issues tokens as bootstrap token Secrets through Client.
type KubeTokens struct {
	Client kubernetes.Interface
	// Clock stamps the tokens; default the real clock.
	Clock clock.PassiveClock
}

// IssueToken creates a token.
func (k KubeTokens) IssueToken(ctx context.Context, spec bootstrap.TokenSpec) (bootstrap.Token, error) {
	var c clock.PassiveClock = clock.RealClock{}
	if k.Clock != nil {
		c = k.Clock
	}
	return bootstrap.CreateToken(ctx, k.Client, spec, c.Now())
}

// TokenJoin renders user-data that joins with a fresh bootstrap token
// bound to the pool: a bootstrap kubeconfig for Server and CA, and the
// pool's labels and taints over Template.
type TokenJoin struct {
	Tokens TokenIssuer
	// TTL of the token; the controller rotates it before expiry.
	TTL time.Duration
	// Description is stored with the token; default names the pool.
	Description string
	// Server and CA are the API server nodes join.
	Server string
	CA     []byte
	// Template carries the profile, cluster name, registry credentials and
	// the profile's own fields; Pool, Labels, Taints and the bootstrap
	// kubeconfig are set from the spec and the token.
	Template userdata.Input
}

// placeholderToken validates a kubeconfig before a real token exists.
var placeholderToken = bootstrap.Token{ID: "000000", Secret: "0000000000000000"}

// UserData renders the user-data (gzipped when over EC2's limit).
func (j TokenJoin) UserData(ctx context.Context, spec Spec) ([]byte, error) {
	out, err := j.Render(ctx, spec)
	if err != nil {
		return nil, err
	}
	return out.Data, nil
}

// Validate checks the input spec renders from, with a placeholder token,
// so that bad input is reported before a token exists.
func (j TokenJoin) Validate(spec Spec) error {
	_, err := j.input(spec, placeholderToken)
	return err
}

// input is the user-data input for spec with tok, validated.
func (j TokenJoin) input(spec Spec, tok bootstrap.Token) (userdata.Input, error) {
	if spec.Join.Mode.OrDefault() != JoinModeToken {
		return userdata.Input{}, fmt.Errorf("pool %s joins by %s: its user-data carries no bootstrap token (render it with an identity join)", spec.Name, spec.Join.Mode)
	}
	in := j.Template
	in.Pool, in.Labels, in.Taints = spec.Name, spec.Labels, spec.Taints
	var err error
	if in.BootstrapKubeconfig, err = bootstrap.BootstrapKubeconfig(j.Server, j.CA, tok); err != nil {
		return userdata.Input{}, err
	}
	if err := in.Validate(); err != nil {
		return userdata.Input{}, fmt.Errorf("invalid user-data input: %w", err)
	}
	return in, nil
}

// Render validates everything with a placeholder token first, so that bad
// input never leaves a new token behind, then issues the token and renders.
func (j TokenJoin) Render(ctx context.Context, spec Spec) (userdata.Rendered, error) {
	if err := j.Validate(spec); err != nil {
		return userdata.Rendered{}, err
	}
	if j.Tokens == nil {
		return userdata.Rendered{}, errors.New("render user-data: no token issuer")
	}
	tok, err := j.Tokens.IssueToken(ctx, bootstrap.TokenSpec{Pool: spec.Name, TTL: j.TTL, Description: j.Description})
	if err != nil {
		return userdata.Rendered{}, err
	}
	in, err := j.input(spec, tok)
	if err != nil {
		return userdata.Rendered{}, err
	}
	return userdata.Render(in)
}

// IdentityJoinUserData renders the user-data of an identity-mode pool: no
// secret, only where kelp's join endpoint and the API server are and the
// CAs to trust them (userdata.IdentityJoin), with the pool's labels and
// taints over Template. Nothing is issued: the instance proves who it is
// with its instance role and kelp's join endpoint answers with a token
// bound to it. The spec must be in JoinModeIdentity, with an instance
// profile.
type IdentityJoinUserData struct {
	// Join is where the instance joins and what it trusts.
	Join userdata.IdentityJoin
	// Template carries the profile (kubeadm or local) and the cluster
	// name; Pool, Labels, Taints and Identity are set from the spec and
	// Join. Registry credentials are refused (they are a secret).
	Template userdata.Input
}

var _ UserData = IdentityJoinUserData{}

// Validate checks the spec and the input, so that bad input is reported
// before any cloud call.
func (j IdentityJoinUserData) Validate(spec Spec) error {
	_, err := j.input(spec)
	return err
}

func (j IdentityJoinUserData) input(spec Spec) (userdata.Input, error) {
	var errs []error
	if spec.Join.Mode != JoinModeIdentity {
		errs = append(errs, fmt.Errorf("pool %s: join mode is %s, not identity: identity user-data would leave it without a way to join", spec.Name, spec.Join.Mode.OrDefault()))
	}
	if spec.InstanceProfile == "" {
		errs = append(errs, fmt.Errorf("pool %s: the identity join needs an instance profile: the instance proves who it is with its role", spec.Name))
	}
	in := j.Template
	join := j.Join
	in.Pool, in.Labels, in.Taints, in.Identity = spec.Name, spec.Labels, spec.Taints, &join
	if err := in.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("invalid user-data input: %w", err))
	}
	if err := errors.Join(errs...); err != nil {
		return userdata.Input{}, err
	}
	return in, nil
}

// Render renders the identity-mode document.
func (j IdentityJoinUserData) Render(_ context.Context, spec Spec) (userdata.Rendered, error) {
	in, err := j.input(spec)
	if err != nil {
		return userdata.Rendered{}, err
	}
	return userdata.Render(in)
}

// UserData renders the user-data (gzipped when over EC2's limit).
func (j IdentityJoinUserData) UserData(ctx context.Context, spec Spec) ([]byte, error) {
	out, err := j.Render(ctx, spec)
	if err != nil {
		return nil, err
	}
	return out.Data, nil
}
