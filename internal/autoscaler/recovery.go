package autoscaler

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/kelp-dev/kelp/internal/cloud"
)

// RecoveryInput is what [PlanRecovery] needs, resolved by the caller.
type RecoveryInput struct {
	// Groups are the node groups as read this cycle.
	Groups []cloud.NodeGroup
	// Launches are the failed launches new this cycle (a
	// cloud.LaunchCursor's Next), oldest first.
	Launches []cloud.GroupError
	// Unregistered lists, per group ID, its active instances that have not
	// registered a Node (in the group's Instances order).
	Unregistered map[string][]cloud.Instance
	// Existing counts, per group ID, its active instances: Ready, registered
	// or not.
	Existing map[string]int
	// MaxNodeProvisionTime is how long an instance may take to register.
	MaxNodeProvisionTime time.Duration
	// Now is the time of the decision.
	Now time.Time
}

// Recovery is the decision of [PlanRecovery]: for every group whose
// launches failed or whose instances did not register a Node in time, what
// to do, sorted by group ID.
type Recovery struct {
	Groups []GroupRecovery
}

// Failure kinds, the reasons of a backoff as metrics label them.
const (
	KindInsufficientCapacity = "insufficient-capacity"
	KindQuotaExceeded        = "quota-exceeded"
	KindLaunchFailed         = "launch-failed"
	KindProvisionTimeout     = "provision-timeout"
	KindScaleUpFailed        = "scale-up-failed"
)

// GroupRecovery is what to do about one failing group.
type GroupRecovery struct {
	Group string
	// Terminate are the instances that did not register a Node within
	// MaxNodeProvisionTime: terminate them with the group's size lowered
	// (cloud.Scaler.DeleteInstances).
	Terminate []string
	// Kept are instances as stuck as those, that the group needs for its
	// MinSize (terminating with the size lowered cannot go below it): they
	// are left to the cloud's health checks and do not back the group off.
	Kept []string
	// BackOff says why the group is backed off; "" when it is not (only
	// Kept instances).
	BackOff string
	// Kinds has one failure kind per failure seen (Kind*): one per failed
	// launch, one for the stuck instances.
	Kinds []string

	known                         bool // the group is in the input's Groups
	minSize, targetSize, existing int
}

// TargetAfter returns the group's target size once terminated of its
// Terminate instances are terminated (each lowers it by one, down to
// MinSize).
func (r GroupRecovery) TargetAfter(terminated int) int {
	if terminated == 0 {
		return r.targetSize
	}
	return max(r.minSize, r.targetSize-terminated)
}

// LowerTo returns the target size a backed-off group is lowered to once
// terminated of its Terminate instances are terminated: the instances it
// has, at least MinSize, so the cloud stops retrying the failing launches.
// lower is false when that is not below the group's target then, when the
// group is not backed off, or is not among the input's Groups.
func (r GroupRecovery) LowerTo(terminated int) (target int, lower bool) {
	if r.BackOff == "" || !r.known {
		return 0, false
	}
	have := max(r.minSize, r.existing-terminated)
	return have, have < r.TargetAfter(terminated)
}

// PlanRecovery decides how the groups recover from failed launches and from
// instances that did not register a Node within MaxNodeProvisionTime: which
// instances to terminate, which groups to back off and why, and (through
// [GroupRecovery.LowerTo]) what to lower their targets to. A failed launch
// that a successful launch of its group already followed
// ([cloud.NodeGroup.Resolved]: a mixed-instances group that skipped a type
// and launched another) backs nothing off. A Node that
// registered and later went NotReady is not its concern: its instance runs
// and may recover. It never mutates the input.
func PlanRecovery(in RecoveryInput) Recovery {
	byID := map[string]*GroupRecovery{}
	get := func(id string) *GroupRecovery {
		if r := byID[id]; r != nil {
			return r
		}
		r := &GroupRecovery{Group: id}
		byID[id] = r
		return r
	}
	groups := make(map[string]cloud.NodeGroup, len(in.Groups))
	for _, g := range in.Groups {
		groups[g.ID] = g
	}
	for _, e := range in.Launches {
		if g, ok := groups[e.Group]; ok && g.Resolved(e) {
			continue // another launch succeeded since (a mixed group's next type)
		}
		r := get(e.Group)
		r.BackOff = "launch failed: " + e.Error()
		r.Kinds = append(r.Kinds, LaunchFailureKind(e))
	}
	for _, g := range in.Groups {
		var stuck []string
		for _, inst := range in.Unregistered[g.ID] {
			if !inst.LaunchTime.IsZero() && in.Now.Sub(inst.LaunchTime) >= in.MaxNodeProvisionTime {
				stuck = append(stuck, inst.ID)
			}
		}
		if len(stuck) == 0 && byID[g.ID] == nil {
			continue
		}
		r := get(g.ID)
		r.known, r.minSize, r.targetSize, r.existing = true, g.MinSize, g.TargetSize, in.Existing[g.ID]
		if keep := len(stuck) - max(g.TargetSize-g.MinSize, 0); keep > 0 {
			r.Kept = stuck[len(stuck)-keep:]
			stuck = stuck[:len(stuck)-keep]
		}
		if len(stuck) > 0 {
			r.Terminate = stuck
			r.BackOff = fmt.Sprintf("%d instance(s) did not register a node within %s", len(stuck), in.MaxNodeProvisionTime)
			r.Kinds = append(r.Kinds, KindProvisionTimeout)
		}
	}
	var out Recovery
	for _, id := range slices.Sorted(maps.Keys(byID)) {
		out.Groups = append(out.Groups, *byID[id])
	}
	return out
}

// LaunchFailureKind names the kind of a failed launch.
func LaunchFailureKind(e cloud.GroupError) string {
	switch {
	case errors.Is(e, cloud.ErrInsufficientCapacity):
		return KindInsufficientCapacity
	case errors.Is(e, cloud.ErrQuotaExceeded):
		return KindQuotaExceeded
	default:
		return KindLaunchFailed
	}
}

// ScaleUpsSettled says which groups' last scale-ups are over: see
// [SettleScaleUps].
type ScaleUpsSettled struct {
	// Succeeded are the groups whose nodes all arrived: their past
	// failures are forgotten (Backoffs.Succeeded), so the next failure
	// backs them off from the start again.
	Succeeded []string
	// Over are the groups whose scale-up no longer needs watching
	// (Succeeded, and those that failed in this cycle), sorted.
	Over []string
}

// SettleScaleUps decides, for every group in groups with a scale-up being
// watched (growing maps it to the size that scale-up asked for), whether
// the scale-up is over: it failed in this cycle (failed has the group), or
// the group has at least that many Ready nodes (ready counts them).
func SettleScaleUps(groups []cloud.NodeGroup, growing, ready map[string]int, failed map[string]string) ScaleUpsSettled {
	var out ScaleUpsSettled
	for _, g := range groups {
		want, ok := growing[g.ID]
		switch _, f := failed[g.ID]; {
		case !ok:
			continue
		case f:
		case ready[g.ID] >= want:
			out.Succeeded = append(out.Succeeded, g.ID)
		default:
			continue
		}
		out.Over = append(out.Over, g.ID)
	}
	slices.Sort(out.Succeeded)
	slices.Sort(out.Over)
	return out
}
