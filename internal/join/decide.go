package join

import (
	"slices"
	"time"

	"github.com/kelp-dev/kelp/internal/cloud"
)

// DefaultJoinWindow is how recently an instance must have been launched to
// join; the approver's default join window.
const DefaultJoinWindow = 30 * time.Minute

// Facts are the cloud's and the cluster's facts about the instance STS
// vouched for. The caller resolves every field before calling [Decide].
type Facts struct {
	Identity Identity
	// Request is the checked join request.
	Request Request
	// Instance is the instance of Identity.InstanceID; nil when the cloud
	// does not know it.
	Instance *cloud.Instance
	// ProfileRoles are the roles of the instance's instance profile.
	ProfileRoles []string
	// ManagedGroups maps every group this cluster manages to its pool (""
	// for a group that is not a kelp pool), as approver.Facts does.
	ManagedGroups map[string]string
	// Joined says why the instance already joined ("" when it did not):
	// kelp approved a CSR of it, or a Node of its name exists.
	Joined     string
	Now        time.Time
	JoinWindow time.Duration
}

// Decision is an accepted join, with the facts it was accepted on (the
// instance claim records them for `kelp csr explain`).
type Decision struct {
	InstanceID string
	NodeName   string
	Pool       string
	// Group is the instance's group; ProfileRoles its instance profile's
	// roles (they carry the session's role).
	Group        string
	ProfileRoles []string
	// LaunchTime is the instance's; JoinWindow the window it was within.
	LaunchTime time.Time
	JoinWindow time.Duration
}

// Decide returns the Decision for f or a *Refusal, checking in order: the
// instance exists, carries the session's role in its instance profile, is
// in a managed kelp pool, is active, was launched within the join window,
// has the requested node name as its private DNS name, and has not joined
// before. It reads no clock.
func Decide(f Facts) (Decision, error) {
	id := f.Identity.InstanceID
	inst := f.Instance
	if inst == nil {
		return Decision{}, refuse(ReasonNotInManagedPool, "instance %s: the cloud does not know it", id)
	}
	if !slices.Contains(f.ProfileRoles, f.Identity.Role) {
		return Decision{}, refuse(ReasonProfileMismatch, "instance %s: its instance profile's roles %q do not include %s", id, f.ProfileRoles, f.Identity.Role)
	}
	pool, managed := f.ManagedGroups[inst.GroupName]
	if inst.GroupName == "" || !managed || pool == "" {
		return Decision{}, refuse(ReasonNotInManagedPool, "instance %s: group %q is not a kelp pool of this cluster", id, inst.GroupName)
	}
	if !inst.State.Active() {
		return Decision{}, refuse(ReasonInstanceNotActive, "instance %s is %s (%s)", id, inst.State, inst.CloudState)
	}
	window := f.JoinWindow
	if window == 0 {
		window = DefaultJoinWindow
	}
	if age := f.Now.Sub(inst.LaunchTime); age > window {
		return Decision{}, refuse(ReasonOutsideJoinWindow, "instance %s was launched %s ago, before the join window of %s", id, age.Round(time.Second), window)
	}
	if inst.PrivateDNSName == "" || f.Request.NodeName != inst.PrivateDNSName {
		return Decision{}, refuse(ReasonWrongNodeName, "instance %s asks for node %q; its private DNS name is %q", id, f.Request.NodeName, inst.PrivateDNSName)
	}
	if f.Joined != "" {
		return Decision{}, refuse(ReasonAlreadyJoined, "instance %s joined before: %s", id, f.Joined)
	}
	return Decision{InstanceID: id, NodeName: inst.PrivateDNSName, Pool: pool, Group: inst.GroupName,
		ProfileRoles: slices.Clone(f.ProfileRoles), LaunchTime: inst.LaunchTime, JoinWindow: window}, nil
}
