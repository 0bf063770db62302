package instancejoin

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kelp-dev/kelp/internal/join"
	"github.com/kelp-dev/kelp/internal/userdata"
)

func TestDecide(t *testing.T) {
	refusal := func(r join.Reason, after time.Duration) error {
		return fmt.Errorf("join: %w", &join.Refusal{Reason: r, Message: "m", RetryAfter: after})
	}
	status := func(code int, after time.Duration) error {
		return fmt.Errorf("get nonce: %w", &join.StatusError{Method: "GET", Path: join.PathNonce, Status: code, RetryAfter: after})
	}
	for _, tc := range []struct {
		name string
		err  error
		want next
	}{
		{"rate limited, with Retry-After", refusal(join.ReasonRateLimited, 3*time.Second), next{Retry: true, After: 3 * time.Second}},
		{"dependency unavailable", refusal(join.ReasonUnavailable, 0), next{Retry: true}},
		{"already joined", refusal(join.ReasonAlreadyJoined, 0), next{}},
		{"replayed", refusal(join.ReasonReplayed, 0), next{}},
		{"profile mismatch", refusal(join.ReasonProfileMismatch, 0), next{}},
		{"stale", refusal(join.ReasonStale, 0), next{}},
		{"wrong node name", refusal(join.ReasonWrongNodeName, 0), next{}},
		{"502 from a proxy", status(http.StatusBadGateway, 0), next{Retry: true}},
		{"503 with Retry-After", status(http.StatusServiceUnavailable, 5*time.Second), next{Retry: true, After: 5 * time.Second}},
		{"429 without kelp's reason", status(http.StatusTooManyRequests, time.Second), next{Retry: true, After: time.Second}},
		{"408", status(http.StatusRequestTimeout, 0), next{Retry: true}},
		{"404: not kelp's endpoint", status(http.StatusNotFound, 0), next{}},
		{"metadata service not answering", &metadataError{err: errors.New("connection refused")}, next{Retry: true}},
		{"endpoint unreachable", fmt.Errorf("get nonce: %w", &net.OpError{Op: "dial", Err: errors.New("connection refused")}), next{Retry: true}},
		{"attempt timed out", fmt.Errorf("get nonce: %w", context.DeadlineExceeded), next{Retry: true}},
		{"endpoint certificate of another CA", fmt.Errorf("get nonce: %w", &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}), next{}},
		{"kubeconfig not writable", &finalError{errors.New("write: permission denied")}, next{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := decide(tc.err); got != tc.want {
				t.Errorf("decide(%v) = %+v, want %+v", tc.err, got, tc.want)
			}
		})
	}
}

// endpoint is a stand-in join endpoint: it hands out nonces and answers
// each join with the next of answers (the last one repeats).
type endpoint struct {
	srv     *httptest.Server
	mu      sync.Mutex
	answers []func(w http.ResponseWriter)
	joins   int
	nonces  int
}

func newEndpoint(t *testing.T, answers ...func(w http.ResponseWriter)) *endpoint {
	e := &endpoint{answers: answers}
	e.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		defer e.mu.Unlock()
		switch r.URL.Path {
		case join.PathNonce:
			e.nonces++
			_ = json.NewEncoder(w).Encode(join.NonceBody{Nonce: fmt.Sprintf("nonce-%d", e.nonces)})
		case join.PathJoin:
			e.answers[min(e.joins, len(e.answers)-1)](w)
			e.joins++
		}
	}))
	t.Cleanup(e.srv.Close)
	return e
}

func (e *endpoint) counts() (nonces, joins int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.nonces, e.joins
}

func accept(w http.ResponseWriter) {
	_ = json.NewEncoder(w).Encode(join.Answer{Token: "abcdef.0123456789abcdef", InstanceID: "i-0123456789abcdef0",
		NodeName: "ip-10-0-0-5.ec2.internal", Expires: time.Now().Add(time.Hour)})
}

func refuseWith(status int, reason join.Reason) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(join.ErrorBody{Reason: reason, Message: "because"})
	}
}

func bare(status int) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) { http.Error(w, "upstream trouble", status) }
}

// setup returns a join's config and deps against e, metadata failing
// metadataFailures times first.
func (e *endpoint) setup(t *testing.T, metadataFailures int) (Config, Deps, *int) {
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: e.srv.Certificate().Raw})
	reads := 0
	cfg := Config{
		Join: userdata.IdentityJoin{Endpoint: e.srv.URL, EndpointCA: ca, Server: "https://127.0.0.1:6443", ServerCA: ca,
			STSEndpoint: "https://sts.example.test"},
		BootstrapKubeconfig: filepath.Join(t.TempDir(), "bootstrap-kubeconfig"),
		Backoff:             wait.Backoff{Duration: time.Millisecond, Factor: 2, Steps: 1 << 30, Cap: 4 * time.Millisecond},
	}
	d := Deps{
		Logger: slog.New(slog.DiscardHandler),
		Metadata: func(context.Context) (Metadata, error) {
			reads++
			if reads <= metadataFailures {
				return Metadata{}, errors.New("metadata service not answering yet")
			}
			return Metadata{Region: "us-east-1", Hostname: "ip-10-0-0-5.ec2.internal",
				Sign: func(_ context.Context, _ string, h http.Header) (http.Header, error) { return h, nil }}, nil
		},
	}
	return cfg, d, &reads
}

func TestRunRetriesTransientFailuresThenWritesTheKubeconfig(t *testing.T) {
	e := newEndpoint(t, bare(http.StatusBadGateway), refuseWith(http.StatusServiceUnavailable, join.ReasonUnavailable),
		refuseWith(http.StatusTooManyRequests, join.ReasonRateLimited), accept)
	cfg, d, reads := e.setup(t, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ans, err := Run(ctx, cfg, d)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if nonces, joins := e.counts(); nonces != 4 || joins != 4 || *reads != 6 {
		t.Errorf("nonces %d, joins %d, metadata reads %d; want 4, 4, 6 (each attempt afresh)", nonces, joins, *reads)
	}
	kc, err := clientcmd.LoadFromFile(cfg.BootstrapKubeconfig)
	if err != nil {
		t.Fatalf("bootstrap kubeconfig: %v", err)
	}
	for _, u := range kc.AuthInfos {
		if u.Token != ans.Token {
			t.Errorf("kubeconfig token %q, want the answer's %q", u.Token, ans.Token)
		}
	}
	if fi, err := os.Stat(cfg.BootstrapKubeconfig); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("bootstrap kubeconfig mode: %v %v, want 0600", fi.Mode(), err)
	}
}

func TestRunDoesNotRetryARefusal(t *testing.T) {
	e := newEndpoint(t, refuseWith(http.StatusForbidden, join.ReasonAlreadyJoined), accept)
	cfg, d, _ := e.setup(t, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := Run(ctx, cfg, d)
	if join.ReasonOf(err) != join.ReasonAlreadyJoined {
		t.Fatalf("Run: %v, want the refusal %s", err, join.ReasonAlreadyJoined)
	}
	if nonces, joins := e.counts(); nonces != 1 || joins != 1 {
		t.Errorf("nonces %d, joins %d after a refusal; want 1, 1 (no retry)", nonces, joins)
	}
	if _, err := os.Stat(cfg.BootstrapKubeconfig); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused join wrote a kubeconfig: %v", err)
	}
}

func TestRunGivesUpWhenCtxEnds(t *testing.T) {
	e := newEndpoint(t, bare(http.StatusServiceUnavailable))
	cfg, d, _ := e.setup(t, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := Run(ctx, cfg, d)
	var status *join.StatusError
	if !errors.As(err, &status) || !strings.Contains(err.Error(), "gave up") {
		t.Fatalf("Run: %v, want a give-up naming the last 503", err)
	}
}

func TestRunRejectsBadConfigAtOnce(t *testing.T) {
	_, err := Run(context.Background(), Config{Join: userdata.IdentityJoin{Endpoint: "http://x"}}, Deps{})
	for _, want := range []string{"must be an https URL", "api server", "api server CA", "bootstrap kubeconfig path"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Run with a bad config: %v, want it to say %q", err, want)
		}
	}
}
