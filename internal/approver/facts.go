package approver

import (
	"errors"
	"fmt"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// InstanceState is the lifecycle state of a cloud instance as the policy
// sees it. The controller maps provider states onto these; anything it
// cannot map is InstanceUnknown.
type InstanceState string

const (
	InstancePending     InstanceState = "pending"
	InstanceRunning     InstanceState = "running"
	InstanceTerminating InstanceState = "terminating"
	InstanceTerminated  InstanceState = "terminated"
	InstanceUnknown     InstanceState = "unknown"
)

// Instance is what the cloud says about one instance. It is a plain value
// resolved by the controller; the policy never calls the cloud.
type Instance struct {
	// ID is the provider's instance ID (i-0123456789abcdef0).
	ID string
	// ProviderID is the Kubernetes providerID of the instance
	// (aws:///<zone>/<id>).
	ProviderID string
	State      InstanceState
	// GroupName is the Auto Scaling group holding the instance, "" if none.
	GroupName string
	// Pool is the kelp.dev/pool tag value of GroupName; "" when the group
	// is not a kelp pool.
	Pool string
	// Managed is true when GroupName is an ASG this cluster manages
	// (tagged kubernetes.io/cluster/<cluster>=owned).
	Managed bool
	// PrivateDNSName is the instance's private DNS name, which kelp uses as
	// the node name.
	PrivateDNSName string
	// PrivateIPs are the instance's private IPv4 and IPv6 addresses in
	// textual form.
	PrivateIPs []string
	LaunchTime time.Time
}

// Approval is kelp's own record that a new-node client certificate was
// approved for an instance. The record outlives the CSR, which
// kube-controller-manager garbage-collects.
type Approval struct {
	// CSRName and CSRUID identify the approved CSR. Deciding the same CSR
	// (same UID) again is not a replay.
	CSRName string
	CSRUID  types.UID
	At      time.Time
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
	InstancesByName []Instance
	// CloudErr is non-nil when looking up InstancesByName or NodeInstance
	// failed; the policy then leaves facts that depend on the cloud pending.
	CloudErr error
	// Node is the Node named like the requested node name, nil if none.
	Node *corev1.Node
	// NodeInstance is the instance named by Node.Spec.ProviderID, nil when
	// there is no Node, no providerID, or no such instance.
	NodeInstance *Instance
	// PriorApprovals maps instance ID to kelp's record of the new-node
	// client certificate it approved for that instance.
	PriorApprovals map[string]Approval
	// PendingNodeCSRs is the number of pending CSRs of the kubelet client
	// signer from bootstrap requestors; Nodes the number of Nodes. New-node
	// approvals pause while PendingNodeCSRs > Nodes + Config.FloodHeadroom.
	PendingNodeCSRs int
	Nodes           int
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
	// FloodHeadroom is how many pending new-node CSRs beyond the number of
	// Nodes are tolerated before new-node approvals pause.
	FloodHeadroom int
	// ClusterName names the cluster in messages.
	ClusterName string
}

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
	if c.ClusterName == "" {
		errs = append(errs, errors.New("cluster name: must not be empty"))
	}
	return errors.Join(errs...)
}
