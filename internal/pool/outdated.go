package pool

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/kelp-dev/kelp/internal/cloud"
	"github.com/kelp-dev/kelp/internal/userdata"
)

// Outdated nodes: an instance is outdated when the launch template version
// it was launched from differs from the pool's current one in anything
// but the bootstrap token in the user-data. Token rotation writes a new
// version for every rotation, so version numbers alone would call every
// node outdated; the data of the two versions is compared instead (Drift).

// Drift reasons: what differs between an instance's launch template
// version and the pool's current one.
const (
	DriftImage        = "image"
	DriftInstanceType = "instance type"
	DriftUserData     = "user-data"
	DriftSettings     = "launch template settings"
	// DriftNotInPool: a mixed pool's instance of a type the pool no longer
	// launches.
	DriftNotInPool = "instance type not in the pool"
	// DriftUnknown: the instance's launch template version is unknown (a
	// launch configuration, or a version since deleted).
	DriftUnknown = "unknown launch template version"
)

// tokenPlaceholder stands for every bootstrap token when user-data is
// compared.
const tokenPlaceholder = "000000.0000000000000000"

// Drift returns what differs between have, the data of the version an
// instance was launched from, and want, the pool's current version, in
// the order image, instance type, user-data, settings; "" when nothing
// does but the bootstrap token in the user-data. User-data is compared
// with its token replaced only when it is a document token rotation
// reproduces byte for byte (kelp's #cloud-config with a bootstrap
// kubeconfig); any other user-data must be equal.
func Drift(have, want TemplateVersion) string {
	switch {
	case have.ImageID != want.ImageID:
		return DriftImage
	case have.InstanceType != want.InstanceType:
		return DriftInstanceType
	case !sameUserData(have.UserData, want.UserData):
		return DriftUserData
	case have.Settings != want.Settings:
		return DriftSettings
	}
	return ""
}

// sameUserData reports whether a and b are equal but for their bootstrap
// tokens.
func sameUserData(a, b []byte) bool {
	if bytes.Equal(a, b) {
		return true
	}
	na, okA := userDataSansToken(a)
	nb, okB := userDataSansToken(b)
	return okA && okB && bytes.Equal(na, nb)
}

// userDataSansToken returns data's document with its bootstrap token
// replaced by tokenPlaceholder. ok is false unless data carries a token
// and replacing it by itself gives data back: only then does the
// replacement keep everything else (it re-encodes the document, dropping
// what kelp's decoder does not know).
func userDataSansToken(data []byte) ([]byte, bool) {
	doc, err := userdata.Decode(data)
	if err != nil {
		return nil, false
	}
	_, token, err := userdata.BootstrapToken(doc)
	if err != nil {
		return nil, false
	}
	same, err := userdata.ReplaceBootstrapToken(data, token)
	if err != nil || !bytes.Equal(same.Data, data) {
		return nil, false
	}
	out, err := userdata.ReplaceBootstrapToken(data, tokenPlaceholder)
	if err != nil {
		return nil, false
	}
	return out.Document, true
}

// OutdatedInput is what OutdatedMembers decides on, read from the cloud.
type OutdatedInput struct {
	Members []Member
	// Current is the data of the version the pool launches now.
	Current TemplateVersion
	// Versions holds the data of each member's version; a member whose
	// version is missing is DriftUnknown.
	Versions map[TemplateRef]TemplateVersion
	// InstanceTypes are a mixed pool's types (empty for a single-type
	// pool, whose type is the template's).
	InstanceTypes []string
}

// OutdatedMembers returns the reason each outdated member is outdated, by
// instance ID. Members leaving their group (Terminating*, Detaching,
// Detached) are not counted: they are on their way out.
func OutdatedMembers(in OutdatedInput) map[string]string {
	out := map[string]string{}
	for _, m := range in.Members {
		if leaving(m.LifecycleState) {
			continue
		}
		if m.Template == nil {
			out[m.ID] = DriftUnknown
			continue
		}
		have, ok := in.Versions[*m.Template]
		if !ok {
			out[m.ID] = DriftUnknown
			continue
		}
		if d := Drift(have, in.Current); d != "" {
			out[m.ID] = d
		} else if len(in.InstanceTypes) > 0 && m.InstanceType != "" && !slices.Contains(in.InstanceTypes, m.InstanceType) {
			out[m.ID] = DriftNotInPool
		}
	}
	return out
}

// leaving reports whether an Auto Scaling lifecycle state is on the way
// out of the group.
func leaving(state string) bool {
	return strings.HasPrefix(state, "Terminat") || strings.HasPrefix(state, "Detach")
}

// outdated reads the launch template versions of the pool's members (each
// numbered one once per provisioner, through the adapter's cache) and
// returns its outdated members with their reasons. A member whose version
// no longer exists is DriftUnknown; a group without a launch template has
// none (nil).
func (p *Provisioner) outdated(ctx context.Context, pl Pool) (map[string]string, error) {
	if pl.LaunchTemplate == "" {
		return nil, nil // a launch configuration: nothing to compare
	}
	current, err := p.cloud.DescribeTemplateVersion(ctx, TemplateRef{Name: pl.LaunchTemplate, Version: pl.LaunchTemplateVersion})
	if err != nil {
		return nil, fmt.Errorf("pool %s: read its launch template's current version: %w", pl.Name, err)
	}
	in := OutdatedInput{Members: pl.Members, Current: current, Versions: map[TemplateRef]TemplateVersion{}, InstanceTypes: pl.InstanceTypes}
	for _, m := range pl.Members {
		if m.Template == nil || leaving(m.LifecycleState) {
			continue
		}
		if _, done := in.Versions[*m.Template]; done {
			continue
		}
		v, err := p.cloud.DescribeTemplateVersion(ctx, *m.Template)
		if errors.Is(err, cloud.ErrNotFound) {
			continue // deleted: the member is DriftUnknown
		}
		if err != nil {
			return nil, fmt.Errorf("pool %s: read the launch template version of instance %s: %w", pl.Name, m.ID, err)
		}
		in.Versions[*m.Template] = v
	}
	return OutdatedMembers(in), nil
}
