package cli

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/pflag"

	"github.com/kelp-dev/kelp/internal/approver"
)

// policyFlags tune kelp's CSR policy: the controller, `kelp up`, `kelp csr
// explain` and `kelp csr approve` take the same ones, so a verdict shown by
// hand is the controller's.
type policyFlags struct {
	joinWindow    time.Duration
	servingSANs   string
	floodHeadroom int
}

func (f *policyFlags) add(fs *pflag.FlagSet) {
	fs.DurationVar(&f.joinWindow, "join-window", approver.DefaultJoinWindow, "how recently an instance must have launched for its first CSR to be approved")
	fs.StringVar(&f.servingSANs, "serving-sans", string(approver.SANsAnyPrivateIP),
		"IP SANs a kubelet serving certificate may carry: any-private-ip (any private IP of any of the instance's network interfaces, which VPC CNIs need) or primary-ip (the primary private IP and the private DNS name only)")
	fs.IntVar(&f.floodHeadroom, "flood-headroom", approver.DefaultFloodHeadroom,
		"how many pending new-node CSRs beyond the number of Nodes are approved at a time, oldest first (at least 1)")
}

// config returns the policy's settings for cluster, or an error naming
// each bad flag.
func (f *policyFlags) config(cluster string) (approver.Config, error) {
	var errs []error
	sans := approver.ServingSANPolicy(f.servingSANs)
	if sans != approver.SANsAnyPrivateIP && sans != approver.SANsPrimaryIP {
		errs = append(errs, fmt.Errorf("--serving-sans %q: want %s or %s", f.servingSANs, approver.SANsAnyPrivateIP, approver.SANsPrimaryIP))
	}
	if f.floodHeadroom < 1 {
		errs = append(errs, fmt.Errorf("--flood-headroom %d: must be at least 1", f.floodHeadroom))
	}
	if f.joinWindow < time.Minute {
		errs = append(errs, fmt.Errorf("--join-window %s: must be at least 1m", f.joinWindow))
	}
	cfg := approver.Config{ClusterName: cluster, JoinWindow: f.joinWindow, ServingSANs: sans, FloodHeadroom: f.floodHeadroom}
	return cfg.WithDefaults(), errors.Join(errs...)
}
