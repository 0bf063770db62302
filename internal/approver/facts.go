package approver

import (
	"errors"
	"fmt"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kelp-dev/kelp/internal/cloud"
)

// Approval is kelp's own record that a new-node client certificate was
// approved for an instance. The record outlives the CSR, which
// kube-controller-manager garbage-collects.
type Approval struct {
	// CSRName and CSRUID identify the approved CSR. Deciding the same CSR
	// (same UID) again is not a replay.
	CSRName string
	CSRUID  types.UID
	At      time.Time
	// NodeName is the node the instance joined as ("" in records written
	// before kelp kept it).
	NodeName string
	// Certificates are the kubelet client certificates issued to the
	// instance through CSRs kelp approved (its join and its renewals),
	// until each expires. A renewal presenting a credential
	// (authentication.kubernetes.io/credential-id) is approved only when it
	// is one of these.
	Certificates []IssuedCertificate
}

// IssuedCertificate is one client certificate kelp saw issued for an
// instance.
type IssuedCertificate struct {
	// SHA256 is the lower-case hex SHA-256 of the certificate's DER bytes,
	// as the API server's credential ID spells it (X509SHA256=<hex>).
	SHA256   string
	NotAfter time.Time
	// CSRUID is the CSR it was issued through.
	CSRUID types.UID
}

// Facts is everything the policy looks at for one CSR. The controller
// resolves every field before calling [Decide]; nil or empty fields mean
// "the controller looked and found nothing", except where CloudErr says the
// lookup itself failed.
type Facts struct {
	// CSR is the request to decide. Decide does not modify it.
	CSR *certificatesv1.CertificateSigningRequest
	// InstancesByName are all instances whose private DNS name equals the
	// requested node name, in any state, so the policy sees duplicates.
	InstancesByName []cloud.Instance
	// CloudErr is non-nil when asking the cloud failed; the policy then
	// leaves facts that depend on the cloud pending. InstancesByName,
	// NodeInstance and ManagedGroups are then empty.
	CloudErr error
	// Node is the Node named like the requested node name, nil if none.
	Node *corev1.Node
	// NodeInstance is the instance named by Node.Spec.ProviderID, nil when
	// there is no Node, no providerID, or no such instance.
	NodeInstance *cloud.Instance
	// ManagedGroups maps the name of every Auto Scaling group this cluster
	// manages (tagged kubernetes.io/cluster/<cluster>=owned) to its
	// kelp.dev/pool tag, "" for a group that is not a kelp pool. An
	// instance is managed when its GroupName is a key; its pool is the
	// group's, never the instance's own kelp.dev/pool tag (Instance.Pool),
	// which the policy does not read.
	ManagedGroups map[string]string
	// PriorApprovals maps instance ID to kelp's record of that instance:
	// the new-node client certificate it approved and the certificates
	// issued to it since.
	PriorApprovals map[string]Approval
	// PendingNodeCSRs is the number of pending new-node CSRs that passed
	// the request and requestor checks (junk is not counted); PendingAhead
	// how many of them were created before this CSR (by creation time,
	// then name). Nodes is the number of Nodes. Flood control admits a
	// new-node CSR while PendingAhead < Nodes + Config.FloodHeadroom.
	PendingNodeCSRs int
	PendingAhead    int
	Nodes           int
	// ContestingCSRs names the other pending new-node CSRs that passed the
	// request and requestor checks and ask for the same node name: a
	// contested join, where neither is approved.
	ContestingCSRs []string
	// Now is the time of the decision; the policy reads no clock.
	Now    time.Time
	Config Config
}

// Defaults of [Config].
const (
	DefaultJoinWindow    = 30 * time.Minute
	DefaultMaxExpiration = 365 * 24 * time.Hour // kube-controller-manager's --cluster-signing-duration default
	DefaultFloodHeadroom = 100
	// MinExpiration is the shortest expirationSeconds the API server
	// accepts (600 s).
	MinExpiration = 10 * time.Minute
)

// Config tunes the policy. The zero value of a field means its default;
// call [Config.Validate] once when reading flags.
type Config struct {
	// JoinWindow is how recently a new instance must have been launched,
	// and how long a CSR may wait for missing facts before it is denied.
	JoinWindow time.Duration
	// MaxExpiration caps spec.expirationSeconds. A CSR without
	// expirationSeconds gets the signer's duration
	// (--cluster-signing-duration), which the operator controls.
	MaxExpiration time.Duration
	// FloodHeadroom is how many pending new-node CSRs (that passed the
	// request and requestor checks) beyond the number of Nodes are
	// approved at a time, oldest first; younger ones wait their turn.
	FloodHeadroom int
	// ClusterName names the cluster in messages.
	ClusterName string
	// ServingSANs says which IP SANs a serving certificate may carry:
	// SANsAnyPrivateIP (the default) or SANsPrimaryIP.
	ServingSANs ServingSANPolicy
}

// ServingSANPolicy is the setting --serving-sans.
type ServingSANPolicy string

const (
	// SANsAnyPrivateIP accepts any private IP of any of the instance's
	// network interfaces (VPC CNIs make secondary IPs Node addresses).
	SANsAnyPrivateIP ServingSANPolicy = "any-private-ip"
	// SANsPrimaryIP accepts only the instance's primary private IP and its
	// private DNS name.
	SANsPrimaryIP ServingSANPolicy = "primary-ip"
)

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if c.JoinWindow == 0 {
		c.JoinWindow = DefaultJoinWindow
	}
	if c.MaxExpiration == 0 {
		c.MaxExpiration = DefaultMaxExpiration
	}
	if c.FloodHeadroom == 0 {
		c.FloodHeadroom = DefaultFloodHeadroom
	}
	if c.ServingSANs == "" {
		c.ServingSANs = SANsAnyPrivateIP
	}
	return c
}

// Validate returns every problem of c (after defaults), each naming its
// field, or nil.
func (c Config) Validate() error {
	c = c.WithDefaults()
	var errs []error
	if c.JoinWindow < time.Minute {
		errs = append(errs, fmt.Errorf("join window %s: must be at least 1m", c.JoinWindow))
	}
	if c.MaxExpiration < MinExpiration {
		errs = append(errs, fmt.Errorf("max expiration %s: must be at least %s", c.MaxExpiration, MinExpiration))
	}
	if c.FloodHeadroom < 0 {
		errs = append(errs, fmt.Errorf("flood headroom %d: must not be negative", c.FloodHeadroom))
	}
	if c.ServingSANs != SANsAnyPrivateIP && c.ServingSANs != SANsPrimaryIP {
		errs = append(errs, fmt.Errorf("serving SANs %q: want %q or %q", c.ServingSANs, SANsAnyPrivateIP, SANsPrimaryIP))
	}
	if c.ClusterName == "" {
		errs = append(errs, errors.New("cluster name: must not be empty"))
	}
	return errors.Join(errs...)
}
