package cloud

import (
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/kelp-dev/kelp/internal/catalog"
)

// InstanceState is an instance's place in its lifecycle, as kelp needs it:
// a member of a group is Running only once the group has it InService.
type InstanceState string

// Instance states.
const (
	// InstanceStateUnknown is any state kelp does not act on (Standby,
	// Detaching, stopped, a warm pool, or a state it does not know).
	InstanceStateUnknown InstanceState = "Unknown"
	// InstanceStatePending: launched, not yet in service.
	InstanceStatePending InstanceState = "Pending"
	// InstanceStateRunning: running and, for a group member, InService.
	InstanceStateRunning InstanceState = "Running"
	// InstanceStateTerminating: being taken out of service or shut down.
	InstanceStateTerminating InstanceState = "Terminating"
	// InstanceStateTerminated: gone; the cloud still reports it for a while.
	InstanceStateTerminated InstanceState = "Terminated"
)

// Active reports whether the instance is Pending or Running: it counts
// toward its group's size and may still become (or be) a node.
func (s InstanceState) Active() bool {
	return s == InstanceStatePending || s == InstanceStateRunning
}

// Gone reports whether the instance is Terminating or Terminated.
func (s InstanceState) Gone() bool {
	return s == InstanceStateTerminating || s == InstanceStateTerminated
}

// Instance is one virtual machine as the cloud reports it. It is a plain
// value: copies share nothing but the PrivateIPs backing array, which
// callers must not modify.
type Instance struct {
	ID         string // e.g. i-0123456789abcdef0
	ProviderID string // the Node's spec.providerID: aws:///<zone>/<id>
	// PrivateIPs are the instance's private IPv4 addresses, the primary one
	// (of the primary network interface, which its private DNS name names)
	// first, then every other one of its network interfaces. The CSR
	// policy's strict serving-SAN setting accepts PrivateIPs[0] alone.
	PrivateIPs       []string
	PrivateDNSName   string // "" once terminated
	AvailabilityZone string
	InstanceType     string
	CapacityType     catalog.CapacityType
	ImageID          string
	LaunchTime       time.Time
	State            InstanceState
	// CloudState is the cloud's own name of the state (an Auto Scaling
	// lifecycle state such as "Pending:Wait", or an EC2 state), for
	// messages.
	CloudState string
	// GroupName is the Auto Scaling group, "" for an instance of none.
	GroupName string
	// Pool is the instance's kelp.dev/pool tag, "" without one.
	Pool string
	// Error says why the cloud stopped or failed the instance (a failed
	// boot, a spot interruption); nil when it did not, or when a user
	// terminated it.
	Error *InstanceError
	// LeaveCause is why the group is terminating the instance, in the
	// cloud's words (the Cause of its scaling activity, e.g. "... taken out
	// of service in response to an instance refresh"); "" while it is not
	// leaving or the cloud does not say.
	LeaveCause string
}

// Clone returns a copy that shares nothing with i.
func (i Instance) Clone() Instance {
	i.PrivateIPs = slices.Clone(i.PrivateIPs)
	if i.Error != nil {
		e := *i.Error
		i.Error = &e
	}
	return i
}

// InstanceError is the cloud's reason for stopping an instance.
type InstanceError struct {
	Code    string // e.g. Server.SpotInstanceTermination
	Message string
}

func (e *InstanceError) Error() string { return e.Code + ": " + e.Message }

// providerIDPattern is aws:///<zone>/<id>; the zone may be empty
// (aws:////i-...), as some installers write it.
var providerIDPattern = regexp.MustCompile(`^aws:///([a-z0-9-]*)/(i-[0-9a-f]{8,17})$`)

// ProviderID returns the spec.providerID of the instance in zone:
// aws:///<zone>/<id>.
func ProviderID(zone, instanceID string) string {
	return "aws:///" + zone + "/" + instanceID
}

// ParseProviderID splits aws:///<zone>/<instance-id> into its zone (maybe
// "") and instance id. Anything else is an error wrapping
// ErrInvalidProviderID.
func ParseProviderID(providerID string) (zone, instanceID string, err error) {
	m := providerIDPattern.FindStringSubmatch(providerID)
	if m == nil {
		return "", "", fmt.Errorf("parse provider id %q: want aws:///<zone>/<instance-id>: %w", providerID, ErrInvalidProviderID)
	}
	return m[1], m[2], nil
}
