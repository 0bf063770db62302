package join_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"golang.org/x/time/rate"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/kelp-dev/kelp/internal/bootstrap"
	"github.com/kelp-dev/kelp/internal/cloud"
	awsadapter "github.com/kelp-dev/kelp/internal/cloud/aws"
	"github.com/kelp-dev/kelp/internal/join"
)

const (
	instA   = "i-0000000000000000a"
	instB   = "i-0000000000000000b"
	instC   = "i-0000000000000000c" // in another cluster's group
	account = "123456789012"
)

var start = time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)

// caller is one set of credentials the fake STS knows, and who they are.
type caller struct {
	creds aws.Credentials
	arn   string
}

func sessionOf(role, session string) string {
	return "arn:aws:sts::" + account + ":assumed-role/" + role + "/" + session
}

// fakeSTS answers GetCallerIdentity like STS: only for requests whose
// SigV4 signature it recomputes with the caller's secret.
type fakeSTS struct {
	*httptest.Server
	callers map[string]caller // by access key id
	calls   atomic.Int32
}

func newFakeSTS(t *testing.T, callers ...caller) *fakeSTS {
	s := &fakeSTS{callers: map[string]caller{}}
	for _, c := range callers {
		s.callers[c.creds.AccessKeyID] = c
	}
	s.Server = httptest.NewTLSServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *fakeSTS) serve(w http.ResponseWriter, r *http.Request) {
	s.calls.Add(1)
	body, _ := io.ReadAll(r.Body)
	if string(body) != join.GetCallerIdentityBody || r.Method != http.MethodPost {
		http.Error(w, "<Error><Code>InvalidAction</Code></Error>", http.StatusBadRequest)
		return
	}
	if err := s.verify(r, body); err != nil {
		http.Error(w, "<Error><Code>SignatureDoesNotMatch</Code><Message>"+err.Error()+"</Message></Error>", http.StatusForbidden)
		return
	}
	c := s.callers[credential(r)[0]]
	fmt.Fprintf(w, `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>`+
		`<Arn>%s</Arn><UserId>AROAEXAMPLE:x</UserId><Account>%s</Account></GetCallerIdentityResult></GetCallerIdentityResponse>`, c.arn, account)
}

// credential returns key id, date, region, service of the Authorization
// header, and its signed headers last.
func credential(r *http.Request) []string {
	var cred, signed string
	_, rest, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	for f := range strings.SplitSeq(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(f), "=")
		switch k {
		case "Credential":
			cred = v
		case "SignedHeaders":
			signed = v
		}
	}
	return append(strings.Split(cred, "/"), signed)
}

// verify recomputes the signature from the signed headers alone.
func (s *fakeSTS) verify(r *http.Request, body []byte) error {
	parts := credential(r)
	if len(parts) != 6 {
		return fmt.Errorf("malformed authorization")
	}
	c, ok := s.callers[parts[0]]
	if !ok {
		return fmt.Errorf("unknown access key")
	}
	at, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		return err
	}
	again, _ := http.NewRequest(r.Method, "https://"+r.Host+r.URL.Path, strings.NewReader(string(body)))
	for _, h := range strings.Split(parts[5], ";") {
		if h != "host" && h != "content-length" {
			again.Header[http.CanonicalHeaderKey(h)] = r.Header.Values(h)
		}
	}
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(context.Background(), c.creds, again, hex.EncodeToString(sum[:]), "sts", parts[2], at); err != nil {
		return err
	}
	if got, want := r.Header.Get("Authorization"), again.Header.Get("Authorization"); got != want {
		return fmt.Errorf("signature does not match")
	}
	return nil
}

// fakeCloud is the cloud's view: instances, their profiles' roles, groups.
type fakeCloud struct {
	instances map[string]cloud.Instance
	roles     map[string][]string
	groups    []cloud.NodeGroup
}

func (f *fakeCloud) InstanceByID(_ context.Context, id string) (cloud.Instance, error) {
	i, ok := f.instances[id]
	if !ok {
		return cloud.Instance{}, fmt.Errorf("instance %s: %w", id, cloud.ErrNotFound)
	}
	return i, nil
}
func (f *fakeCloud) Invalidate(string)             {}
func (f *fakeCloud) Refresh(context.Context) error { return nil }
func (f *fakeCloud) NodeGroups(context.Context) ([]cloud.NodeGroup, error) {
	return f.groups, nil
}
func (f *fakeCloud) InstanceProfileRoles(_ context.Context, id string) ([]string, error) {
	return f.roles[id], nil
}

func dnsName(id string) string { return "ip-10-0-0-" + id[len(id)-1:] + ".ec2.internal" }

// env is a join endpoint over TLS with a fake STS, cloud and cluster.
type env struct {
	sts    *fakeSTS
	kube   *fake.Clientset
	clock  *clocktesting.FakePassiveClock
	server *httptest.Server
	cfg    join.Config
}

func newEnv(t *testing.T, callers ...caller) *env {
	t.Helper()
	e := &env{sts: newFakeSTS(t, callers...), kube: fake.NewClientset(), clock: clocktesting.NewFakePassiveClock(start)}
	fc := &fakeCloud{instances: map[string]cloud.Instance{}, roles: map[string][]string{},
		groups: []cloud.NodeGroup{{ID: "asg-workers", Pool: "workers"}}}
	for _, id := range []string{instA, instB, instC} {
		group := "asg-workers"
		if id == instC {
			group = "asg-of-another-cluster"
		}
		fc.instances[id] = cloud.Instance{ID: id, PrivateDNSName: dnsName(id), GroupName: group,
			State: cloud.InstanceStatePending, LaunchTime: start.Add(-time.Minute)}
		fc.roles[id] = []string{"kelp-node"}
	}
	e.cfg = join.Config{
		Policy:   join.Policy{STSEndpoint: e.sts.URL, AllowedRoles: []string{"kelp-node", "kelp-other"}, Account: account},
		NonceKey: []byte("0123456789abcdef0123456789abcdef"),
	}
	srv, err := join.NewServer(e.cfg, join.Deps{Kube: e.kube, Cloud: fc, Profiles: fc, History: join.KubeHistory{Client: e.kube},
		STS: join.STS{Endpoint: e.sts.URL, Client: e.sts.Client()}, Clock: e.clock})
	if err != nil {
		t.Fatal(err)
	}
	e.server = httptest.NewTLSServer(join.NewHandler(srv, 0, 0))
	t.Cleanup(e.server.Close)
	return e
}

// client returns the client of whoever holds creds, signing at e's time
// plus skew.
func (e *env) client(creds aws.Credentials, skew time.Duration) *join.Client {
	return &join.Client{
		Endpoint: e.server.URL, HTTP: e.server.Client(), STSEndpoint: e.sts.URL,
		Sign: func(ctx context.Context, url string, h http.Header) (http.Header, error) {
			return awsadapter.SignCallerIdentity(ctx, creds, "us-east-1", url, h, e.clock.Now().Add(skew))
		},
	}
}

func credsOf(name string) aws.Credentials {
	return aws.Credentials{AccessKeyID: "ASIA" + strings.ToUpper(name), SecretAccessKey: "secret-" + name, SessionToken: "token-" + name}
}

var (
	callerA     = caller{credsOf("a"), sessionOf("kelp-node", instA)}
	callerB     = caller{credsOf("b"), sessionOf("kelp-node", instB)}
	callerC     = caller{credsOf("c"), sessionOf("kelp-node", instC)}
	otherRoleA  = caller{credsOf("x"), sessionOf("kelp-other", instA)}  // may assume another role, names A
	notInstance = caller{credsOf("s"), sessionOf("kelp-node", "alice")} // a session name of choice
	adminRole   = caller{credsOf("adm"), sessionOf("admin", instA)}
)

func wantReason(t *testing.T, what string, err error, want join.Reason) {
	t.Helper()
	if got := join.ReasonOf(err); got != want {
		t.Fatalf("%s: reason %q (%v), want %q", what, got, err, want)
	}
}

func TestJoinAccepted(t *testing.T) {
	e := newEnv(t, callerA)
	ctx := context.Background()
	ans, err := e.client(callerA.creds, 0).Join(ctx, join.Request{NodeName: dnsName(instA)})
	if err != nil {
		t.Fatalf("join: %v", err)
	}
	if ans.InstanceID != instA || ans.NodeName != dnsName(instA) || !ans.Expires.Equal(start.Add(join.DefaultTokenTTL)) {
		t.Errorf("answer = %+v", ans)
	}
	tokens, err := bootstrap.ListTokens(ctx, e.kube)
	if err != nil || len(tokens) != 1 {
		t.Fatalf("tokens = %+v, %v; want one", tokens, err)
	}
	if tok := tokens[0]; tok.String() != ans.Token || tok.Instance != instA || tok.Pool != "" {
		t.Errorf("token = %+v, want %s bound to %s", tok, ans.Token, instA)
	}
	cm, err := e.kube.CoreV1().ConfigMaps("kube-system").Get(ctx, join.InstanceClaimName(instA), metav1.GetOptions{})
	if err != nil {
		t.Fatalf("instance claim: %v", err)
	}
	claim, err := join.ClaimOf(cm)
	if err != nil {
		t.Fatal(err)
	}
	// The claim records what each check passed on, for kelp csr explain,
	// and never the token.
	ch := claim.Checks
	if claim.ARN != callerA.arn || ch.Role != "kelp-node" || !slices.Contains(ch.ProfileRoles, "kelp-node") || ch.Group == "" ||
		ch.LaunchTime.IsZero() || ch.JoinWindow != join.DefaultJoinWindow || !ch.SignedAt.Equal(start) ||
		ch.Freshness != join.DefaultFreshness || ch.NonceID == "" || !ch.NonceExpires.After(start) || !strings.HasPrefix(ch.STSEndpoint, "https://") {
		t.Errorf("claim = %+v", claim)
	}
	for k, v := range cm.Data {
		if strings.Contains(v, tokens[0].Secret) {
			t.Errorf("claim data %s holds the token's secret", k)
		}
	}
}

func TestJoinRefusals(t *testing.T) {
	ctx := context.Background()
	node := join.Request{NodeName: dnsName(instA)}
	tests := []struct {
		name string
		run  func(t *testing.T, e *env) error
		want join.Reason
	}{
		{name: "another role's session naming the instance", want: join.ReasonProfileMismatch, run: func(t *testing.T, e *env) error {
			_, err := e.client(otherRoleA.creds, 0).Join(ctx, node)
			return err
		}},
		{name: "session name that is not an instance", want: join.ReasonNotInstanceSession, run: func(t *testing.T, e *env) error {
			_, err := e.client(notInstance.creds, 0).Join(ctx, node)
			return err
		}},
		{name: "role not allowed", want: join.ReasonRoleNotAllowed, run: func(t *testing.T, e *env) error {
			_, err := e.client(adminRole.creds, 0).Join(ctx, node)
			return err
		}},
		{name: "another cluster's pool", want: join.ReasonNotInManagedPool, run: func(t *testing.T, e *env) error {
			_, err := e.client(callerC.creds, 0).Join(ctx, join.Request{NodeName: dnsName(instC)})
			return err
		}},
		{name: "another node's name", want: join.ReasonWrongNodeName, run: func(t *testing.T, e *env) error {
			_, err := e.client(callerA.creds, 0).Join(ctx, join.Request{NodeName: dnsName(instB)})
			return err
		}},
		{name: "stale", want: join.ReasonStale, run: func(t *testing.T, e *env) error {
			_, err := e.client(callerA.creds, -10*time.Minute).Join(ctx, node)
			return err
		}},
		{name: "unknown credentials", want: join.ReasonTampered, run: func(t *testing.T, e *env) error {
			_, err := e.client(credsOf("nobody"), 0).Join(ctx, node)
			return err
		}},
		{name: "request changed after signing", want: join.ReasonTampered, run: func(t *testing.T, e *env) error {
			p := prove(t, e, callerA, node)
			p.Request = []byte(`{"nodeName":"` + dnsName(instB) + `"}`)
			_, err := e.client(callerA.creds, 0).Send(ctx, p)
			return err
		}},
		{name: "signed header changed after signing", want: join.ReasonTampered, run: func(t *testing.T, e *env) error {
			p := prove(t, e, callerA, node)
			other, err := e.client(callerA.creds, 0).Nonce(ctx)
			if err != nil {
				t.Fatal(err)
			}
			p.STS.Header.Set(join.HeaderNonce, other) // a valid nonce, not the signed one: STS refuses
			_, err = e.client(callerA.creds, 0).Send(ctx, p)
			if e.sts.calls.Load() != 1 {
				t.Errorf("sts calls = %d, want 1", e.sts.calls.Load())
			}
			return err
		}},
		{name: "another STS host", want: join.ReasonWrongSTSHost, run: func(t *testing.T, e *env) error {
			p := prove(t, e, callerA, node)
			p.STS.URL = "https://sts.evil.example/"
			_, err := e.client(callerA.creds, 0).Send(ctx, p)
			if e.sts.calls.Load() != 0 {
				t.Errorf("sts calls = %d, want 0", e.sts.calls.Load())
			}
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, callerA, callerB, callerC, otherRoleA, notInstance, adminRole)
			wantReason(t, tt.name, tt.run(t, e), tt.want)
			if tokens, _ := bootstrap.ListTokens(ctx, e.kube); len(tokens) != 0 {
				t.Errorf("a refused join left tokens %+v", tokens)
			}
		})
	}
}

func prove(t *testing.T, e *env, c caller, req join.Request) join.Proof {
	t.Helper()
	cl := e.client(c.creds, 0)
	nonce, err := cl.Nonce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	p, err := cl.Prove(context.Background(), req, nonce)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestJoinSingleUse(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, callerA, callerB)
	a := e.client(callerA.creds, 0)

	p := prove(t, e, callerA, join.Request{NodeName: dnsName(instA)})
	if _, err := a.Send(ctx, p); err != nil {
		t.Fatalf("first join: %v", err)
	}
	_, err := a.Send(ctx, p)
	wantReason(t, "the same proof again", err, join.ReasonReplayed)

	_, err = a.Join(ctx, join.Request{NodeName: dnsName(instA)})
	wantReason(t, "a second join with a fresh nonce", err, join.ReasonAlreadyJoined)

	// B signs with the nonce A used: refused, and B may join afresh.
	pb, err := e.client(callerB.creds, 0).Prove(ctx, join.Request{NodeName: dnsName(instB)}, p.STS.Header.Get(join.HeaderNonce))
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.client(callerB.creds, 0).Send(ctx, pb)
	wantReason(t, "a nonce used twice", err, join.ReasonNonceReused)
	if _, err := e.client(callerB.creds, 0).Join(ctx, join.Request{NodeName: dnsName(instB)}); err != nil {
		t.Fatalf("B's join with its own nonce: %v", err)
	}
	if tokens, _ := bootstrap.ListTokens(ctx, e.kube); len(tokens) != 2 {
		t.Errorf("tokens = %+v, want one for A and one for B", tokens)
	}
}

func TestJoinNonceExpires(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, callerA)
	p := prove(t, e, callerA, join.Request{NodeName: dnsName(instA)})
	e.clock.SetTime(start.Add(join.DefaultNonceTTL))
	_, err := e.client(callerA.creds, 0).Send(ctx, p)
	wantReason(t, "a proof with an expired nonce", err, join.ReasonNonceExpired)
}

func TestHandlerRateLimited(t *testing.T) {
	e := newEnv(t, callerA)
	h := e.server.Config.Handler.(*join.Handler)
	h.Limiter = rate.NewLimiter(0, 1)
	cl := e.client(callerA.creds, 0)
	if _, err := cl.Nonce(context.Background()); err != nil {
		t.Fatalf("first request: %v", err)
	}
	_, err := cl.Nonce(context.Background())
	wantReason(t, "second request", err, join.ReasonRateLimited)
}
