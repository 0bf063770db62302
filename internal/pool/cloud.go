package pool

import (
	"context"

	"github.com/kelp-dev/kelp/internal/cloud"
)

// The provisioner's view of the cloud: what it reads and what it changes,
// as plain values. internal/cloud/aws implements both (its Provider), with
// the one retry policy and error mapping every AWS call of kelp gets;
// errors wrap internal/cloud's sentinels (cloud.ErrNotFound for a template,
// image or group that does not exist, cloud.ErrOutOfRange, cloud.ErrThrottled)
// and ErrExists for a group or template whose name is taken.

// CloudReader reads the groups, launch templates, images and subnets pools
// are made of.
type CloudReader interface {
	// DescribeGroups returns the groups matching every term of f.
	DescribeGroups(ctx context.Context, f GroupFilter) ([]GroupInfo, error)
	// DescribeLaunchTemplate returns a template's tags and the user-data of
	// its latest version.
	DescribeLaunchTemplate(ctx context.Context, name string) (TemplateInfo, error)
	// CheckImage returns an error wrapping cloud.ErrNotFound when the image
	// does not exist.
	CheckImage(ctx context.Context, imageID string) error
	// DefaultSubnets returns the region's default subnets, one per zone.
	DefaultSubnets(ctx context.Context) ([]string, error)
	// DescribeLifecycleHooks returns a group's lifecycle hooks; an endpoint
	// without lifecycle hooks is cloud.ErrUnsupported. Its errors (and
	// PutLifecycleHook's) name the call, the group and the hook.
	DescribeLifecycleHooks(ctx context.Context, group string) ([]cloud.LifecycleHook, error)
	// DescribeTemplateVersion returns the data of one launch template
	// version. A numbered version never changes: the adapter reads it once.
	// A template or version that does not exist wraps cloud.ErrNotFound.
	DescribeTemplateVersion(ctx context.Context, ref TemplateRef) (TemplateVersion, error)
	// ProfileRoles returns the role names of an IAM instance profile given
	// by name or ARN; one that does not exist wraps cloud.ErrNotFound.
	ProfileRoles(ctx context.Context, profile string) ([]string, error)
}

// CloudWriter creates, changes and deletes launch templates and groups.
type CloudWriter interface {
	CreateLaunchTemplate(ctx context.Context, t LaunchTemplate) error
	// CreateLaunchTemplateVersion writes a version from $Latest with v's
	// changes.
	CreateLaunchTemplateVersion(ctx context.Context, name string, v TemplateChange) error
	DeleteLaunchTemplate(ctx context.Context, name string) error
	CreateGroup(ctx context.Context, g Group) error
	UpdateGroup(ctx context.Context, u GroupChange) error
	DeleteGroup(ctx context.Context, name string, force bool) error
	// SetTargetSize sets a group's desired capacity (HonorCooldown false);
	// the cloud's scaler path, bounds checked against the group afresh.
	SetTargetSize(ctx context.Context, group string, n int) error
	// PutLifecycleHook creates or replaces (by name) a lifecycle hook of a
	// group.
	PutLifecycleHook(ctx context.Context, group string, h cloud.LifecycleHook) error
}

// Cloud is both sides, what a provisioner needs.
type Cloud interface {
	CloudReader
	CloudWriter
}

// LaunchTemplate is a launch template to create. Fields are added as pools
// need them.
type LaunchTemplate struct {
	Name         string
	ImageID      string
	InstanceType string
	// UserData is raw; the cloud adapter encodes it.
	UserData         []byte
	SecurityGroupIDs []string
	KeyName          string
	// Spot asks for spot instances in the template (single-type pools;
	// mixed groups choose through their instances distribution).
	Spot bool
	// Metadata are the instance metadata options, defaults filled in.
	Metadata MetadataOptions
	// InstanceProfile is the IAM instance profile, a name or an ARN
	// (arn:...); "" for none.
	InstanceProfile string
	// Tags are the template's own.
	Tags []Tag
}

// TemplateChange is a new launch template version: zero fields keep the
// source version's value.
type TemplateChange struct {
	ImageID      string
	InstanceType string
	// UserData is raw; nil keeps the current.
	UserData []byte
	// Metadata, when set, replaces the metadata options (every field).
	Metadata *MetadataOptions
	// InstanceProfile, when set, replaces the instance profile (a name or
	// an ARN).
	InstanceProfile string
}

func (c TemplateChange) empty() bool {
	return c.ImageID == "" && c.InstanceType == "" && c.UserData == nil && c.Metadata == nil && c.InstanceProfile == ""
}

// TemplateInfo is a launch template as the cloud reports it.
type TemplateInfo struct {
	Name string
	Tags map[string]string
	// UserData of the latest version, decoded (raw bytes).
	UserData []byte
	// Metadata are the latest version's metadata options; zero fields are
	// not set there.
	Metadata MetadataOptions
	// InstanceProfile is the latest version's instance profile, its ARN
	// or name as the template gives it; "" for none.
	InstanceProfile string
}

// Group is an Auto Scaling group to create. It launches its
// LaunchTemplate's $Latest version. Its drain hook is put after it is
// created (PutLifecycleHook). Fields are added as pools need them.
type Group struct {
	Name                              string
	LaunchTemplate                    string
	MinSize, MaxSize, DesiredCapacity int32
	Subnets                           []string
	// Mixed, when set, makes a MixedInstancesPolicy.
	Mixed *MixedInstances
	Tags  []Tag
}

// MixedInstances is a group's mix of instance types.
type MixedInstances struct {
	// InstanceTypes override the launch template's type, in order.
	InstanceTypes []string
	// Spot launches every instance as spot (price-capacity-optimized);
	// otherwise all are on-demand.
	Spot bool
}

// GroupChange changes a group; nil and empty fields keep their value.
type GroupChange struct {
	Name             string
	MinSize, MaxSize *int32
	// Desired sets the desired capacity (HonorCooldown does not apply).
	Desired *int32
	// InstanceTypes replace a mixed group's overrides of LaunchTemplate.
	InstanceTypes  []string
	LaunchTemplate string
}

func (c GroupChange) empty() bool {
	return c.MinSize == nil && c.MaxSize == nil && c.Desired == nil && len(c.InstanceTypes) == 0
}

// GroupFilter selects groups: every Tags entry must match (key and value),
// every TagKeys key must be present and, when Names is set, the group's
// name must be one of them.
type GroupFilter struct {
	Names   []string
	Tags    map[string]string
	TagKeys []string
}

// GroupInfo is an Auto Scaling group as the cloud reports it.
type GroupInfo struct {
	Name           string
	LaunchTemplate string
	// LaunchTemplateVersion is the version the group launches: a number,
	// $Latest or $Default ("" is $Default).
	LaunchTemplateVersion string
	// InstanceTypes are a mixed group's overrides; empty otherwise.
	InstanceTypes             []string
	MinSize, MaxSize, Desired int32
	Instances                 int
	// Members are the group's instances, in the cloud's order.
	Members []Member
	Tags    map[string]string
}

// Member is an instance of a group as the group reports it.
type Member struct {
	ID             string
	InstanceType   string
	LifecycleState string
	// Template is the launch template version it was launched from; nil
	// when the cloud does not say (a launch configuration).
	Template *TemplateRef
}

// TemplateRef names one launch template version: the template by ID or,
// without one, by name; Version a number, $Latest or $Default ("" is
// $Default).
type TemplateRef struct {
	ID, Name, Version string
}

// TemplateVersion is the data of one launch template version, as
// outdated-node detection compares it (see Drift).
type TemplateVersion struct {
	ImageID      string
	InstanceType string
	// UserData is raw (decoded from the API's base64).
	UserData []byte
	// Settings are every other field of the data in one canonical form
	// (the adapter's JSON): two versions differ in them when, and only
	// when, their Settings differ.
	Settings string
}
