package localcloud

import (
	"context"
	"time"

	"github.com/kelp-dev/kelp/internal/catalog"
)

// Runtime runs the local instances. The cloud calls Boot when an instance
// it launched leaves Pending (after the boot delay) and again, under the
// same id, for every instance that survived a restart; Stop when the
// instance terminates and when the cloud closes.
//
// Boot should start the instance (for kelp: decode the cloud-init user-data
// and start a node agent) and return once it is running. A nil error moves
// the instance to InService; an error fails it: the instance terminates and
// its launch activity is Failed with the error as status message. ctx ends
// when the cloud closes.
//
// Stop must be idempotent, must not block for long, and may be called for
// an instance whose Boot failed, is still running, or never happened. When
// the cloud closes, Stop is called for every running instance that is not
// terminated: the next Boot of the same id resumes it.
type Runtime interface {
	Boot(ctx context.Context, inst InstanceInfo, userData []byte) error
	Stop(instanceID string)
}

// SpotInterruptionNotifier is implemented by a Runtime that wants to know
// about spot interruption notices (say, to serve
// /latest/meta-data/spot/instance-action). The cloud calls it when the
// notice is given; the instance terminates at terminateAt.
type SpotInterruptionNotifier interface {
	NotifySpotInterruption(instanceID string, terminateAt time.Time)
}

// InstanceInfo is what a Runtime knows of an instance: everything an EC2
// instance-identity document and the kubelet's providerID need.
type InstanceInfo struct {
	ID                 string
	InstanceType       string
	Architecture       string // x86_64 | arm64
	ImageID            string
	Region             string
	AvailabilityZone   string
	AvailabilityZoneID string
	SubnetID           string
	VPCID              string
	AccountID          string
	PrivateIP          string
	PrivateDNSName     string
	CapacityType       catalog.CapacityType // on-demand | spot
	GroupName          string               // the Auto Scaling group
	LaunchTime         time.Time
	Tags               map[string]string
}

// ProviderID returns the Kubernetes node providerID, aws:///<az>/<id>.
func (i InstanceInfo) ProviderID() string {
	return "aws:///" + i.AvailabilityZone + "/" + i.ID
}

// NopRuntime boots nothing: every Boot succeeds at once. It serves tests of
// the API alone.
type NopRuntime struct{}

// Boot implements Runtime.
func (NopRuntime) Boot(context.Context, InstanceInfo, []byte) error { return nil }

// Stop implements Runtime.
func (NopRuntime) Stop(string) {}

var _ Runtime = NopRuntime{}
