package nodeagent

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"path/filepath"
	"time"

	"k8s.io/utils/clock"

	"github.com/kelp-dev/kelp/internal/userdata"
)

// Files an agent writes under its root directory.
const (
	// PKIDir holds the agent's certificates.
	PKIDir = "/var/lib/kelp/pki"
	// KubeconfigPath is the node identity's kubeconfig, written after the
	// TLS bootstrap; it refers to the client certificate file.
	KubeconfigPath = "/var/lib/kelp/kubeconfig"

	clientCertFile  = "kelp-client-current.pem"
	servingCertFile = "kelp-server-current.pem"
	// bootstrapKeyFile keeps the bootstrap key across restarts so a
	// restarted agent finds its pending CSR instead of filing another.
	bootstrapKeyFile = "kelp-client.key.tmp"
)

// Version strings the agent reports in NodeInfo.
const (
	KubeletVersion          = "v1.37.2"
	ContainerRuntimeVersion = "kelp://simulated"
)

// Config configures one Agent.
type Config struct {
	// Root stands in for the instance's filesystem root: the agent reads
	// userdata.LocalBootstrapKubeconfigPath (or, in identity mode,
	// userdata.LocalJoinConfigPath), userdata.LocalNodeConfigPath and
	// IdentityPath under it and writes under PKIDir and KubeconfigPath.
	Root string
	// Clock drives leases, heartbeats, pod grace periods, retries and
	// certificate rotation. Default: the real clock.
	Clock clock.WithTicker
	// Logger receives the agent's logs, with node=<name> added. Default:
	// slog.Default().
	Logger *slog.Logger
	// Tuning holds optional knobs; zero fields take their defaults.
	Tuning Tuning
	// Join runs the identity join when the root holds
	// userdata.LocalJoinConfigPath and neither a bootstrap kubeconfig nor
	// a node kubeconfig; required then.
	Join Joiner
}

// Tuning holds an agent's timing and size knobs. Zero fields mean the
// default given on each.
type Tuning struct {
	// LeaseDuration is the Lease's leaseDurationSeconds. Default 40s.
	LeaseDuration time.Duration
	// LeaseRenewInterval is how often the Lease is renewed. Default 10s.
	LeaseRenewInterval time.Duration
	// StatusReportInterval is how often node status is posted when nothing
	// changed (the kubelet's nodeStatusReportFrequency). Default 1m.
	StatusReportInterval time.Duration
	// PodCIDR is the cluster pod network; each node takes a /24 of it
	// derived from its private IP. Must be IPv4, /24 or wider. Default
	// 10.244.0.0/16.
	PodCIDR netip.Prefix
	// ServingPort is the HTTPS port on the private IP. Default 10250.
	ServingPort int
	// ClientCertLifetime, when set, is requested as the client CSR's
	// expirationSeconds (the API's minimum is 10 minutes); the signer may
	// shorten it. Default: the signer's default.
	ClientCertLifetime time.Duration
	// ServingCertLifetime is the same for the serving certificate.
	ServingCertLifetime time.Duration
	// QPS and Burst limit the agent's API requests. Defaults 20 and 40.
	QPS   float32
	Burst int
}

// minCertLifetime is the shortest expirationSeconds the API accepts.
const minCertLifetime = 10 * time.Minute

// withDefaults returns t with zero fields defaulted.
func (t Tuning) withDefaults() Tuning {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&t.LeaseDuration, 40*time.Second)
	def(&t.LeaseRenewInterval, 10*time.Second)
	def(&t.StatusReportInterval, time.Minute)
	if !t.PodCIDR.IsValid() {
		t.PodCIDR = netip.MustParsePrefix("10.244.0.0/16")
	}
	if t.ServingPort == 0 {
		t.ServingPort = 10250
	}
	if t.QPS == 0 {
		t.QPS = 20
	}
	if t.Burst == 0 {
		t.Burst = 40
	}
	return t
}

// validate returns every problem with a defaulted Tuning.
func (t Tuning) validate() error {
	var errs []error
	positive := func(name string, d time.Duration) {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("tuning.%s %s: must be positive", name, d))
		}
	}
	positive("leaseDuration", t.LeaseDuration)
	positive("leaseRenewInterval", t.LeaseRenewInterval)
	positive("statusReportInterval", t.StatusReportInterval)
	if t.LeaseDuration > 0 && t.LeaseDuration%time.Second != 0 {
		errs = append(errs, fmt.Errorf("tuning.leaseDuration %s: must be whole seconds", t.LeaseDuration))
	}
	if t.LeaseRenewInterval >= t.LeaseDuration {
		errs = append(errs, fmt.Errorf("tuning.leaseRenewInterval %s: must be shorter than leaseDuration %s", t.LeaseRenewInterval, t.LeaseDuration))
	}
	if !t.PodCIDR.Addr().Is4() || t.PodCIDR.Bits() > nodePodPrefixBits {
		errs = append(errs, fmt.Errorf("tuning.podCIDR %s: must be an IPv4 prefix of /%d or wider", t.PodCIDR, nodePodPrefixBits))
	}
	if t.ServingPort < 1 || t.ServingPort > 65535 {
		errs = append(errs, fmt.Errorf("tuning.servingPort %d: must be in 1-65535", t.ServingPort))
	}
	lifetime := func(name string, d time.Duration) {
		if d != 0 && d < minCertLifetime {
			errs = append(errs, fmt.Errorf("tuning.%s %s: must be 0 or at least %s", name, d, minCertLifetime))
		}
	}
	lifetime("clientCertLifetime", t.ClientCertLifetime)
	lifetime("servingCertLifetime", t.ServingCertLifetime)
	if t.QPS < 0 || t.Burst < 0 {
		errs = append(errs, fmt.Errorf("tuning qps %v, burst %d: must not be negative", t.QPS, t.Burst))
	}
	return errors.Join(errs...)
}

// paths are the agent's files, resolved under its root.
type paths struct {
	bootstrapKubeconfig string
	joinConfig          string
	nodeConfig          string
	kubeconfig          string
	clientCert          string
	servingCert         string
	bootstrapKey        string
}

func newPaths(root string) paths {
	pki := filepath.Join(root, PKIDir)
	return paths{
		bootstrapKubeconfig: filepath.Join(root, userdata.LocalBootstrapKubeconfigPath),
		joinConfig:          filepath.Join(root, userdata.LocalJoinConfigPath),
		nodeConfig:          filepath.Join(root, userdata.LocalNodeConfigPath),
		kubeconfig:          filepath.Join(root, KubeconfigPath),
		clientCert:          filepath.Join(pki, clientCertFile),
		servingCert:         filepath.Join(pki, servingCertFile),
		bootstrapKey:        filepath.Join(pki, bootstrapKeyFile),
	}
}
