package localcloud

import (
	"fmt"
	"slices"
	"time"
)

// lifecycle is an instance's Auto Scaling lifecycle state. Instances change
// state only through transition.
type lifecycle string

const (
	statePending            lifecycle = "Pending"
	statePendingWait        lifecycle = "Pending:Wait"
	statePendingProceed     lifecycle = "Pending:Proceed"
	stateInService          lifecycle = "InService"
	stateTerminating        lifecycle = "Terminating"
	stateTerminatingWait    lifecycle = "Terminating:Wait"
	stateTerminatingProceed lifecycle = "Terminating:Proceed"
	stateTerminated         lifecycle = "Terminated"
)

// transitions lists the states each state may move to. Terminating is the
// way out that skips the lifecycle hooks (EC2 TerminateInstances, a failed
// boot, a force delete); Terminating:Wait the way through them.
var transitions = map[lifecycle][]lifecycle{
	statePending:            {statePendingWait, stateInService, stateTerminating, stateTerminatingWait},
	statePendingWait:        {statePendingProceed, stateTerminating, stateTerminatingWait},
	statePendingProceed:     {stateInService, stateTerminating, stateTerminatingWait},
	stateInService:          {stateTerminating, stateTerminatingWait},
	stateTerminatingWait:    {stateTerminatingProceed},
	stateTerminating:        {stateTerminated},
	stateTerminatingProceed: {stateTerminated},
}

// ec2State returns the EC2 instance state code and name of a lifecycle
// state: an instance waiting on a lifecycle hook is running.
func (l lifecycle) ec2State() (int, string) {
	switch l {
	case statePending:
		return 0, "pending"
	case statePendingWait, statePendingProceed, stateInService, stateTerminatingWait:
		return 16, "running"
	case stateTerminating, stateTerminatingProceed:
		return 32, "shutting-down"
	default:
		return 48, "terminated"
	}
}

// active reports whether the instance counts toward the group's capacity.
func (l lifecycle) active() bool {
	return l == statePending || l == statePendingWait || l == statePendingProceed || l == stateInService
}

// runs reports whether the instance's runtime runs (or boots): an
// instance in Terminating:Wait keeps running until its hooks let it go.
func (l lifecycle) runs() bool { return l.active() || l == stateTerminatingWait }

// stopping reports whether the instance is on its way to Terminated with
// nothing left to wait for.
func (l lifecycle) stopping() bool { return l == stateTerminating || l == stateTerminatingProceed }

// waiting reports whether the instance waits on lifecycle actions.
func (l lifecycle) waiting() bool { return l == statePendingWait || l == stateTerminatingWait }

// asTag is an Auto Scaling group tag.
type asTag struct {
	Key, Value        string
	PropagateAtLaunch bool
}

// tag is an EC2 tag.
type tag struct {
	Key   string `xml:"key"`
	Value string `xml:"value"`
}

// templateSpec names a launch template and a version ("$Latest",
// "$Default" or a number; "" means $Default).
type templateSpec struct {
	ID      string `xml:"LaunchTemplateId,omitempty"`
	Name    string `xml:"LaunchTemplateName,omitempty"`
	Version string `xml:"Version,omitempty"`
}

// override is one MixedInstancesPolicy launch template override.
type override struct {
	InstanceType     string
	WeightedCapacity string        `json:",omitempty" xml:",omitempty"`
	Template         *templateSpec `json:",omitempty" xml:"LaunchTemplateSpecification,omitempty"`
}

// distribution is a MixedInstancesPolicy InstancesDistribution, defaulted.
type distribution struct {
	OnDemandAllocationStrategy          string // prioritized | lowest-price
	OnDemandBaseCapacity                int
	OnDemandPercentageAboveBaseCapacity int
	SpotAllocationStrategy              string // lowest-price | price-capacity-optimized | capacity-optimized[-prioritized]
	SpotInstancePools                   int
	SpotMaxPrice                        string `json:",omitempty" xml:",omitempty"`
}

type mixedPolicy struct {
	Template     templateSpec
	Overrides    []override
	Distribution distribution
}

// group is an Auto Scaling group.
type group struct {
	Name, ARN                        string
	Template                         *templateSpec `json:",omitempty"`
	Mixed                            *mixedPolicy  `json:",omitempty"`
	Min, Max, Desired                int
	DefaultCooldown                  int
	Zones                            []string // Availability Zones, in the order given
	Subnets                          []string // VPCZoneIdentifier, in the order given
	HealthCheckType                  string
	HealthCheckGracePeriod           int
	Tags                             []asTag // sorted by key
	TerminationPolicies              []string
	NewInstancesProtectedFromScaleIn bool
	CapacityRebalance                bool
	Hooks                            []lifecycleHook   `json:",omitempty"` // in creation order
	Refreshes                        []instanceRefresh `json:",omitempty"` // oldest first; refresh.go
	Created                          time.Time
	// Cause is the user request that changed the desired capacity last and
	// has not yet been reported in a scaling activity's cause.
	Cause string `json:",omitempty"`
}

func (g *group) clone() *group {
	c := *g
	if g.Template != nil {
		t := *g.Template
		c.Template = &t
	}
	if g.Mixed != nil {
		m := *g.Mixed
		m.Overrides = slices.Clone(g.Mixed.Overrides)
		c.Mixed = &m
	}
	c.Zones, c.Subnets = slices.Clone(g.Zones), slices.Clone(g.Subnets)
	c.Tags, c.TerminationPolicies = slices.Clone(g.Tags), slices.Clone(g.TerminationPolicies)
	c.Hooks = slices.Clone(g.Hooks)
	c.Refreshes = slices.Clone(g.Refreshes)
	return &c
}

// baseTemplate returns the template the group launches from when no
// override names its own.
func (g *group) baseTemplate() templateSpec {
	if g.Mixed != nil {
		return g.Mixed.Template
	}
	return *g.Template
}

// instance is an EC2 instance launched by a group.
type instance struct {
	ID, Group, Type, Zone, SubnetID, ImageID, PrivateIP, PrivateDNS string
	Spot                                                            bool
	Template                                                        templateSpec // Version is the resolved number
	State                                                           lifecycle
	LaunchTime, StateTime                                           time.Time
	StateReason                                                     string `json:",omitempty"` // EC2 stateReason code
	StateMessage                                                    string `json:",omitempty"`
	Tags                                                            []tag
	UserData                                                        string `json:",omitempty"` // base64, as in the template
	KeyName                                                         string `json:",omitempty"`
	// Profile is the name of the instance's IAM instance profile, "" for none.
	Profile              string `json:",omitempty"`
	SecurityGroupIDs     []string
	ProtectedFromScaleIn bool
	LaunchActivity       string    `json:",omitempty"` // completed when InService
	TerminateActivity    string    `json:",omitempty"` // completed when Terminated
	InterruptAt          time.Time // spot interruption deadline; zero if none
	// Actions are the lifecycle actions the instance waits on in
	// Pending:Wait or Terminating:Wait: one per hook of the transition.
	Actions []lifecycleAction `json:",omitempty"`
	// TerminateReason is the EC2 state reason an instance in
	// Terminating:Wait terminates with.
	TerminateReason string `json:",omitempty"`
}

func (i *instance) clone() *instance {
	c := *i
	c.Tags, c.SecurityGroupIDs = slices.Clone(i.Tags), slices.Clone(i.SecurityGroupIDs)
	c.Actions = slices.Clone(i.Actions)
	return &c
}

// transition moves a copy of the instance to state to, at now.
func (i *instance) transition(to lifecycle, now time.Time) (*instance, error) {
	if !slices.Contains(transitions[i.State], to) {
		return nil, fmt.Errorf("instance %s: invalid transition %s -> %s", i.ID, i.State, to)
	}
	c := i.clone()
	c.State, c.StateTime = to, now
	return c, nil
}

// launchTemplate is an EC2 launch template with all its versions.
type launchTemplate struct {
	ID, Name       string
	Created        time.Time
	DefaultVersion int64
	LatestVersion  int64
	Tags           []tag
	Versions       []ltVersion // ascending by number
}

type ltVersion struct {
	Number      int64
	Description string `json:",omitempty"`
	Created     time.Time
	Data        ltData
}

func (t *launchTemplate) clone() *launchTemplate {
	c := *t
	c.Tags, c.Versions = slices.Clone(t.Tags), slices.Clone(t.Versions)
	return &c
}

func (t *launchTemplate) version(n int64) (ltVersion, bool) {
	for _, v := range t.Versions {
		if v.Number == n {
			return v, true
		}
	}
	return ltVersion{}, false
}

// activity is an Auto Scaling scaling activity.
type activity struct {
	ID, Group, GroupARN string
	Description, Cause  string
	StatusCode          string // InProgress | Successful | Failed | Cancelled
	StatusMessage       string `json:",omitempty"`
	Details             string `json:",omitempty"`
	Progress            int
	Start, End          time.Time
}

// Activity status codes.
const (
	activityInProgress   = "InProgress"
	activityMidLifecycle = "MidLifecycleAction" // waiting on lifecycle hooks
	activitySuccessful   = "Successful"
	activityFailed       = "Failed"
	activityCancelled    = "Cancelled"
)

// open reports whether the activity has not ended.
func (a *activity) open() bool {
	return a.StatusCode == activityInProgress || a.StatusCode == activityMidLifecycle
}

// meta is the store's bookkeeping: the next host offset to try per subnet.
type meta struct {
	IPCursor map[string]int
}

// state is the whole in-memory state; the store holds the same.
type state struct {
	groups     map[string]*group
	templates  map[string]*launchTemplate // by id
	instances  map[string]*instance
	activities map[string]*activity
	meta       meta
}

func newState() *state {
	return &state{
		groups:     map[string]*group{},
		templates:  map[string]*launchTemplate{},
		instances:  map[string]*instance{},
		activities: map[string]*activity{},
		meta:       meta{IPCursor: map[string]int{}},
	}
}

// changes is a set of writes committed together, to the store first and to
// memory after. A nil value deletes.
type changes struct {
	groups     map[string]*group
	templates  map[string]*launchTemplate
	instances  map[string]*instance
	activities map[string]*activity
	meta       *meta
}

func (ch *changes) putGroup(g *group)             { setChange(&ch.groups, g.Name, g) }
func (ch *changes) deleteGroup(name string)       { setChange(&ch.groups, name, nil) }
func (ch *changes) putTemplate(t *launchTemplate) { setChange(&ch.templates, t.ID, t) }
func (ch *changes) deleteTemplate(id string)      { setChange(&ch.templates, id, nil) }
func (ch *changes) putInstance(i *instance)       { setChange(&ch.instances, i.ID, i) }
func (ch *changes) deleteInstance(id string)      { setChange(&ch.instances, id, nil) }
func (ch *changes) putActivity(a *activity)       { setChange(&ch.activities, a.ID, a) }
func (ch *changes) deleteActivity(id string)      { setChange(&ch.activities, id, nil) }

func setChange[T any](m *map[string]*T, key string, v *T) {
	if *m == nil {
		*m = map[string]*T{}
	}
	(*m)[key] = v
}

func (ch *changes) empty() bool {
	return len(ch.groups)+len(ch.templates)+len(ch.instances)+len(ch.activities) == 0 && ch.meta == nil
}

// apply writes the changes into memory.
func (s *state) apply(ch *changes) {
	applyMap(s.groups, ch.groups)
	applyMap(s.templates, ch.templates)
	applyMap(s.instances, ch.instances)
	applyMap(s.activities, ch.activities)
	if ch.meta != nil {
		s.meta = *ch.meta
	}
}

func applyMap[T any](dst, src map[string]*T) {
	for k, v := range src {
		if v == nil {
			delete(dst, k)
		} else {
			dst[k] = v
		}
	}
}
