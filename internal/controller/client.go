package controller

import (
	"fmt"

	"k8s.io/client-go/rest"
)

// ClientLimits are the client-side rate limits of the controller's
// Kubernetes client (client-go's default, 5 QPS with bursts of 10, is
// too low for a controller that evicts, cordons and approves in bursts).
type ClientLimits struct {
	// QPS is the sustained rate of requests per second; Burst how many may
	// go at once above it.
	QPS   float32
	Burst int
}

// Defaults of ClientLimits.
const (
	DefaultKubeAPIQPS   = 100
	DefaultKubeAPIBurst = 200
)

// WithDefaults returns l with zero fields set to their defaults.
func (l ClientLimits) WithDefaults() ClientLimits {
	if l.QPS == 0 {
		l.QPS = DefaultKubeAPIQPS
	}
	if l.Burst == 0 {
		l.Burst = DefaultKubeAPIBurst
	}
	return l
}

// Validate returns an error naming the field that is out of range.
func (l ClientLimits) Validate() error {
	l = l.WithDefaults()
	switch {
	case l.QPS < 0:
		return fmt.Errorf("kube client qps %g: must be positive", l.QPS)
	case l.Burst < 0:
		return fmt.Errorf("kube client burst %d: must be positive", l.Burst)
	case float32(l.Burst) < l.QPS:
		return fmt.Errorf("kube client burst %d: must be at least the qps (%g)", l.Burst, l.QPS)
	}
	return nil
}

// Apply sets the limits (after defaults) on cfg, a copy of which the
// controller's client is built from.
func (l ClientLimits) Apply(cfg *rest.Config) {
	l = l.WithDefaults()
	cfg.QPS, cfg.Burst = l.QPS, l.Burst
}
