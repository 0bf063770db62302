package joincleanup

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"

	"github.com/kelp-dev/kelp/internal/bootstrap"
	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/join"
)

// EventReasonIdentityJoined is the reason of the Event recorded on a Node
// that joined by identity.
const EventReasonIdentityJoined = "IdentityJoined"

// DefaultPeriod is how often the cleanup runs.
const DefaultPeriod = 15 * time.Second

// Cleaner runs Decide every Period and acts on its plan.
type Cleaner struct {
	Client   kubernetes.Interface
	Nodes    corelisters.NodeLister
	Recorder record.EventRecorder
	Clock    clock.WithTicker
	Logger   *slog.Logger
	// Actions counts what was done, by action (delete-token,
	// delete-claim, event) and reason.
	Actions *prometheus.CounterVec
	Period  time.Duration
	// JoinWindow bounds how long instance claims are kept (twice it).
	JoinWindow time.Duration
}

// NewActions registers the cleanup's counter with reg (none when nil).
func NewActions(reg prometheus.Registerer) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kelp_join_cleanup_total",
		Help: "Identity join cleanup actions by action (delete-token, delete-claim, event) and reason.",
	}, []string{"action", "reason"})
	if reg != nil {
		reg.MustRegister(c)
	}
	return c
}

// Run cleans up every Period until ctx ends.
func (c *Cleaner) Run(ctx context.Context) {
	t := c.Clock.NewTicker(c.Period)
	defer t.Stop()
	for {
		if err := c.Clean(ctx); err != nil && ctx.Err() == nil {
			c.Logger.Warn("identity join cleanup failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
	}
}

// Clean gathers the facts, decides and acts once.
func (c *Cleaner) Clean(ctx context.Context) error {
	f, err := c.gather(ctx)
	if err != nil {
		return err
	}
	p := Decide(f)
	var errs []error
	for _, cl := range p.Events {
		errs = append(errs, c.recordJoin(ctx, cl))
	}
	for _, a := range p.DeleteTokens {
		err := bootstrap.DeleteToken(ctx, c.Client, a.Name)
		if err != nil && !errors.Is(err, bootstrap.ErrTokenNotFound) {
			errs = append(errs, err)
			continue
		}
		c.done("delete-token", a.Reason)
		c.Logger.Info("deleted the bootstrap token of an identity join", "token", a.Name, "instance", a.Instance, "reason", a.Reason)
	}
	for _, a := range p.DeleteClaims {
		err := c.Client.CoreV1().ConfigMaps(join.ClaimNamespace).Delete(ctx, a.Name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("delete join claim %s: %w", a.Name, err))
			continue
		}
		c.done("delete-claim", a.Reason)
	}
	return errors.Join(errs...)
}

func (c *Cleaner) gather(ctx context.Context) (Facts, error) {
	f := Facts{Now: c.Clock.Now(), Nodes: map[string]string{}, ClaimRetention: 2 * c.JoinWindow, NonceGrace: join.DefaultFreshness}
	tokens, malformed, err := bootstrap.ListTokensLenient(ctx, c.Client)
	if err != nil {
		return f, err
	}
	for _, m := range malformed {
		c.Logger.Debug("malformed kelp bootstrap token ignored", "err", m)
	}
	f.Tokens = tokens
	cms, err := c.Client.CoreV1().ConfigMaps(join.ClaimNamespace).List(ctx, metav1.ListOptions{LabelSelector: join.ClaimLabel})
	if err != nil {
		return f, fmt.Errorf("list join claims: %w", err)
	}
	for i := range cms.Items {
		cl, err := join.ClaimOf(&cms.Items[i])
		if err != nil {
			c.Logger.Warn("malformed join claim ignored", "err", err)
			continue
		}
		f.Claims = append(f.Claims, cl)
	}
	nodes, err := c.Nodes.List(labels.Everything())
	if err != nil {
		return f, fmt.Errorf("list nodes: %w", err)
	}
	for _, n := range nodes {
		_, id, _ := cloud.ParseProviderID(n.Spec.ProviderID)
		f.Nodes[n.Name] = id
	}
	return f, nil
}

// recordJoin records the join of cl as an Event on its Node, then marks
// the claim so that it is recorded once.
func (c *Cleaner) recordJoin(ctx context.Context, cl join.Claim) error {
	node, err := c.Nodes.Get(cl.NodeName)
	if err != nil {
		return fmt.Errorf("get node %s: %w", cl.NodeName, err)
	}
	c.Recorder.Eventf(node, corev1.EventTypeNormal, EventReasonIdentityJoined, "%s", EventMessage(cl))
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, join.ClaimEventAnnotation, c.Clock.Now().UTC().Format(time.RFC3339))
	_, err = c.Client.CoreV1().ConfigMaps(join.ClaimNamespace).Patch(ctx, cl.Name, types.MergePatchType, []byte(patch), metav1.PatchOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("mark join claim %s: %w", cl.Name, err)
	}
	c.done("event", EventReasonIdentityJoined)
	return nil
}

// EventMessage is the Event recorded on the Node of an identity join: who
// STS vouched for and every check that passed, with the facts it passed
// on when the claim recorded them.
func EventMessage(cl join.Claim) string {
	ch, rfc := cl.Checks, func(t time.Time) string { return t.UTC().Format(time.RFC3339) }
	proof := "signed GetCallerIdentity to the configured STS, fresh, nonce issued by kelp and used once"
	role, window := "the instance profile carries the role", "launched within the join window"
	if ch.Role != "" {
		proof = fmt.Sprintf("signed GetCallerIdentity to the configured STS at %s (freshness window %s), nonce %s issued by kelp and used once",
			rfc(ch.SignedAt), ch.Freshness, ch.NonceID)
		role = fmt.Sprintf("the instance profile's roles (%s) carry the role %s", strings.Join(ch.ProfileRoles, ", "), ch.Role)
		window = fmt.Sprintf("launched at %s, within the join window of %s", rfc(ch.LaunchTime), ch.JoinWindow)
	}
	checks := []string{proof,
		"assumed-role session of an allowed role named after the instance", role,
		"instance in kelp pool " + cl.Pool + " of this cluster", "active", window,
		"node name is its private DNS name", "first join"}
	return fmt.Sprintf("instance %s joined by identity at %s as %s; checks passed: %s; its bootstrap token was bound to the instance",
		cl.InstanceID, cl.At.UTC().Format(time.RFC3339), cl.ARN, strings.Join(checks, "; "))
}

func (c *Cleaner) done(action, reason string) {
	if c.Actions != nil {
		c.Actions.WithLabelValues(action, reason).Inc()
	}
}
