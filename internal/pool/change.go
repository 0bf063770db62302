package pool

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/kelp-dev/kelp/internal/bootstrap"
	"github.com/kelp-dev/kelp/internal/catalog"
	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/userdata"
)

// Scale sets the pool's desired capacity (the seed's "change the instance
// count"). A value outside [min, max] is refused before any change, with
// the error of cloud.NodeGroup.CheckSize (wrapping cloud.ErrOutOfRange).
func (p *Provisioner) Scale(ctx context.Context, name string, desired int32) (Pool, error) {
	pl, err := p.Get(ctx, name)
	if err != nil {
		return Pool{}, fmt.Errorf("scale pool: %w", err)
	}
	sizes := cloud.NodeGroup{ID: pl.GroupName, MinSize: int(pl.MinSize), MaxSize: int(pl.MaxSize), TargetSize: int(pl.Desired)}
	if err := sizes.CheckSize(int(desired)); err != nil {
		return Pool{}, fmt.Errorf("scale pool %s outside the pool's size range: %w", name, err)
	}
	if err := p.cloud.SetTargetSize(ctx, pl.GroupName, int(desired)); err != nil {
		return Pool{}, fmt.Errorf("scale pool %s: %w", name, err)
	}
	return p.Get(ctx, name)
}

// Update changes what new instances of a pool are launched with. Zero
// fields keep their current value.
type Update struct {
	ImageID       string
	InstanceTypes []string
	// UserData is raw (the caller renders it); nil keeps the current.
	UserData []byte
	MinSize  *int32
	MaxSize  *int32
	// Metadata's non-zero fields change the metadata options.
	Metadata MetadataOptions
	// DrainHeartbeatTimeout, when non-zero, changes the drain hook's
	// heartbeat timeout (30 s to 2 h, whole seconds).
	DrainHeartbeatTimeout time.Duration
	// InstanceProfile, when set, changes the launch template's instance
	// profile (a name or an ARN). An identity pool always keeps one.
	InstanceProfile string
}

// validate checks an update against the pool it applies to.
func (u Update) validate(p Pool) error {
	var errs []error
	if err := checkImageID(u.ImageID); err != nil {
		errs = append(errs, err)
	}
	for _, t := range u.InstanceTypes {
		if _, err := catalog.Lookup(t); err != nil {
			errs = append(errs, fmt.Errorf("instanceTypes: %w", err))
		}
	}
	if err := u.Metadata.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := CheckInstanceProfile(u.InstanceProfile); err != nil {
		errs = append(errs, err)
	}
	if u.DrainHeartbeatTimeout != 0 {
		if err := ValidateDrainHeartbeatTimeout("drainHeartbeatTimeout", u.DrainHeartbeatTimeout); err != nil {
			errs = append(errs, err)
		}
	}
	lo, hi := p.MinSize, p.MaxSize
	if u.MinSize != nil {
		lo = *u.MinSize
	}
	if u.MaxSize != nil {
		hi = *u.MaxSize
	}
	if lo < 0 || lo > hi {
		errs = append(errs, fmt.Errorf("minSize %d and maxSize %d: want 0 <= min <= max", lo, hi))
	}
	return errors.Join(errs...)
}

// Update writes a new launch template version with the new image, type,
// user-data or metadata options (the group launches $Latest, so new
// instances use it; running ones keep theirs), and updates the group's
// sizes and mixed-instance types. Every new version carries metadata
// options: the current ones with u's changes, defaults where unset. Then
// it reconciles the drain hook: a pool without one gets it, a changed
// heartbeat timeout is put (with none given, the current one stays).
func (p *Provisioner) Update(ctx context.Context, name string, u Update) (Pool, error) {
	pl, err := p.update(ctx, name, u)
	if err != nil {
		return Pool{}, err
	}
	if _, err := p.reconcileDrainHook(ctx, pl.GroupName, name, u.DrainHeartbeatTimeout); err != nil {
		return Pool{}, fmt.Errorf("update pool %s: %w", name, err)
	}
	return p.Get(ctx, name)
}

// update is Update without the drain hook (token rotation's): it returns
// the pool as it was read before the change.
func (p *Provisioner) update(ctx context.Context, name string, u Update) (Pool, error) {
	pl, err := p.Get(ctx, name)
	if err != nil {
		return Pool{}, fmt.Errorf("update pool: %w", err)
	}
	if err := u.validate(pl); err != nil {
		return Pool{}, fmt.Errorf("update pool %s: %w", name, err)
	}
	if u.ImageID != "" {
		if err := p.CheckImage(ctx, u.ImageID); err != nil {
			return Pool{}, fmt.Errorf("update pool %s: %w", name, err)
		}
	}
	if err := p.CheckInstanceProfile(ctx, u.InstanceProfile); err != nil {
		return Pool{}, fmt.Errorf("update pool %s: %w", name, err)
	}
	mixed := len(pl.InstanceTypes) > 0
	change, err := templateChange(u, mixed)
	if err != nil {
		return Pool{}, fmt.Errorf("update pool %s: %w", name, err)
	}
	if !change.empty() || u.Metadata != (MetadataOptions{}) {
		if change.Metadata, err = p.versionMetadata(ctx, pl.LaunchTemplate, u.Metadata); err != nil {
			return Pool{}, fmt.Errorf("update pool %s: %w", name, err)
		}
		if err := p.cloud.CreateLaunchTemplateVersion(ctx, pl.LaunchTemplate, change); err != nil {
			return Pool{}, fmt.Errorf("update pool %s: create launch template version of %s: %w", name, pl.LaunchTemplate, err)
		}
	}
	gc := GroupChange{Name: pl.GroupName, MinSize: u.MinSize, MaxSize: u.MaxSize, LaunchTemplate: pl.LaunchTemplate}
	if mixed {
		gc.InstanceTypes = u.InstanceTypes
	}
	if !gc.empty() {
		if err := p.cloud.UpdateGroup(ctx, gc); err != nil {
			return Pool{}, fmt.Errorf("update pool %s: update auto scaling group %s: %w", name, pl.GroupName, err)
		}
	}
	return pl, nil
}

// versionMetadata is the metadata options of a new version of template:
// the latest version's, changed by u, defaults filled in (a template made
// before kelp set them gets them now).
func (p *Provisioner) versionMetadata(ctx context.Context, template string, u MetadataOptions) (*MetadataOptions, error) {
	t, err := p.cloud.DescribeLaunchTemplate(ctx, template)
	if err != nil {
		return nil, fmt.Errorf("describe launch template %s: %w", template, err)
	}
	m := t.Metadata.Overlay(u).WithDefaults()
	return &m, nil
}

// templateChange is the launch template part of an update. A single-type
// pool's template takes one type; a mixed pool's types are the group's.
func templateChange(u Update, mixed bool) (TemplateChange, error) {
	c := TemplateChange{ImageID: u.ImageID, UserData: u.UserData, InstanceProfile: u.InstanceProfile}
	if len(u.InstanceTypes) > 0 && !mixed {
		if len(u.InstanceTypes) > 1 {
			return TemplateChange{}, errors.New("instanceTypes: a single-type pool takes one type")
		}
		c.InstanceType = u.InstanceTypes[0]
	}
	return c, nil
}

// UserData returns the raw user-data of the pool's latest launch template
// version: what the next instance boots with.
func (p *Provisioner) UserData(ctx context.Context, name string) ([]byte, error) {
	pl, err := p.Get(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("read user-data: %w", err)
	}
	t, err := p.cloud.DescribeLaunchTemplate(ctx, pl.LaunchTemplate)
	if err != nil {
		return nil, fmt.Errorf("read user-data of pool %s: describe launch template %s: %w", name, pl.LaunchTemplate, err)
	}
	return t.UserData, nil
}

// ErrNoJoinToken is wrapped when a pool's user-data carries no bootstrap
// token (user-data kelp did not render, or an identity pool, whatever its
// user-data holds): there is nothing to rotate.
var ErrNoJoinToken = errors.New("user-data carries no bootstrap token")

// JoinToken returns the ID of the bootstrap token in the pool's latest
// user-data, or an error wrapping ErrNoJoinToken (always for an identity
// pool).
func (p *Provisioner) JoinToken(ctx context.Context, name string) (string, error) {
	data, err := p.tokenUserData(ctx, name)
	if err != nil {
		return "", err
	}
	token, err := joinToken(data)
	if err != nil {
		return "", fmt.Errorf("pool %s: %w", name, err)
	}
	id, _, _ := strings.Cut(token, ".")
	return id, nil
}

// tokenUserData is the pool's latest user-data, or ErrNoJoinToken for a
// pool that joins by identity: token rotation never writes a token into
// one.
func (p *Provisioner) tokenUserData(ctx context.Context, name string) ([]byte, error) {
	pl, err := p.Get(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("read user-data: %w", err)
	}
	if pl.Join != JoinModeToken {
		return nil, fmt.Errorf("pool %s joins by %s: %w", name, pl.Join, ErrNoJoinToken)
	}
	t, err := p.cloud.DescribeLaunchTemplate(ctx, pl.LaunchTemplate)
	if err != nil {
		return nil, fmt.Errorf("read user-data of pool %s: describe launch template %s: %w", name, pl.LaunchTemplate, err)
	}
	return t.UserData, nil
}

func joinToken(data []byte) (string, error) {
	doc, err := userdata.Decode(data)
	if err != nil {
		return "", fmt.Errorf("decode user-data: %w", err)
	}
	_, token, err := userdata.BootstrapToken(doc)
	if errors.Is(err, userdata.ErrNoBootstrapToken) {
		return "", fmt.Errorf("%w: %w", ErrNoJoinToken, err)
	}
	return token, err
}

// RotateToken replaces the bootstrap token in the pool's user-data with a
// fresh one issued for spec (its Pool is set to name) and writes it as a
// new launch template version, so instances launched from now on join
// with it. The rest of the user-data is kept. A pool whose user-data
// carries no token, or that joins by identity, is ErrNoJoinToken. The old
// token is the caller's to expire.
func (p *Provisioner) RotateToken(ctx context.Context, name string, spec bootstrap.TokenSpec) (bootstrap.Token, error) {
	if p.tokens == nil {
		return bootstrap.Token{}, fmt.Errorf("rotate token of pool %s: the provisioner has no token issuer", name)
	}
	data, err := p.tokenUserData(ctx, name)
	if err != nil {
		return bootstrap.Token{}, fmt.Errorf("rotate token of pool %s: %w", name, err)
	}
	if _, err := joinToken(data); err != nil {
		return bootstrap.Token{}, fmt.Errorf("rotate token of pool %s: %w", name, err)
	}
	spec.Pool = name
	fresh, err := p.tokens.IssueToken(ctx, spec)
	if err != nil {
		return bootstrap.Token{}, fmt.Errorf("rotate token of pool %s: %w", name, err)
	}
	out, err := userdata.ReplaceBootstrapToken(data, fresh.String())
	if err != nil {
		return bootstrap.Token{}, fmt.Errorf("rotate token of pool %s: %w", name, err)
	}
	if _, err := p.update(ctx, name, Update{UserData: out.Data}); err != nil {
		// The new template version may exist even so: the fresh token keeps
		// its full lifetime, and the next pass sees which one is in use.
		return bootstrap.Token{}, err
	}
	return fresh, nil
}
