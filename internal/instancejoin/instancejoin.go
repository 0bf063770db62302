// Package instancejoin is the instance's side of an identity join
// (package join): it reads the instance's region, name and role
// credentials from its metadata service, proves who it is to kelp's join
// endpoint, retrying what is transient with capped, jittered exponential
// backoff, and writes the kubelet's bootstrap kubeconfig holding the
// instance-bound token kelp answers. `kelp join` and the node agent run
// it, so both join the same way.
package instancejoin

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/renameio/v2"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/clock"

	"github.com/kelp-dev/kelp/internal/bootstrap"
	"github.com/kelp-dev/kelp/internal/join"
	"github.com/kelp-dev/kelp/internal/userdata"
)

// Metadata is what an instance reads about itself to join.
type Metadata struct {
	// Region is the instance's region; the default STS endpoint is that
	// region's.
	Region string
	// Hostname is the instance's private DNS name, the default node name.
	Hostname string
	// Sign signs with the instance role's current credentials.
	Sign join.SignFunc
}

// MetadataReader reads the instance's metadata afresh (role credentials
// rotate); internal/cloud/aws.ReadInstanceMetadata is one, wrapped by the
// caller (only composition roots reach the AWS adapter).
type MetadataReader func(ctx context.Context) (Metadata, error)

// Config is one join.
type Config struct {
	// Join is where kelp's join endpoint and the API server are and how to
	// trust them, as an identity-mode pool's user-data carries it; an
	// empty EndpointCA trusts the system roots. Its MetadataEndpoint is the
	// MetadataReader's business.
	Join userdata.IdentityJoin
	// NodeName is the node name to join as; the metadata's Hostname when
	// empty.
	NodeName string
	// BootstrapKubeconfig is where the bootstrap kubeconfig is written
	// (mode 0600, atomically).
	BootstrapKubeconfig string
	// Backoff paces the retries; DefaultBackoff when Duration is zero.
	// Its Cap bounds every wait but a longer Retry-After.
	Backoff wait.Backoff
}

// DefaultBackoff starts at half a second and doubles, with jitter, up to
// 15 seconds between attempts.
var DefaultBackoff = wait.Backoff{Duration: 500 * time.Millisecond, Factor: 2, Jitter: 0.5, Steps: 1 << 30, Cap: 15 * time.Second}

// Deps are a join's collaborators.
type Deps struct {
	// Metadata reads the instance's metadata; required.
	Metadata MetadataReader
	// HTTP talks to the join endpoint; when nil, a client trusting
	// Config.Join.EndpointCA.
	HTTP *http.Client
	// Clock paces the retries; the real clock when nil.
	Clock clock.WithTicker
	// Logger receives each failed attempt; slog.Default() when nil.
	Logger *slog.Logger
}

// Run joins: it reads the metadata, asks for a nonce, sends the proof and
// writes the bootstrap kubeconfig, retrying the whole attempt (fresh
// credentials, fresh nonce) after a transient failure until ctx ends. A
// refusal kelp means (every join.Reason but RateLimited and Unavailable)
// is final: Run returns it, a *join.Refusal, at once.
func Run(ctx context.Context, cfg Config, d Deps) (join.Answer, error) {
	if err := cfg.validate(); err != nil {
		return join.Answer{}, err
	}
	if d.Metadata == nil {
		return join.Answer{}, errors.New("identity join: no instance metadata reader")
	}
	hc := d.HTTP
	if hc == nil {
		var err error
		if hc, err = EndpointClient(cfg.Join.EndpointCA); err != nil {
			return join.Answer{}, err
		}
	}
	if d.Clock == nil {
		d.Clock = clock.RealClock{}
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	b := cfg.Backoff
	if b.Duration == 0 {
		b = DefaultBackoff
	}
	for attempt := 1; ; attempt++ {
		ans, err := cfg.attempt(ctx, hc, d.Metadata)
		if err == nil {
			return ans, nil
		}
		if ctx.Err() != nil {
			return join.Answer{}, fmt.Errorf("identity join: gave up after %d attempts: %w", attempt, err)
		}
		next := decide(err)
		if !next.Retry {
			d.Logger.Error("identity join refused", "reason", join.ReasonOf(err), "err", err, "attempts", attempt)
			return join.Answer{}, fmt.Errorf("identity join: %w", err)
		}
		wait := max(b.Step(), next.After)
		d.Logger.Warn("identity join failed; retrying", "err", err, "attempt", attempt, "retryIn", wait.Round(time.Millisecond))
		if sleep(ctx, d.Clock, wait) != nil {
			return join.Answer{}, fmt.Errorf("identity join: gave up after %d attempts: %w", attempt, err)
		}
	}
}

// attempt is one join: fresh metadata, a nonce, the proof, the kubeconfig.
func (cfg Config) attempt(ctx context.Context, hc *http.Client, read MetadataReader) (join.Answer, error) {
	md, err := read(ctx)
	if err != nil {
		return join.Answer{}, &metadataError{err: err}
	}
	sts := cfg.Join.STSEndpoint
	if sts == "" {
		sts = "https://sts." + md.Region + ".amazonaws.com"
	}
	node := cfg.NodeName
	if node == "" {
		node = md.Hostname
	}
	c := &join.Client{Endpoint: cfg.Join.Endpoint, HTTP: hc, STSEndpoint: sts, Sign: md.Sign}
	ans, err := c.Join(ctx, join.Request{NodeName: node})
	if err != nil {
		return join.Answer{}, err
	}
	id, secret, _ := strings.Cut(ans.Token, ".")
	kubeconfig, err := bootstrap.BootstrapKubeconfig(cfg.Join.Server, cfg.Join.ServerCA, bootstrap.Token{ID: id, Secret: secret})
	if err != nil {
		return join.Answer{}, &finalError{fmt.Errorf("join answer: %w", err)}
	}
	if err := writeFile(cfg.BootstrapKubeconfig, kubeconfig); err != nil {
		return join.Answer{}, &finalError{err}
	}
	return ans, nil
}

// validate checks what no retry can fix, all at once.
func (cfg Config) validate() error {
	var errs []error
	if !strings.HasPrefix(cfg.Join.Endpoint, "https://") {
		errs = append(errs, fmt.Errorf("join endpoint %q: must be an https URL", cfg.Join.Endpoint))
	}
	if cfg.Join.Server == "" {
		errs = append(errs, errors.New("api server: must not be empty"))
	}
	if len(cfg.Join.ServerCA) == 0 {
		errs = append(errs, errors.New("api server CA: must not be empty"))
	}
	if cfg.BootstrapKubeconfig == "" {
		errs = append(errs, errors.New("bootstrap kubeconfig path: must not be empty"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("identity join: %w", err)
	}
	return nil
}

// EndpointClient returns an HTTP client of the join endpoint that trusts
// the CA bundle caPEM, or the system roots when it is empty.
func EndpointClient(caPEM []byte) (*http.Client, error) {
	if len(caPEM) == 0 {
		return &http.Client{Timeout: 30 * time.Second}, nil
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, errors.New("join endpoint CA: holds no PEM certificate")
	}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
	}}, nil
}

// writeFile writes data to path (mode 0600) through a temporary file
// renamed into place, so the kubelet never reads half a kubeconfig.
func writeFile(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := renameio.WriteFile(path, data, 0o600, renameio.WithTempDir(filepath.Dir(path))); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// sleep waits d on clk, or until ctx ends; it returns ctx.Err() then.
func sleep(ctx context.Context, clk clock.WithTicker, d time.Duration) error {
	t := clk.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C():
		return nil
	}
}
