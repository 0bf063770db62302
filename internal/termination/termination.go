package termination

import (
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// AnnotationDrainStarted on a Node is when kelp began draining it before
// its instance goes (RFC 3339): Facts.DrainStarted, so a restarted
// controller resumes the drain within its bound.
const AnnotationDrainStarted = "kelp.dev/drain-started"

// Cause is why an instance leaves, as its Node's Events say it.
type Cause string

// Causes.
const (
	// CauseScaleIn: the group's desired count went down, or an instance was
	// terminated through the group.
	CauseScaleIn Cause = "scale-in"
	// CauseInstanceRefresh: the group replaces its instances.
	CauseInstanceRefresh Cause = "instance-refresh"
	// CauseRebalance: the group moves capacity between zones or away from a
	// spot pool at risk.
	CauseRebalance Cause = "rebalance"
	// CauseSpotInterruption: EC2 reclaims the spot instance at a deadline.
	CauseSpotInterruption Cause = "spot-interruption"
	// CauseRebalanceRecommendation: EC2 warns that the spot instance is at
	// elevated risk; nothing terminates it yet.
	CauseRebalanceRecommendation Cause = "rebalance-recommendation"
	// CauseScheduledChange: AWS Health scheduled maintenance (retirement,
	// reboot) of the instance.
	CauseScheduledChange Cause = "scheduled-change"
	// CauseUnhealthy: the group replaces an instance that failed its
	// health check.
	CauseUnhealthy Cause = "unhealthy"
	// CauseUnknown: the group holds the instance on kelp's hook for a
	// reason its activity does not say.
	CauseUnknown Cause = "unknown"
)

// Departure is one instance on its way out, as the cloud announced it.
type Departure struct {
	InstanceID string
	// Group is the instance's Auto Scaling group; Hook the lifecycle hook
	// holding it in Terminating:Wait, "" when no hook holds it (a warning
	// before the group acts, or a group without kelp's hook).
	Group, Hook string
	Cause       Cause
	// NoticedAt is when kelp learned of it.
	NoticedAt time.Time
	// Deadline is when the instance goes whatever kelp does (a spot
	// interruption's termination time, a scheduled change's start, the
	// hook's global timeout); zero when there is none.
	Deadline time.Time
}

// Facts are everything Decide looks at for one departing instance.
type Facts struct {
	Departure
	// Node is the instance's Node, nil when it has none (never joined, or
	// already deleted).
	Node *corev1.Node
	// Cordoned is whether the Node is unschedulable and carries kelp's
	// taint.
	Cordoned bool
	// PodsLeft is how many pods on the Node still have to go (DaemonSet
	// and mirror pods are not counted: they go with the node).
	PodsLeft int
	// DrainStarted is when kelp began draining the Node, zero when it has
	// not. LastHeartbeat is the last lifecycle heartbeat sent, zero when
	// none was.
	DrainStarted, LastHeartbeat time.Time
	Now                         time.Time
	Options                     Options
}

// Options bound a drain.
type Options struct {
	// MaxGracefulTermination is how long a drain may take before kelp
	// lets the instance go with pods still on it (a PodDisruptionBudget
	// that never allows an eviction, a pod that never ends).
	MaxGracefulTermination time.Duration
	// HeartbeatInterval is how often a held lifecycle action is extended.
	// It must be well below the hook's heartbeat timeout.
	HeartbeatInterval time.Duration
	// DeadlineMargin is kept free before a hard deadline, for the last
	// pods' shutdown and the Node's deletion.
	DeadlineMargin time.Duration
}

// Defaults of Options.
const (
	DefaultMaxGracefulTermination = 10 * time.Minute
	DefaultHeartbeatInterval      = time.Minute
	DefaultDeadlineMargin         = 15 * time.Second
)

// WithDefaults returns o with every zero field set to its default.
func (o Options) WithDefaults() Options {
	if o.MaxGracefulTermination == 0 {
		o.MaxGracefulTermination = DefaultMaxGracefulTermination
	}
	if o.HeartbeatInterval == 0 {
		o.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if o.DeadlineMargin == 0 {
		o.DeadlineMargin = DefaultDeadlineMargin
	}
	return o
}

// Validate returns every problem of o (after defaults), each naming its
// field, or nil.
func (o Options) Validate() error {
	o = o.WithDefaults()
	var errs []error
	if o.MaxGracefulTermination < time.Second {
		errs = append(errs, fmt.Errorf("max graceful termination %s: must be at least 1s", o.MaxGracefulTermination))
	}
	if o.HeartbeatInterval < 10*time.Second {
		errs = append(errs, fmt.Errorf("heartbeat interval %s: must be at least 10s", o.HeartbeatInterval))
	}
	if o.DeadlineMargin < 0 {
		errs = append(errs, fmt.Errorf("deadline margin %s: must not be negative", o.DeadlineMargin))
	}
	return errors.Join(errs...)
}

// Notice is one message of the cloud about a managed instance, as the
// interruption queue (internal/interruption) delivers it: a warning (spot
// interruption, rebalance recommendation, scheduled change), a lifecycle
// action of a termination hook, or a change of the instance's EC2 state.
type Notice struct {
	Kind NoticeKind
	// Departure names the instance and what the event says of it: Group
	// and Hook for a lifecycle action (Hook "" otherwise), the Cause, the
	// event's time as NoticedAt, and the Deadline a spot interruption or a
	// scheduled change carries.
	Departure
	// Token is the lifecycle action token, "" unless Kind is
	// NoticeLifecycleAction.
	Token string
	// State is the instance's new EC2 state ("shutting-down",
	// "terminated", ...), "" unless Kind is NoticeStateChange.
	State string
	// EventID is the event's id, for logs.
	EventID string
}

// NoticeKind says what a Notice is.
type NoticeKind string

// Notice kinds.
const (
	// NoticeWarning: EC2 or AWS Health warns that the instance will be, or
	// may be, taken away; no hook holds it (yet).
	NoticeWarning NoticeKind = "warning"
	// NoticeLifecycleAction: a termination hook holds the instance.
	NoticeLifecycleAction NoticeKind = "lifecycle-action"
	// NoticeStateChange: the instance's EC2 state changed.
	NoticeStateChange NoticeKind = "state-change"
)
