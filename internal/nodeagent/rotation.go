package nodeagent

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"
)

// deniedRenewalPause is how long a certificate manager waits after a
// renewal was denied before filing a new request.
const deniedRenewalPause = 5 * time.Minute

// certManager keeps one certificate of the agent current: it loads it from
// disk, obtains it when missing, and renews it at its rotation deadline
// (70–90% of its lifetime, jittered) through a new CSR made with the
// node's own identity. Readers call current at any time.
type certManager struct {
	spec  certSpec
	clock clock.WithTicker
	log   *slog.Logger
	retry retrier
	// onRotate, when set, runs after a certificate replaced another.
	onRotate func(old, cur *tls.Certificate)

	cur      atomic.Pointer[tls.Certificate]
	issuedCh chan struct{}
	once     sync.Once
}

func newCertManager(spec certSpec, clk clock.WithTicker, log *slog.Logger, retry retrier) *certManager {
	return &certManager{
		spec:     spec,
		clock:    clk,
		log:      log.With("certificate", spec.kind),
		retry:    retry,
		issuedCh: make(chan struct{}),
	}
}

// current returns the certificate in use, or nil before the first one.
func (m *certManager) current() *tls.Certificate { return m.cur.Load() }

// issued is closed once the manager holds a certificate.
func (m *certManager) issued() <-chan struct{} { return m.issuedCh }

// loadFromDisk installs the saved certificate when it is still usable. It
// reports whether it did; a missing file is not an error worth logging.
func (m *certManager) loadFromDisk() bool {
	c, err := m.spec.load(m.clock.Now())
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			m.log.Info("saved certificate not reused", "err", err)
		}
		return false
	}
	m.log.Info("reusing saved certificate", "serial", serial(c), "notAfter", c.Leaf.NotAfter)
	m.set(c)
	return true
}

// set makes c current and returns the certificate it replaced.
func (m *certManager) set(c *tls.Certificate) *tls.Certificate {
	old := m.cur.Swap(c)
	m.once.Do(func() { close(m.issuedCh) })
	return old
}

// install saves a newly issued certificate and makes it current. A save
// failure is logged, not fatal: the certificate still works in memory.
func (m *certManager) install(got issued) {
	if err := writeFileAtomic(m.spec.file, got.pem, 0o600); err != nil {
		m.log.Error("save certificate", "err", err)
	}
	old := m.set(got.cert)
	m.log.Info("certificate issued", "csr", got.csr, "serial", serial(got.cert), "notAfter", got.cert.Leaf.NotAfter)
	if old != nil && m.onRotate != nil {
		m.onRotate(old, got.cert)
	}
}

// run obtains the certificate when there is none, then renews it at each
// rotation deadline, as client's identity, until ctx ends.
func (m *certManager) run(ctx context.Context, client kubernetes.Interface) {
	for {
		if cur := m.current(); cur != nil {
			deadline := rotationDeadline(cur.Leaf, 0.7+0.2*rand.Float64())
			m.log.Debug("rotation scheduled", "serial", serial(cur), "deadline", deadline)
			if err := sleep(ctx, m.clock, deadline.Sub(m.clock.Now())); err != nil {
				return
			}
			m.log.Info("rotating certificate", "serial", serial(cur), "deadline", deadline)
		}
		var got issued
		err := m.retry.do(ctx, "request "+m.spec.kind+" certificate", backoff(time.Second, 5*time.Minute), func(ctx context.Context) error {
			key, err := newKey()
			if err != nil {
				return err
			}
			got, err = requestCert(ctx, client, m.spec, key, "", m.log)
			return err
		})
		if ctx.Err() != nil {
			return
		}
		if err != nil { // denied: try again later with a new key
			if sleep(ctx, m.clock, deniedRenewalPause) != nil {
				return
			}
			continue
		}
		m.install(got)
	}
}
