package controller

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kelp-dev/kelp/internal/approver"
	"github.com/kelp-dev/kelp/internal/bootstrap"
	"github.com/kelp-dev/kelp/internal/cloud"
	awsadapter "github.com/kelp-dev/kelp/internal/cloud/aws"
	"github.com/kelp-dev/kelp/internal/cloud/cloudtest"
	"github.com/kelp-dev/kelp/internal/join"
	"github.com/kelp-dev/kelp/internal/joincleanup"
	"github.com/kelp-dev/kelp/internal/testenv"
)

// profileCloud is the test cloud with instance profiles: every instance's
// profile carries role.
type profileCloud struct {
	*cloudtest.Provider
	role string
}

func (p profileCloud) InstanceProfileRoles(context.Context, string) ([]string, error) {
	return []string{p.role}, nil
}

// newJoinSTS answers GetCallerIdentity with the assumed-role session of
// the instance whose access key signed the request (the key is the
// instance id). It checks no signature: internal/join's tests do.
func newJoinSTS(t *testing.T, role string) *httptest.Server {
	s := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, rest, _ := strings.Cut(r.Header.Get("Authorization"), "Credential=")
		key, _, _ := strings.Cut(rest, "/")
		fmt.Fprintf(w, `<GetCallerIdentityResponse><GetCallerIdentityResult><Arn>arn:aws:sts::123456789012:assumed-role/%s/%s</Arn>`+
			`<UserId>AROA:x</UserId><Account>123456789012</Account></GetCallerIdentityResult></GetCallerIdentityResponse>`, role, key)
	}))
	t.Cleanup(s.Close)
	return s
}

// TestJoinEndpointServedAndCleanedUp runs a replica serving the join
// endpoint on the real API server: an instance of a managed pool proves
// who it is and gets a token bound to it; once its Node registers, the
// token is deleted and the join is recorded as an Event on the Node.
func TestJoinEndpointServedAndCleanedUp(t *testing.T) {
	env := testenv.Get(t)
	const role, id = "kelp-test-node", "i-0123456789abcdef0"
	name := "ip-10-9-8-7.join.internal"
	inst := cloud.Instance{ID: id, ProviderID: "aws:///us-east-1a/" + id, State: cloud.InstanceStateRunning, GroupName: "kelp-test-joiners",
		Pool: "joiners", PrivateDNSName: name, PrivateIPs: []string{"10.9.8.7"}, LaunchTime: time.Now().Add(-time.Minute)}
	provider := profileCloud{cloudtest.New(cloud.NodeGroup{ID: "kelp-test-joiners", Pool: "joiners", MaxSize: 3, Instances: []cloud.Instance{inst}}), role}
	sts := newJoinSTS(t, role)
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{
			ClusterName: "kelp-test", Approve: approver.ModeOff,
			Join: &JoinOptions{Addr: addr, Policy: join.Policy{STSEndpoint: sts.URL, AllowedRoles: []string{role}},
				Hosts: []string{"127.0.0.1"}, CleanupPeriod: 200 * time.Millisecond},
		}, Deps{Client: env.Client, Cloud: provider, JoinSTSClient: sts.Client(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	var bundle []byte
	testenv.EventuallyTrue(t, 30*time.Second, "the join CA published", func() bool {
		b, err := join.CABundle(context.Background(), env.Client)
		bundle = b
		return err == nil
	})
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(bundle)
	client := &join.Client{
		Endpoint: "https://" + addr, STSEndpoint: sts.URL,
		HTTP: &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}, Timeout: 10 * time.Second},
		Sign: func(ctx context.Context, url string, h http.Header) (http.Header, error) {
			creds := aws.Credentials{AccessKeyID: id, SecretAccessKey: "secret", SessionToken: "session"}
			return awsadapter.SignCallerIdentity(ctx, creds, "us-east-1", url, h, time.Now())
		},
	}
	var ans join.Answer
	testenv.EventuallyTrue(t, 30*time.Second, "the instance joins by identity", func() bool {
		var err error
		ans, err = client.Join(context.Background(), join.Request{NodeName: name})
		if err != nil {
			t.Logf("join: %v", err)
		}
		return err == nil
	})
	if ans.InstanceID != id || ans.NodeName != name {
		t.Fatalf("answer %+v, want instance %s node %s", ans, id, name)
	}
	tokenID, _, _ := strings.Cut(ans.Token, ".")
	tokens, err := bootstrap.ListTokens(context.Background(), env.Client)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, tok := range tokens {
		found = found || (tok.ID == tokenID && tok.Instance == id)
	}
	if !found {
		t.Fatalf("no token %s bound to %s among %+v", tokenID, id, tokens)
	}
	// A second join of the same instance is refused.
	if _, err := client.Join(context.Background(), join.Request{NodeName: name}); join.ReasonOf(err) != join.ReasonAlreadyJoined {
		t.Fatalf("second join: %v, want %s", err, join.ReasonAlreadyJoined)
	}

	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.NodeSpec{ProviderID: inst.ProviderID}}
	if _, err := env.Client.CoreV1().Nodes().Create(context.Background(), node, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Client.CoreV1().Nodes().Delete(context.Background(), name, metav1.DeleteOptions{}) })
	testenv.EventuallyTrue(t, 30*time.Second, "the token deleted once the Node registered", func() bool {
		_, err := env.Client.CoreV1().Secrets(bootstrap.TokenNamespace).Get(context.Background(), "bootstrap-token-"+tokenID, metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	})
	testenv.EventuallyTrue(t, 30*time.Second, "the join recorded on the Node", func() bool {
		evs, err := env.Client.CoreV1().Events("default").List(context.Background(), metav1.ListOptions{FieldSelector: "involvedObject.name=" + name})
		if err != nil {
			return false
		}
		for _, e := range evs.Items {
			if e.Reason == joincleanup.EventReasonIdentityJoined && strings.Contains(e.Message, id) {
				return true
			}
		}
		return false
	})
}
