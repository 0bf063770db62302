package pool

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"k8s.io/utils/clock"

	"github.com/kelp-dev/kelp/internal/catalog"
	"github.com/kelp-dev/kelp/internal/cloud"
)

// ErrExists is wrapped when a pool's group (or a launch template of its
// name) already exists.
var ErrExists = errors.New("pool already exists")

// ErrImageNotFound is wrapped when a pool's AMI does not exist; it is a
// cloud.ErrNotFound.
var ErrImageNotFound = fmt.Errorf("image %w", cloud.ErrNotFound)

// Provisioner creates, changes, lists and deletes the pools of one
// cluster: token → user-data → launch template → Auto Scaling group, for
// create, update and token rotation. Every cloud call goes through Cloud.
type Provisioner struct {
	cluster   string
	cloud     Cloud
	tokens    TokenIssuer
	refresher cloud.InstanceRefresher
	clock     clock.Clock
}

// Deps are a provisioner's collaborators.
type Deps struct {
	// Cloud is the adapter to the cloud (internal/cloud/aws). Required.
	Cloud Cloud
	// Tokens issues the fresh tokens of token rotation; nil when the
	// caller never rotates.
	Tokens TokenIssuer
	// Refresher rolls pools (instance refresh); nil when the caller never
	// rolls.
	Refresher cloud.InstanceRefresher
	// Clock paces the waits of Delete's drain and WaitRoll; nil is the
	// real clock.
	Clock clock.Clock
}

// New returns the provisioner of cluster's pools.
func New(cluster string, d Deps) *Provisioner {
	if d.Clock == nil {
		d.Clock = clock.RealClock{}
	}
	return &Provisioner{cluster: cluster, cloud: d.Cloud, tokens: d.Tokens, refresher: d.Refresher, clock: d.Clock}
}

// Cluster is the cluster whose pools p provisions.
func (p *Provisioner) Cluster() string { return p.cluster }

// Pool is a pool as the cloud reports it.
type Pool struct {
	Name           string
	GroupName      string
	LaunchTemplate string
	InstanceTypes  []string
	CapacityType   catalog.CapacityType
	MinSize        int32
	MaxSize        int32
	Desired        int32
	Instances      int
	// LaunchTemplateVersion is the version the group launches ($Latest
	// for kelp's pools).
	LaunchTemplateVersion string
	// Members are the group's instances.
	Members []Member
	// Outdated are the members launched from a version that differs from
	// the current one in anything but the bootstrap token, each with what
	// differs (a Drift reason). Set by List; nil from Get.
	Outdated map[string]string
	// DrainHook is kelp's termination hook on the group, nil when it has
	// none (a pool made before kelp put one; `kelp pool update` puts it).
	DrainHook *cloud.LifecycleHook
	// Join is the pool's join mode (its group's JoinTag; token when
	// untagged).
	Join JoinMode
	// InstanceProfile is the instance profile (name or ARN) of the launch
	// template's latest version, "" for none. Set by Describe only.
	InstanceProfile string
}

// Create makes the pool: it checks the spec and the image, renders the
// user-data with ud (a token join issues its token only then), creates the
// launch template, the Auto Scaling group and its drain hook. A pool that
// exists is ErrExists. When the group cannot be created, the launch
// template made here is deleted again, so a failure leaves nothing behind;
// when the hook cannot be put, the pool stands without it and the error
// says so (`kelp pool update` puts it).
func (p *Provisioner) Create(ctx context.Context, spec Spec, ud UserData) (Pool, error) {
	if err := spec.Validate(); err != nil {
		return Pool{}, fmt.Errorf("invalid pool: %w", err)
	}
	if spec.ImageID == "" {
		return Pool{}, fmt.Errorf("invalid pool: %s: imageID is required", spec.Name)
	}
	if err := spec.checkIdentityProfile(); err != nil {
		return Pool{}, fmt.Errorf("invalid pool: %w", err)
	}
	name := GroupName(p.cluster, spec.Name)
	if _, err := p.Get(ctx, spec.Name); err == nil {
		return Pool{}, fmt.Errorf("create pool %s: group %s: %w", spec.Name, name, ErrExists)
	} else if !errors.Is(err, cloud.ErrNotFound) {
		return Pool{}, fmt.Errorf("create pool %s: %w", spec.Name, err)
	}
	if err := p.CheckImage(ctx, spec.ImageID); err != nil {
		return Pool{}, fmt.Errorf("create pool %s: %w", spec.Name, err)
	}
	if err := p.CheckInstanceProfile(ctx, spec.InstanceProfile); err != nil {
		return Pool{}, fmt.Errorf("create pool %s: %w", spec.Name, err)
	}
	subnets := spec.Subnets
	if len(subnets) == 0 {
		var err error
		if subnets, err = p.defaultSubnets(ctx); err != nil {
			return Pool{}, fmt.Errorf("create pool %s: %w", spec.Name, err)
		}
	}
	created, err := p.ensureLaunchTemplate(ctx, name, spec, ud)
	if err != nil {
		return Pool{}, fmt.Errorf("create pool %s: %w", spec.Name, err)
	}
	err = p.cloud.CreateGroup(ctx, GroupSpec(p.cluster, spec, subnets))
	if errors.Is(err, ErrExists) {
		// Auto Scaling has no client token: a retry of a create that went
		// through reports AlreadyExists. Ours, with our tags, is fine.
		if got, gerr := p.Get(ctx, spec.Name); gerr == nil && got.GroupName == name {
			err = nil
		}
	}
	if err != nil {
		err = fmt.Errorf("create pool %s: create auto scaling group %s: %w", spec.Name, name, err)
		if created {
			if derr := p.deleteLaunchTemplate(ctx, name); derr != nil {
				err = errors.Join(err, fmt.Errorf("roll back launch template: %w", derr))
			}
		}
		return Pool{}, err
	}
	if _, err := p.reconcileDrainHook(ctx, name, spec.Name, spec.drainHeartbeat()); err != nil {
		return Pool{}, fmt.Errorf("create pool %s: the group exists without its drain hook (kelp pool update %s puts it): %w", spec.Name, spec.Name, err)
	}
	return p.Get(ctx, spec.Name)
}

// ensureLaunchTemplate creates the template, or reuses one of the same
// name that kelp made for this pool (left behind by an interrupted
// create). created reports whether it was made now; the user-data is
// rendered only then.
func (p *Provisioner) ensureLaunchTemplate(ctx context.Context, name string, spec Spec, ud UserData) (created bool, err error) {
	t, err := p.cloud.DescribeLaunchTemplate(ctx, name)
	if err == nil {
		if t.Tags[PoolTag] == spec.Name {
			return false, nil
		}
		return false, fmt.Errorf("launch template %s exists and is not kelp's for pool %s", name, spec.Name)
	}
	if !errors.Is(err, cloud.ErrNotFound) {
		return false, fmt.Errorf("describe launch template %s: %w", name, err)
	}
	data, err := ud.UserData(ctx, spec)
	if err != nil {
		return false, err
	}
	if err := p.cloud.CreateLaunchTemplate(ctx, LaunchTemplateSpec(p.cluster, spec, data)); err != nil {
		return false, fmt.Errorf("create launch template %s: %w", name, err)
	}
	return true, nil
}

// LaunchTemplateSpec is the launch template of a new pool.
func LaunchTemplateSpec(cluster string, spec Spec, userData []byte) LaunchTemplate {
	return LaunchTemplate{
		Name:             GroupName(cluster, spec.Name),
		ImageID:          spec.ImageID,
		InstanceType:     spec.InstanceTypes[0],
		UserData:         userData,
		SecurityGroupIDs: spec.SecurityGroupIDs,
		KeyName:          spec.KeyName,
		Spot:             spec.capacityType() == catalog.CapacityTypeSpot && len(spec.InstanceTypes) == 1,
		Metadata:         spec.Metadata.WithDefaults(),
		InstanceProfile:  spec.InstanceProfile,
		Tags: []Tag{
			{Key: ClusterTagPrefix + cluster, Value: ownedValue},
			{Key: PoolTag, Value: spec.Name},
			{Key: JoinTag, Value: string(spec.Join.Mode.OrDefault())},
		},
	}
}

// GroupSpec is the Auto Scaling group of a new pool launching into
// subnets: a mixed-instances group when the spec has several types.
func GroupSpec(cluster string, spec Spec, subnets []string) Group {
	desired := spec.MinSize
	if spec.DesiredCapacity != nil {
		desired = *spec.DesiredCapacity
	}
	name := GroupName(cluster, spec.Name)
	g := Group{
		Name: name, LaunchTemplate: name,
		MinSize: spec.MinSize, MaxSize: spec.MaxSize, DesiredCapacity: desired,
		Subnets: subnets, Tags: GroupTags(cluster, spec),
	}
	if len(spec.InstanceTypes) > 1 {
		g.Mixed = &MixedInstances{InstanceTypes: spec.InstanceTypes, Spot: spec.capacityType() == catalog.CapacityTypeSpot}
	}
	return g
}

// CheckImage makes sure the AMI exists before anything is created: a
// missing one is ErrImageNotFound. An SSM parameter (SSMImagePrefix) is
// left to EC2, which refuses a launch template whose parameter does not
// resolve.
func (p *Provisioner) CheckImage(ctx context.Context, imageID string) error {
	if strings.HasPrefix(imageID, SSMImagePrefix) {
		return nil
	}
	err := p.cloud.CheckImage(ctx, imageID)
	if errors.Is(err, cloud.ErrNotFound) {
		return fmt.Errorf("image %s: %w", imageID, ErrImageNotFound)
	}
	if err != nil {
		return fmt.Errorf("describe image %s: %w", imageID, err)
	}
	return nil
}

// ErrInstanceProfile is wrapped when a pool's instance profile does not
// exist or holds no role (its instances would have no credentials, and an
// identity join nothing to prove).
var ErrInstanceProfile = errors.New("unusable instance profile")

// CheckInstanceProfile makes sure an instance profile ("" is none) exists
// and holds a role before anything is created (iam:GetInstanceProfile).
func (p *Provisioner) CheckInstanceProfile(ctx context.Context, profile string) error {
	if profile == "" {
		return nil
	}
	roles, err := p.cloud.ProfileRoles(ctx, profile)
	switch {
	case errors.Is(err, cloud.ErrNotFound):
		return fmt.Errorf("instance profile %s does not exist: %w: %w", profile, ErrInstanceProfile, err)
	case err != nil:
		return fmt.Errorf("check instance profile %s: %w", profile, err)
	case len(roles) == 0:
		return fmt.Errorf("instance profile %s holds no role: %w", profile, ErrInstanceProfile)
	}
	return nil
}

// defaultSubnets returns the region's default subnets, one per zone.
func (p *Provisioner) defaultSubnets(ctx context.Context) ([]string, error) {
	ids, err := p.cloud.DefaultSubnets(ctx)
	if err != nil {
		return nil, fmt.Errorf("describe default subnets: %w", err)
	}
	if len(ids) == 0 {
		return nil, errors.New("no default subnets: give the pool's subnets")
	}
	return ids, nil
}

// deleteLaunchTemplate deletes a template; one that is gone already is
// not an error.
func (p *Provisioner) deleteLaunchTemplate(ctx context.Context, name string) error {
	if err := p.cloud.DeleteLaunchTemplate(ctx, name); err != nil && !errors.Is(err, cloud.ErrNotFound) {
		return fmt.Errorf("delete launch template %s: %w", name, err)
	}
	return nil
}
