package cloud

import (
	"context"
	"fmt"
	"time"
)

// Lifecycle hooks hold an instance in a wait state while kelp works on it:
// on AWS, a termination hook keeps a leaving instance in Terminating:Wait
// until it is completed, or until its heartbeat timeout passes without a
// heartbeat and the hook's default result applies.

// Auto Scaling lifecycle states of Instance.CloudState that kelp acts on.
const (
	// LifecycleTerminatingWait: the instance waits in a termination hook;
	// its State is InstanceStateTerminating.
	LifecycleTerminatingWait = "Terminating:Wait"
	// LifecycleTerminatingProceed: every termination hook completed; the
	// instance is being shut down (InstanceStateTerminating).
	LifecycleTerminatingProceed = "Terminating:Proceed"
	// LifecyclePendingWait: the instance waits in a launch hook
	// (InstanceStatePending).
	LifecyclePendingWait = "Pending:Wait"
)

// WaitingToTerminate reports whether the instance waits in a termination
// lifecycle hook (Terminating:Wait): it is leaving its group, still runs,
// and goes only once every hook of its group is completed or timed out.
func (i Instance) WaitingToTerminate() bool {
	return i.State == InstanceStateTerminating && i.CloudState == LifecycleTerminatingWait
}

// WaitingToTerminate returns the instances of groups that wait in a
// termination hook, in group order then by ID. Whether one waits on kelp's
// hook is known only to its group's hooks: completing kelp's hook for an
// instance that is not held by it is ErrNotFound.
func WaitingToTerminate(groups []NodeGroup) []Instance {
	var out []Instance
	for _, g := range groups {
		for _, inst := range g.Instances {
			if inst.WaitingToTerminate() {
				out = append(out, inst.Clone())
			}
		}
	}
	return out
}

// LifecycleResult is what a completed lifecycle action tells the group:
// for a termination hook both let the instance go, CONTINUE also running
// the group's other hooks.
type LifecycleResult string

// Lifecycle action results.
const (
	LifecycleContinue LifecycleResult = "CONTINUE"
	LifecycleAbandon  LifecycleResult = "ABANDON"
)

// Validate returns an error unless r is CONTINUE or ABANDON.
func (r LifecycleResult) Validate() error {
	if r != LifecycleContinue && r != LifecycleAbandon {
		return fmt.Errorf("lifecycle result %q: want CONTINUE or ABANDON", string(r))
	}
	return nil
}

// LifecycleAction names one instance held by one hook of its group. Token,
// when known (from the hook's notification), names the action; otherwise
// the instance ID does.
type LifecycleAction struct {
	Group      string
	Hook       string
	InstanceID string
	Token      string
}

func (a LifecycleAction) String() string {
	return fmt.Sprintf("lifecycle hook %s of group %s for instance %s", a.Hook, a.Group, a.InstanceID)
}

// LifecycleActions acts on instances held by a lifecycle hook: the drain
// controller's side of kelp's termination hook. An action that does not
// exist (the instance is not held by the hook: never was, or the hook
// already completed or timed out) is ErrNotFound.
type LifecycleActions interface {
	// Heartbeat restarts the hook's heartbeat timeout for the action, so
	// the instance keeps waiting while kelp works. The global timeout
	// (min(48 h, 100 × the heartbeat timeout) on AWS) still applies.
	Heartbeat(ctx context.Context, a LifecycleAction) error
	// Complete ends the action with result: the instance goes on.
	Complete(ctx context.Context, a LifecycleAction, result LifecycleResult) error
}

// LifecycleHook is a lifecycle hook of a group as the cloud reports it.
type LifecycleHook struct {
	Name string
	// Transition is the cloud's name of what the hook holds, e.g.
	// autoscaling:EC2_INSTANCE_TERMINATING.
	Transition string
	// HeartbeatTimeout is how long an instance waits without a heartbeat
	// or completion before DefaultResult applies.
	HeartbeatTimeout time.Duration
	// GlobalTimeout is the longest an instance waits, heartbeats or not.
	GlobalTimeout time.Duration
	DefaultResult LifecycleResult
	// Metadata is the notification metadata sent with every action.
	Metadata string
}
