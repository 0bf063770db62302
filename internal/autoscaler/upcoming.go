package autoscaler

import (
	"slices"
	"time"

	"github.com/kelp-dev/kelp/internal/cloud"
)

// InstanceNode is what the cluster says of an instance's Node.
type InstanceNode struct {
	// Registered: a Node names the instance in its spec.providerID.
	Registered bool
	// Ready: that Node is Ready.
	Ready bool
	// Created is when the Node was created.
	Created time.Time
}

// UpcomingInput is what [Upcoming] reads of one group.
type UpcomingInput struct {
	Group cloud.NodeGroup
	// Nodes maps a providerID to its instance's Node; an instance absent
	// from it has not registered.
	Nodes map[string]InstanceNode
	// Preceding holds the activity IDs of the group's failed launches
	// already reported when the caller last raised its target: the
	// capacity asked for after them is not held back by them (nil when the
	// caller has not raised it).
	Preceding map[string]bool
	// ProvisionTime is how long an instance may take to become a Ready
	// node (MaxNodeProvisionTime); Now is the time of the decision.
	ProvisionTime time.Duration
	Now           time.Time
}

// Upcoming returns a group's upcoming capacity in nodes: what it was asked
// for that is not a Ready node yet but is still expected to become one.
// That is
//   - each active instance not yet Ready and still within ProvisionTime:
//     registered, counted from its Node's creation; not registered, from
//     its LaunchTime (an instance without one counts);
//   - plus TargetSize − active instances, only while the group has no
//     unresolved launch failure ([cloud.NodeGroup.UnresolvedLaunches])
//     other than those Preceding its last raise: a group whose launches
//     fail, even one held at its MinSize, offers no phantom capacity, so
//     pending pods go to another group at once.
func Upcoming(in UpcomingInput) int {
	g := in.Group
	active, waiting := 0, 0
	for _, inst := range g.Instances {
		if !inst.State.Active() {
			continue
		}
		active++
		n := in.Nodes[inst.ProviderID]
		switch {
		case n.Ready:
		case n.Registered:
			if in.Now.Sub(n.Created) < in.ProvisionTime {
				waiting++
			}
		case inst.LaunchTime.IsZero() || in.Now.Sub(inst.LaunchTime) < in.ProvisionTime:
			waiting++
		}
	}
	missing := g.TargetSize - active
	if missing > 0 && slices.ContainsFunc(g.UnresolvedLaunches(), func(e cloud.GroupError) bool { return !in.Preceding[e.ActivityID] }) {
		missing = 0
	}
	return max(waiting+missing, 0)
}
