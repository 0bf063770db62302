package join

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"

	"github.com/kelp-dev/kelp/internal/bootstrap"
	"github.com/kelp-dev/kelp/internal/cloud"
)

// DefaultTokenTTL is the lifetime of a token handed to a joining
// instance: long enough for its kubelet to start and send its CSR.
const DefaultTokenTTL = 15 * time.Minute

// Cloud is what the join endpoint reads from the cloud: one instance and
// the managed groups. A cloud.Provider is one.
type Cloud interface {
	InstanceByID(ctx context.Context, id string) (cloud.Instance, error)
	Invalidate(instanceID string)
	cloud.GroupLister
}

// Profiles tells the roles of an instance's instance profile.
type Profiles interface {
	InstanceProfileRoles(ctx context.Context, instanceID string) ([]string, error)
}

// History tells whether an instance joined before by another path than
// an identity join: "" when it did not, else why.
type History interface {
	Joined(ctx context.Context, instanceID, nodeName string) (string, error)
}

// Caller asks STS who signed a checked proof; [STS] is one.
type Caller interface {
	CallerIdentity(ctx context.Context, header http.Header) (string, error)
}

// Config is the join endpoint's configuration.
type Config struct {
	Policy Policy
	// NonceKey is shared by every replica (a Secret).
	NonceKey []byte
	// NonceTTL is a nonce's lifetime; DefaultNonceTTL when zero.
	NonceTTL time.Duration
	// TokenTTL is the lifetime of the token handed out; DefaultTokenTTL
	// when zero.
	TokenTTL time.Duration
	// JoinWindow is how recently an instance must have been launched;
	// DefaultJoinWindow when zero.
	JoinWindow time.Duration
}

// Deps are the join endpoint's edges.
type Deps struct {
	Kube     kubernetes.Interface
	Cloud    Cloud
	Profiles Profiles
	History  History
	STS      Caller
	Clock    clock.PassiveClock
	Logger   *slog.Logger
	Metrics  *Metrics
}

// Server decides joins: it hands out nonces and turns proofs into tokens
// bound to one instance. It is safe for concurrent use; every replica may
// run one with the same Config.
type Server struct {
	cfg    Config
	deps   Deps
	nonces Nonces
	claims claims
}

// NewServer validates cfg and returns a Server.
func NewServer(cfg Config, deps Deps) (*Server, error) {
	var errs []error
	if err := cfg.Policy.Validate(); err != nil {
		errs = append(errs, err)
	}
	if len(cfg.NonceKey) < MinNonceKeyBytes {
		errs = append(errs, fmt.Errorf("nonce key: %d bytes, want at least %d", len(cfg.NonceKey), MinNonceKeyBytes))
	}
	if deps.Kube == nil || deps.Cloud == nil || deps.Profiles == nil || deps.History == nil || deps.STS == nil {
		errs = append(errs, errors.New("deps: Kube, Cloud, Profiles, History and STS are required"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("join server: %w", err)
	}
	if cfg.TokenTTL == 0 {
		cfg.TokenTTL = DefaultTokenTTL
	}
	if deps.Clock == nil {
		deps.Clock = clock.RealClock{}
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.Metrics == nil {
		deps.Metrics = NewMetrics(nil)
	}
	return &Server{cfg: cfg, deps: deps, nonces: Nonces{Key: cfg.NonceKey, TTL: cfg.NonceTTL}, claims: claims{deps.Kube}}, nil
}

// Nonce hands out a nonce.
func (s *Server) Nonce() (NonceBody, error) {
	now := s.deps.Clock.Now()
	n, err := s.nonces.Issue(now)
	if err != nil {
		return NonceBody{}, err
	}
	_, exp, err := s.nonces.Check(n, now)
	if err != nil {
		return NonceBody{}, fmt.Errorf("check issued nonce: %w", err)
	}
	s.deps.Metrics.Nonces.Inc()
	return NonceBody{Nonce: n, Expires: exp}, nil
}

// Join decides one proof and, when it is accepted, creates the token
// bound to its instance. Every outcome is logged and counted; a refusal
// is a *Refusal.
func (s *Server) Join(ctx context.Context, p Proof) (Answer, error) {
	ans, id, err := s.join(ctx, p)
	result, reason := "accepted", ReasonOf(err)
	if err != nil {
		result = "refused"
		if reason == "" {
			reason = ReasonUnavailable
		}
		s.deps.Logger.Warn("identity join refused", "reason", reason, "arn", id.ARN, "instance", id.InstanceID, "err", err)
	} else {
		s.deps.Logger.Info("identity join accepted", "arn", id.ARN, "instance", ans.InstanceID, "node", ans.NodeName,
			"token", ans.Token[:6], "expires", ans.Expires)
	}
	s.deps.Metrics.Decisions.WithLabelValues(result, string(reason)).Inc()
	return ans, err
}

func (s *Server) join(ctx context.Context, p Proof) (Answer, Identity, error) {
	now := s.deps.Clock.Now()
	checked, err := CheckProof(p, s.cfg.Policy, s.nonces, now)
	if err != nil {
		return Answer{}, Identity{}, err
	}
	arn, err := s.deps.STS.CallerIdentity(ctx, checked.Header)
	if err != nil {
		return Answer{}, Identity{}, err
	}
	id, err := CheckIdentity(arn, s.cfg.Policy)
	if err != nil {
		return Answer{}, Identity{ARN: arn}, err
	}
	facts, err := s.gather(ctx, id, checked.Request)
	if err != nil {
		return Answer{}, id, err
	}
	d, err := Decide(facts)
	if err != nil {
		return Answer{}, id, err
	}
	ans, err := s.grant(ctx, d, id, checked)
	return ans, id, err
}

// grant claims the instance and the nonce, then creates the token.
func (s *Server) grant(ctx context.Context, d Decision, id Identity, c Checked) (Answer, error) {
	now := s.deps.Clock.Now()
	claim, err := s.claims.claimInstance(ctx, d, id, c, now)
	if err != nil {
		return Answer{}, err
	}
	if err := s.claims.claimNonce(ctx, c.NonceID, c.NonceExpires, d.InstanceID); err != nil {
		return Answer{}, errors.Join(err, s.claims.release(ctx, claim))
	}
	tok, err := bootstrap.CreateToken(ctx, s.deps.Kube, bootstrap.TokenSpec{
		Instance: d.InstanceID, TTL: s.cfg.TokenTTL,
		Description: fmt.Sprintf("identity join of instance %s (pool %s) as node %s", d.InstanceID, d.Pool, d.NodeName),
	}, now)
	if err != nil {
		return Answer{}, errors.Join(unavailable(err, "create token for instance %s", d.InstanceID), s.claims.release(ctx, claim))
	}
	return Answer{Token: tok.String(), Expires: tok.Expires, InstanceID: d.InstanceID, NodeName: d.NodeName}, nil
}

// gather resolves the cloud's and the cluster's facts of id.
func (s *Server) gather(ctx context.Context, id Identity, req Request) (Facts, error) {
	f := Facts{Identity: id, Request: req, Now: s.deps.Clock.Now(), JoinWindow: s.cfg.JoinWindow}
	s.deps.Cloud.Invalidate(id.InstanceID)
	inst, err := s.deps.Cloud.InstanceByID(ctx, id.InstanceID)
	switch {
	case errors.Is(err, cloud.ErrNotFound):
		return f, nil // Decide refuses: not in a managed pool
	case err != nil:
		return f, unavailable(err, "find instance %s", id.InstanceID)
	}
	f.Instance = &inst
	if f.ProfileRoles, err = s.deps.Profiles.InstanceProfileRoles(ctx, id.InstanceID); err != nil {
		return f, unavailable(err, "read the instance profile of %s", id.InstanceID)
	}
	if f.ManagedGroups, err = s.managedGroups(ctx, inst.GroupName); err != nil {
		return f, unavailable(err, "list managed groups")
	}
	if f.Joined, err = s.deps.History.Joined(ctx, id.InstanceID, req.NodeName); err != nil {
		return f, unavailable(err, "read whether instance %s joined", id.InstanceID)
	}
	return f, nil
}

// managedGroups returns the managed groups by name with their pool,
// refreshing once when group is not among them (a pool created since the
// last refresh), as the approver does.
func (s *Server) managedGroups(ctx context.Context, group string) (map[string]string, error) {
	list := func() (map[string]string, error) {
		gs, err := s.deps.Cloud.NodeGroups(ctx)
		if err != nil {
			return nil, fmt.Errorf("list node groups: %w", err)
		}
		out := make(map[string]string, len(gs))
		for _, g := range gs {
			out[g.ID] = g.Pool
		}
		return out, nil
	}
	groups, err := list()
	if _, ok := groups[group]; err != nil || ok || group == "" {
		return groups, err
	}
	if err := s.deps.Cloud.Refresh(ctx); err != nil {
		return nil, fmt.Errorf("refresh node groups: %w", err)
	}
	return list()
}
