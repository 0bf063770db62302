package autoscaler

import (
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

// Upcoming returns a group's upcoming capacity in nodes: what it was asked
// for that is not a Ready node yet but is still expected to become one.
// That is
//   - each active instance not yet Ready and still within provisionTime:
//     registered, counted from its Node's creation; not registered, from
//     its LaunchTime (an instance without one counts);
//   - plus TargetSize − active instances, only while the group has no
//     unresolved launch failure ([cloud.NodeGroup.UnresolvedLaunches]):
//     a group whose launches fail, even one held at its MinSize, offers no
//     phantom capacity, so pending pods go to another group at once.
//
// nodes maps a providerID to its instance's Node; an instance absent from
// it has not registered.
func Upcoming(g cloud.NodeGroup, nodes map[string]InstanceNode, provisionTime time.Duration, now time.Time) int {
	active, waiting := 0, 0
	for _, inst := range g.Instances {
		if !inst.State.Active() {
			continue
		}
		active++
		n := nodes[inst.ProviderID]
		switch {
		case n.Ready:
		case n.Registered:
			if now.Sub(n.Created) < provisionTime {
				waiting++
			}
		case inst.LaunchTime.IsZero() || now.Sub(inst.LaunchTime) < provisionTime:
			waiting++
		}
	}
	missing := g.TargetSize - active
	if missing > 0 && len(g.UnresolvedLaunches()) > 0 {
		missing = 0
	}
	return max(waiting+missing, 0)
}
