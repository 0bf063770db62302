package webview

import (
	"context"
	"crypto/sha256"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"
)

// ViewPath and ViewVerb are what SubjectAccessReview is asked for a
// request off loopback: may the token's user "get" the non-resource URL
// /kelp/view. A ClusterRole grants it with
// rules: [{nonResourceURLs: ["/kelp/view"], verbs: ["get"]}].
const (
	ViewPath = "/kelp/view"
	ViewVerb = "get"
)

// Reviews of tokens not seen in the last authTTL are limited to
// reviewRate a second, bursts of reviewBurst: a flood of made-up tokens
// would otherwise spend the controller's API budget (the approver's and
// the autoscaler's) on TokenReviews. Over the limit the answer is 429.
const (
	reviewRate  = 5
	reviewBurst = 20
)

// authTTL is how long a token's verdict is remembered, so that a page's
// requests cost one review, and a revoked token is refused soon.
const authTTL = 30 * time.Second

type verdict struct {
	code int // 0: allowed
	msg  string
	at   time.Time
}

// authorizer admits requests whose bearer token TokenReview authenticates
// and SubjectAccessReview allows ViewVerb on ViewPath.
type authorizer struct {
	client kubernetes.Interface
	clock  clock.PassiveClock
	// reviews bounds the TokenReviews and SubjectAccessReviews sent.
	reviews *rate.Limiter
	mu      sync.Mutex
	seen    map[[32]byte]verdict
}

func newAuthorizer(client kubernetes.Interface, clk clock.PassiveClock) *authorizer {
	return &authorizer{client: client, clock: clk, seen: map[[32]byte]verdict{}, reviews: rate.NewLimiter(reviewRate, reviewBurst)}
}

func (a *authorizer) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || strings.TrimSpace(token) == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="kelp"`)
			http.Error(w, "a Kubernetes bearer token is required (Authorization: Bearer ...)", http.StatusUnauthorized)
			return
		}
		v := a.check(r.Context(), strings.TrimSpace(token))
		if v.code != 0 {
			http.Error(w, v.msg, v.code)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// check reviews the token, or returns its verdict of the last authTTL.
// Failures to ask are not remembered.
func (a *authorizer) check(ctx context.Context, token string) verdict {
	key := sha256.Sum256([]byte(token))
	now := a.clock.Now()
	a.mu.Lock()
	v, ok := a.seen[key]
	if ok && now.Sub(v.at) < authTTL {
		a.mu.Unlock()
		return v
	}
	for k, old := range a.seen {
		if now.Sub(old.at) >= authTTL {
			delete(a.seen, k)
		}
	}
	a.mu.Unlock()
	if !a.reviews.AllowN(now, 1) {
		return verdict{code: http.StatusTooManyRequests, msg: "too many new tokens to review; retry later"}
	}
	v, keep := a.review(ctx, token)
	if keep {
		v.at = now
		a.mu.Lock()
		a.seen[key] = v
		a.mu.Unlock()
	}
	return v
}

func (a *authorizer) review(ctx context.Context, token string) (verdict, bool) {
	tr, err := a.client.AuthenticationV1().TokenReviews().Create(ctx,
		&authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: token}}, metav1.CreateOptions{})
	if err != nil {
		return verdict{code: http.StatusServiceUnavailable, msg: "token review failed: " + err.Error()}, false
	}
	if !tr.Status.Authenticated {
		return verdict{code: http.StatusUnauthorized, msg: "the bearer token is not valid"}, true
	}
	u := tr.Status.User
	extra := map[string]authorizationv1.ExtraValue{}
	for k, v := range u.Extra {
		extra[k] = authorizationv1.ExtraValue(v)
	}
	sar, err := a.client.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{
		Spec: authorizationv1.SubjectAccessReviewSpec{User: u.Username, Groups: u.Groups, UID: u.UID, Extra: extra,
			NonResourceAttributes: &authorizationv1.NonResourceAttributes{Path: ViewPath, Verb: ViewVerb}},
	}, metav1.CreateOptions{})
	if err != nil {
		return verdict{code: http.StatusServiceUnavailable, msg: "subject access review failed: " + err.Error()}, false
	}
	if !sar.Status.Allowed {
		return verdict{code: http.StatusForbidden, msg: u.Username + " may not " + ViewVerb + " " + ViewPath}, true
	}
	return verdict{}, true
}
