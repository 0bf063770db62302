package controller

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"k8s.io/utils/clock"

	"github.com/kelp-dev/kelp/internal/join"
)

// JoinOptions configure the identity join endpoint (internal/join), which
// every replica serves, leading or not.
type JoinOptions struct {
	// Addr is the HTTPS listen address of the endpoint.
	Addr string
	// Policy is what proofs are checked against: the one STS endpoint and
	// the allowed role names.
	Policy join.Policy
	// CertFile and KeyFile, when set, are the serving certificate; else
	// each replica issues one for Hosts from the CA in the Secret
	// kube-system/kelp-join-ca, created by the first replica.
	CertFile, KeyFile string
	// Hosts are the DNS names and IP addresses instances reach the
	// endpoint at, put in the issued serving certificate.
	Hosts []string
	// TokenTTL is the lifetime of the tokens handed out; join's default
	// when zero.
	TokenTTL time.Duration
	// RateLimit and Burst bound the endpoint's requests a second and at
	// once, both routes together; join's defaults when zero.
	RateLimit float64
	Burst     int
	// CleanupPeriod is how often the leader deletes the tokens of
	// registered Nodes and expired claims; joincleanup's default when
	// zero.
	CleanupPeriod time.Duration
}

// Validate reports every problem at once.
func (o JoinOptions) Validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(o.Addr); err != nil {
		errs = append(errs, fmt.Errorf("join address %q: %w", o.Addr, err))
	}
	if err := o.Policy.Validate(); err != nil {
		errs = append(errs, err)
	}
	switch {
	case (o.CertFile == "") != (o.KeyFile == ""):
		errs = append(errs, fmt.Errorf("join cert file %q and key file %q: give both or neither", o.CertFile, o.KeyFile))
	case o.CertFile == "" && len(o.Hosts) == 0:
		errs = append(errs, errors.New("join cert hosts: name the host names or addresses instances reach the endpoint at (or give a cert and key file)"))
	}
	if o.RateLimit < 0 {
		errs = append(errs, fmt.Errorf("join rate limit %g: must not be negative", o.RateLimit))
	}
	if o.Burst < 0 {
		errs = append(errs, fmt.Errorf("join burst %d: must not be negative", o.Burst))
	}
	if o.TokenTTL < 0 || (o.TokenTTL > 0 && o.TokenTTL < time.Minute) {
		errs = append(errs, fmt.Errorf("join token ttl %s: must be at least 1m", o.TokenTTL))
	}
	return errors.Join(errs...)
}

// serveJoin starts the join endpoint on this replica; it returns the
// function that stops it. The cloud must tell instance profiles' roles
// (join.Profiles).
func serveJoin(ctx context.Context, o Options, d Deps) (func(), error) {
	jo := o.Join
	profiles, ok := d.Cloud.(join.Profiles)
	if !ok {
		return nil, fmt.Errorf("join endpoint %s: the cloud provider cannot tell instances' instance profiles (InstanceProfileRoles)", jo.Addr)
	}
	key, err := join.EnsureNonceKey(ctx, d.Client)
	if err != nil {
		return nil, fmt.Errorf("join endpoint: %w", err)
	}
	cert, err := joinCertificate(ctx, o, d)
	if err != nil {
		return nil, fmt.Errorf("join endpoint: %w", err)
	}
	server, err := join.NewServer(join.Config{
		Policy: jo.Policy, NonceKey: key, TokenTTL: jo.TokenTTL, JoinWindow: o.Approver.WithDefaults().JoinWindow,
	}, join.Deps{
		Kube: d.Client, Cloud: d.Cloud, Profiles: profiles, History: join.KubeHistory{Client: d.Client},
		STS:   join.STS{Endpoint: jo.Policy.STSEndpoint, Client: d.JoinSTSClient},
		Clock: clock.RealClock{}, Logger: d.Logger.With("component", "join"), Metrics: join.NewMetrics(d.Registry),
	})
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", jo.Addr)
	if err != nil {
		return nil, fmt.Errorf("join endpoint: listen on %s: %w", jo.Addr, err)
	}
	srv := &http.Server{
		Handler: join.NewHandler(server, jo.RateLimit, jo.Burst), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
	}
	go func() {
		if err := srv.ServeTLS(l, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.Logger.Error("join endpoint stopped", "addr", jo.Addr, "err", err)
		}
	}()
	d.Logger.Info("serving the identity join endpoint", "addr", l.Addr().String(), "sts", jo.Policy.STSEndpoint, "roles", jo.Policy.AllowedRoles)
	return func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}, nil
}

// joinCertificate is the endpoint's serving certificate: the files given,
// or one issued for the hosts by the shared CA.
func joinCertificate(ctx context.Context, o Options, d Deps) (tls.Certificate, error) {
	jo := o.Join
	if jo.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(jo.CertFile, jo.KeyFile)
		if err != nil {
			return tls.Certificate{}, fmt.Errorf("load serving certificate %s: %w", jo.CertFile, err)
		}
		return cert, nil
	}
	now := time.Now()
	ca, err := join.EnsureCA(ctx, d.Client, now)
	if err != nil {
		return tls.Certificate{}, err
	}
	return ca.Serving(jo.Hosts, now)
}
