// Package pool is what a node pool is and its one provisioner. A pool IS
// an Auto Scaling group carrying the tag kelp.dev/pool=<name>, launched
// from a launch template of kelp's, and tagged for the cluster and for
// cluster-autoscaler discovery, with kelp's termination lifecycle hook,
// the drain hook (hook.go). The [Provisioner] owns token → user-data →
// launch template → group → drain hook for create, update and token
// rotation, rolls a pool through an instance refresh (roll.go), tells its
// outdated nodes ([Drift]: the template data compared but for the
// bootstrap token) and deletes it, draining it to zero first when asked
// (delete.go); the user-data is a pluggable step ([UserData]): a token
// join, an identity join carrying no secret (a pool's [JoinMode], recorded
// as [JoinTag]; it needs the pool's instance profile) or user-data given
// as is. Every cloud call goes through
// the narrow interfaces of cloud.go, which internal/cloud/aws implements,
// so the code that runs against the local cloud is the code that runs
// against AWS.
package pool

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/kelp-dev/kelp/internal/catalog"
)

// Tag keys kelp writes on its groups. The cluster-autoscaler ones keep
// kelp's pools discoverable by tools that already read them.
const (
	PoolTag               = "kelp.dev/pool"
	ClusterTagPrefix      = "kubernetes.io/cluster/"
	AutoscalerEnabledTag  = "k8s.io/cluster-autoscaler/enabled"
	AutoscalerClusterTag  = "k8s.io/cluster-autoscaler/" // + cluster name
	NodeTemplateLabelTag  = "k8s.io/cluster-autoscaler/node-template/label/"
	NodeTemplateTaintTag  = "k8s.io/cluster-autoscaler/node-template/taint/"
	CapacityTypeLabel     = "kelp.dev/capacity-type"
	ownedValue            = "owned"
	maxLaunchTemplateName = 128
)

// Spec is a pool to create.
type Spec struct {
	// Name is the pool name, a DNS label.
	Name string `json:"name"`
	// InstanceTypes: the first is the launch template's; with more than
	// one the group gets a MixedInstancesPolicy with every type.
	InstanceTypes []string `json:"instanceTypes"`
	// CapacityType is on-demand (default) or spot.
	CapacityType catalog.CapacityType `json:"capacityType,omitempty"`
	// ImageID is the AMI; the caller resolves a default.
	ImageID string `json:"imageID,omitempty"`
	MinSize int32  `json:"minSize"`
	MaxSize int32  `json:"maxSize"`
	// DesiredCapacity defaults to MinSize.
	DesiredCapacity *int32 `json:"desiredCapacity,omitempty"`
	// Subnets the group launches into; empty means the region's default
	// subnets.
	Subnets []string `json:"subnets,omitempty"`
	// SecurityGroupIDs and KeyName go into the launch template.
	SecurityGroupIDs []string `json:"securityGroupIDs,omitempty"`
	KeyName          string   `json:"keyName,omitempty"`
	// Labels and Taints are the nodes' (rendered into user-data by the
	// caller) and are published as cluster-autoscaler node-template tags
	// so a pool at zero can be planned for.
	Labels map[string]string `json:"labels,omitempty"`
	Taints []corev1.Taint    `json:"taints,omitempty"`
	// Metadata are the instances' metadata options; the zero value is
	// IMDSv2 required with a hop limit of 1, so pods cannot read the
	// bootstrap token in the user-data.
	Metadata MetadataOptions `json:"metadata,omitempty"`
	// DrainHeartbeatTimeout is the heartbeat timeout of the pool's drain
	// hook (hook.go), 30s to 2h in whole seconds; unset is
	// DefaultDrainHeartbeatTimeout. It bounds how long a dead controller
	// can hold a leaving instance.
	DrainHeartbeatTimeout *metav1.Duration `json:"drainHeartbeatTimeout,omitempty"`
	// InstanceProfile is the IAM instance profile (name or ARN) the launch
	// template gives instances; required by the identity join, whose proof
	// is the profile's role (Create refuses an identity pool without one;
	// a pools file may leave it to its caller, as kelp up fills its own).
	InstanceProfile string `json:"instanceProfile,omitempty"`
	// Join is how the instances join: a token (default) or their identity
	// (joinmode.go). The mode is recorded as JoinTag on the group and the
	// launch template.
	Join Join `json:"join,omitempty"`
}

// drainHeartbeat is the spec's heartbeat timeout, 0 when unset.
func (s Spec) drainHeartbeat() time.Duration {
	if s.DrainHeartbeatTimeout == nil {
		return 0
	}
	return s.DrainHeartbeatTimeout.Duration
}

// Instance metadata token settings (EC2's HttpTokens).
const (
	HTTPTokensRequired = "required"
	HTTPTokensOptional = "optional"
)

// MetadataOptions are a launch template's instance metadata options. Zero
// fields take the defaults: HTTPTokens required, HopLimit 1.
type MetadataOptions struct {
	// HTTPTokens is required (IMDSv2 only) or optional (IMDSv1 too).
	HTTPTokens string `json:"httpTokens,omitempty"`
	// HopLimit is the PUT response hop limit, 1 to 64; 1 keeps IMDSv2
	// tokens from reaching pods in their own network namespaces.
	HopLimit int32 `json:"hopLimit,omitempty"`
}

// WithDefaults fills the zero fields of m with the defaults.
func (m MetadataOptions) WithDefaults() MetadataOptions {
	if m.HTTPTokens == "" {
		m.HTTPTokens = HTTPTokensRequired
	}
	if m.HopLimit == 0 {
		m.HopLimit = 1
	}
	return m
}

// Overlay returns m with the non-zero fields of o.
func (m MetadataOptions) Overlay(o MetadataOptions) MetadataOptions {
	if o.HTTPTokens != "" {
		m.HTTPTokens = o.HTTPTokens
	}
	if o.HopLimit != 0 {
		m.HopLimit = o.HopLimit
	}
	return m
}

// Validate returns every problem with m, each naming its field; zero
// fields are valid (they take the defaults).
func (m MetadataOptions) Validate() error {
	var errs []error
	switch m.HTTPTokens {
	case "", HTTPTokensRequired, HTTPTokensOptional:
	default:
		errs = append(errs, fmt.Errorf("metadata.httpTokens %q: want required or optional", m.HTTPTokens))
	}
	if m.HopLimit < 0 || m.HopLimit > 64 {
		errs = append(errs, fmt.Errorf("metadata.hopLimit %d: want 1 to 64", m.HopLimit))
	}
	return errors.Join(errs...)
}

// Validate returns every problem with the spec, each naming its field.
func (s Spec) Validate() error {
	var errs []error
	if msgs := validation.IsDNS1123Label(s.Name); len(msgs) > 0 {
		errs = append(errs, fmt.Errorf("name %q: not a DNS label: %s", s.Name, strings.Join(msgs, "; ")))
	}
	if len(s.InstanceTypes) == 0 {
		errs = append(errs, fmt.Errorf("pool %s: instanceTypes: at least one is required", s.Name))
	}
	seen := map[string]bool{}
	for _, t := range s.InstanceTypes {
		if _, err := catalog.Lookup(t); err != nil {
			errs = append(errs, fmt.Errorf("pool %s: instanceTypes: %w", s.Name, err))
		}
		if seen[t] {
			errs = append(errs, fmt.Errorf("pool %s: instanceTypes: %s listed twice", s.Name, t))
		}
		seen[t] = true
	}
	switch s.CapacityType {
	case "", catalog.CapacityTypeOnDemand, catalog.CapacityTypeSpot:
	default:
		errs = append(errs, fmt.Errorf("pool %s: capacityType %q: want on-demand or spot", s.Name, s.CapacityType))
	}
	errs = append(errs, validateIDs(s.Name, "subnets", "subnet-", s.Subnets)...)
	errs = append(errs, validateIDs(s.Name, "securityGroupIDs", "sg-", s.SecurityGroupIDs)...)
	if err := checkImageID(s.ImageID); err != nil {
		errs = append(errs, fmt.Errorf("pool %s: %w", s.Name, err))
	}
	if s.MinSize < 0 || s.MaxSize < 0 {
		errs = append(errs, fmt.Errorf("pool %s: minSize and maxSize must not be negative", s.Name))
	}
	if s.MinSize > s.MaxSize {
		errs = append(errs, fmt.Errorf("pool %s: minSize %d is greater than maxSize %d", s.Name, s.MinSize, s.MaxSize))
	}
	if d := s.DesiredCapacity; d != nil && (*d < s.MinSize || *d > s.MaxSize) {
		errs = append(errs, fmt.Errorf("pool %s: desiredCapacity %d is outside [%d, %d]", s.Name, *d, s.MinSize, s.MaxSize))
	}
	for _, t := range s.Taints {
		switch t.Effect {
		case corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute:
		default:
			errs = append(errs, fmt.Errorf("pool %s: taint %s: effect %q: want NoSchedule, PreferNoSchedule or NoExecute", s.Name, t.Key, t.Effect))
		}
	}
	if err := s.Metadata.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("pool %s: %w", s.Name, err))
	}
	if s.DrainHeartbeatTimeout != nil {
		if err := ValidateDrainHeartbeatTimeout("drainHeartbeatTimeout", s.DrainHeartbeatTimeout.Duration); err != nil {
			errs = append(errs, fmt.Errorf("pool %s: %w", s.Name, err))
		}
	}
	errs = append(errs, s.validateJoin()...)
	return errors.Join(errs...)
}

var (
	amiIDRE = regexp.MustCompile(`^ami-[0-9a-f]{8}([0-9a-f]{9})?$`)
	// ssmParameterRE is an SSM parameter name, optionally with a version
	// or label (name:version), as launch templates take it.
	ssmParameterRE = regexp.MustCompile(`^/?[a-zA-Z0-9_.\-]+(/[a-zA-Z0-9_.\-]+)*(:[a-zA-Z0-9_.\-]+)?$`)
	resourceIDRE   = regexp.MustCompile(`^[a-z]+-[0-9a-f]{8}([0-9a-f]{9})?$`)
)

// validateIDs checks AWS resource ids of one kind (subnet-, sg-).
func validateIDs(pool, field, prefix string, ids []string) []error {
	var errs []error
	for _, id := range ids {
		if !strings.HasPrefix(id, prefix) || !resourceIDRE.MatchString(id) {
			errs = append(errs, fmt.Errorf("pool %s: %s: %q is not a %s id", pool, field, id, strings.TrimSuffix(prefix, "-")))
		}
	}
	return errs
}

func (s Spec) capacityType() catalog.CapacityType {
	if s.CapacityType == "" {
		return catalog.CapacityTypeOnDemand
	}
	return s.CapacityType
}

// GroupName is the Auto Scaling group (and launch template) name of a pool.
func GroupName(cluster, pool string) string {
	return "kelp-" + cluster + "-" + pool
}

// Tag is one group tag; Propagate copies it to instances at launch.
type Tag struct {
	Key, Value string
	Propagate  bool
}

// GroupTags returns every tag of the pool's group, sorted by key: the
// cluster ownership tag, kelp's pool tag and its join mode (all three
// propagated to instances), cluster-autoscaler discovery tags, and node-template tags for
// the labels and taints (plus the capacity-type label).
func GroupTags(cluster string, s Spec) []Tag {
	tags := []Tag{
		{Key: ClusterTagPrefix + cluster, Value: ownedValue, Propagate: true},
		{Key: PoolTag, Value: s.Name, Propagate: true},
		{Key: JoinTag, Value: string(s.Join.Mode.OrDefault()), Propagate: true},
		{Key: AutoscalerEnabledTag, Value: "true"},
		{Key: AutoscalerClusterTag + cluster, Value: ownedValue},
		{Key: NodeTemplateLabelTag + PoolTag, Value: s.Name},
		{Key: NodeTemplateLabelTag + CapacityTypeLabel, Value: string(s.capacityType())},
	}
	for k, v := range s.Labels {
		if k == PoolTag || k == CapacityTypeLabel {
			continue
		}
		tags = append(tags, Tag{Key: NodeTemplateLabelTag + k, Value: v})
	}
	for _, t := range s.Taints {
		tags = append(tags, Tag{Key: NodeTemplateTaintTag + t.Key, Value: t.Value + ":" + string(t.Effect)})
	}
	sort.Slice(tags, func(i, j int) bool { return tags[i].Key < tags[j].Key })
	return tags
}

// SSMImagePrefix marks an image given as an SSM parameter, which EC2
// resolves to an AMI id when it creates the launch template and at each
// launch ("resolve:ssm:/aws/service/canonical/ubuntu/...").
const SSMImagePrefix = "resolve:ssm:"

// checkImageID accepts an AMI id, an SSM parameter (SSMImagePrefix) or
// nothing (the caller defaults it).
func checkImageID(id string) error {
	if id == "" || amiIDRE.MatchString(id) {
		return nil
	}
	if param, ok := strings.CutPrefix(id, SSMImagePrefix); ok {
		if len(param) <= 2048 && ssmParameterRE.MatchString(param) {
			return nil
		}
		return fmt.Errorf("imageID %q: want resolve:ssm: followed by an SSM parameter name (letters, digits, _.-/, at most 2,048)", id)
	}
	return fmt.Errorf("imageID %q: want ami- followed by 8 or 17 hex digits, or resolve:ssm:PARAMETER", id)
}
