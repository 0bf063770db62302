package nodeagent

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"
)

// serve obtains the serving certificate in the background (it never
// blocks node readiness) and, once it is issued, serves HTTPS on the
// private IP until ctx ends. Rotated serving certificates take effect on
// the next handshake.
func (a *Agent) serve(ctx context.Context, client kubernetes.Interface) {
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { a.servingCert.run(ctx, client) })
	select {
	case <-ctx.Done():
		return
	case <-a.servingCert.issued():
	}
	addr := net.JoinHostPort(a.facts.ID.PrivateIP, strconv.Itoa(a.tuning.ServingPort))
	var ln net.Listener
	err := a.retry.do(ctx, "listen on "+addr, backoff(time.Second, 30*time.Second), func(ctx context.Context) error {
		var err error
		ln, err = (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
		if err != nil {
			return fmt.Errorf("listen on %s: %w", addr, err)
		}
		return nil
	})
	if err != nil {
		return
	}
	srv := a.newServer()
	wg.Go(func() {
		if err := srv.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Error("serving stopped", "addr", addr, "err", err)
		}
	})
	a.markServing()
	a.log.Info("serving", "addr", addr)
	<-ctx.Done()
	_ = srv.Close()
}

// newServer is the agent's HTTPS server: /healthz answers "ok".
func (a *Agent) newServer() *http.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok"))
	})
	return &http.Server{
		Handler: mux,
		TLSConfig: &tls.Config{
			MinVersion: tls.VersionTLS12,
			GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
				if c := a.servingCert.current(); c != nil {
					return c, nil
				}
				return nil, errors.New("no serving certificate")
			},
		},
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       90 * time.Second,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelDebug),
	}
}
