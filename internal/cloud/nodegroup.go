package cloud

import (
	"fmt"
	"maps"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/kelp-dev/kelp/internal/catalog"
)

// NodeGroup is a group of identical instances the cloud keeps at a target
// size: an Auto Scaling group on AWS. It is a snapshot, owned by the caller.
type NodeGroup struct {
	// ID is the group's name (the Auto Scaling group name).
	ID string
	// Pool is the group's kelp.dev/pool tag, "" for a group that is not a
	// kelp pool.
	Pool string
	// MinSize and MaxSize bound TargetSize.
	MinSize, MaxSize int
	// TargetSize is the desired capacity.
	TargetSize int
	// Instances are the group's instances that are not terminated, sorted
	// by ID. Fewer active ones than TargetSize means launches are pending
	// or failing (see Errors).
	Instances []Instance
	// Template describes a node of the group before any exists, for
	// scale-from-zero.
	Template NodeTemplate
	// Errors are the group's recent failures, oldest first: every launch
	// that failed recently (on AWS, first seen within the provider's
	// ActivityLookback), each with its ActivityID and Time, plus an
	// ErrInvalidGroup error while the template cannot be built. They are
	// level-triggered: every Refresh reports each recent failure again, so
	// any number of readers may Refresh the same provider and none loses
	// one. A reader that acts once per failed launch keeps a
	// [LaunchCursor].
	Errors []GroupError
}

// Clone returns a deep copy of g.
func (g NodeGroup) Clone() NodeGroup {
	g.Instances = slices.Clone(g.Instances)
	for i := range g.Instances {
		g.Instances[i] = g.Instances[i].Clone()
	}
	g.Template = g.Template.Clone()
	g.Errors = slices.Clone(g.Errors)
	return g
}

// ActiveInstances counts the instances that are Pending or Running.
func (g NodeGroup) ActiveInstances() int {
	n := 0
	for _, i := range g.Instances {
		if i.State.Active() {
			n++
		}
	}
	return n
}

// NodeTemplate is what a new node of a group will look like. Labels,
// Capacity and Allocatable describe the primary instance type (the first of
// InstanceTypes) in the first of Zones; ForInstanceType and ForZone give the
// node of another type or zone.
type NodeTemplate struct {
	// InstanceTypes the group may launch, the primary first: every
	// override of a MixedInstancesPolicy, in its order, or the launch
	// template's one type. Empty when the template could not be built.
	InstanceTypes []InstanceType
	// CloudPicksType is set when the cloud, not kelp, picks which of
	// InstanceTypes a new instance gets (an Auto Scaling group's
	// MixedInstancesPolicy): raising the group's size cannot ask for one
	// type, so a new node may be any of them.
	CloudPicksType bool
	// CapacityType of most new instances.
	CapacityType catalog.CapacityType
	// Zones the group launches into, sorted.
	Zones []string
	// ImageID of the launch template ("" when it names none).
	ImageID string
	// Labels a new node carries: well-known ones (arch, os, instance type,
	// region, zone, kelp.dev/pool, kelp.dev/capacity-type) overridden by the
	// group's node-template label tags.
	Labels map[string]string
	// Taints a new node carries, sorted by key.
	Taints []corev1.Taint
	// Capacity and Allocatable of the primary type.
	Capacity    corev1.ResourceList
	Allocatable corev1.ResourceList
}

// InstanceType is one instance type a group may launch, with the node it
// makes.
type InstanceType struct {
	Name string
	// Architecture as the kubernetes.io/arch label spells it.
	Architecture string
	Capacity     corev1.ResourceList
	Allocatable  corev1.ResourceList
	// Price is USD per hour for the template's capacity type; 0 when
	// unknown.
	Price float64
}

// Clone returns a deep copy of t.
func (t NodeTemplate) Clone() NodeTemplate {
	t.InstanceTypes = slices.Clone(t.InstanceTypes)
	for i := range t.InstanceTypes {
		t.InstanceTypes[i].Capacity = t.InstanceTypes[i].Capacity.DeepCopy()
		t.InstanceTypes[i].Allocatable = t.InstanceTypes[i].Allocatable.DeepCopy()
	}
	t.Zones = slices.Clone(t.Zones)
	t.Labels = maps.Clone(t.Labels)
	t.Taints = slices.Clone(t.Taints)
	t.Capacity = t.Capacity.DeepCopy()
	t.Allocatable = t.Allocatable.DeepCopy()
	return t
}

// InstanceType returns the template's entry for the type called name.
func (t NodeTemplate) InstanceType(name string) (InstanceType, bool) {
	i := slices.IndexFunc(t.InstanceTypes, func(it InstanceType) bool { return it.Name == name })
	if i < 0 {
		return InstanceType{}, false
	}
	return t.InstanceTypes[i], true
}

// ForInstanceType returns the template of a node of the type called name:
// that type alone in InstanceTypes, its capacity, allocatable and
// instance-type and arch labels. ok is false when the group does not launch
// the type.
func (t NodeTemplate) ForInstanceType(name string) (NodeTemplate, bool) {
	it, ok := t.InstanceType(name)
	if !ok {
		return NodeTemplate{}, false
	}
	out := t.Clone()
	out.InstanceTypes = []InstanceType{{Name: it.Name, Architecture: it.Architecture,
		Capacity: it.Capacity.DeepCopy(), Allocatable: it.Allocatable.DeepCopy(), Price: it.Price}}
	out.Capacity, out.Allocatable = it.Capacity.DeepCopy(), it.Allocatable.DeepCopy()
	if out.Labels == nil {
		out.Labels = map[string]string{}
	}
	out.Labels[corev1.LabelInstanceTypeStable] = it.Name
	if it.Architecture != "" {
		out.Labels[corev1.LabelArchStable] = it.Architecture
	}
	return out, true
}

// ForZone returns the template of a node in zone: that zone alone in Zones
// and in the topology.kubernetes.io/zone label. ok is false when the group
// does not launch into zone.
func (t NodeTemplate) ForZone(zone string) (NodeTemplate, bool) {
	if !slices.Contains(t.Zones, zone) {
		return NodeTemplate{}, false
	}
	out := t.Clone()
	out.Zones = []string{zone}
	if out.Labels == nil {
		out.Labels = map[string]string{}
	}
	out.Labels[corev1.LabelTopologyZone] = zone
	return out, true
}

// GroupError is a failure of a group: a failed launch, or a template that
// cannot be built. errors.Is(e, ErrInsufficientCapacity) (or
// ErrQuotaExceeded, ErrLaunchFailed, ErrInvalidGroup) tells which.
type GroupError struct {
	// Err is the sentinel: ErrInsufficientCapacity, ErrQuotaExceeded,
	// ErrLaunchFailed or ErrInvalidGroup.
	Err error
	// Group is the group's ID.
	Group string
	// Code is the cloud's error code (e.g. InsufficientInstanceCapacity),
	// "" when it gave none.
	Code string
	// Message is the cloud's explanation.
	Message string
	// InstanceType and AvailabilityZone of the failed launch, "" when the
	// cloud did not say.
	InstanceType     string
	AvailabilityZone string
	// Time the failure happened, by the cloud's clock.
	Time time.Time
	// ActivityID is the failed scaling activity, "" for a template error.
	ActivityID string
}

func (e GroupError) Error() string {
	where := ""
	if e.InstanceType != "" {
		where += " " + e.InstanceType
	}
	if e.AvailabilityZone != "" {
		where += " in " + e.AvailabilityZone
	}
	return fmt.Sprintf("group %s%s: %v: %s", e.Group, where, e.Err, e.Message)
}

// Unwrap returns the sentinel.
func (e GroupError) Unwrap() error { return e.Err }
