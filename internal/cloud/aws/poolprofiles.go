package aws

import (
	"context"
	"strings"
)

// ProfileRoles implements pool.CloudReader: the role names of the
// instance profile a pool's launch template names (a name, or an ARN
// whose last path element is the name), through iam:GetInstanceProfile,
// uncached. A profile that does not exist wraps cloud.ErrNotFound.
func (p *Provider) ProfileRoles(ctx context.Context, profile string) ([]string, error) {
	if strings.HasPrefix(profile, "arn:") {
		return p.profileRoles(ctx, profile)
	}
	return p.namedProfileRoles(ctx, profile)
}
